import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certificateGate } from './gate.ts';
import { normalizeRequestPath } from './path-rules.ts';
import type { CompiledVerification } from './policy.ts';

test('paths are compared after decoding unreserved escapes, resolving dot segments and collapsing slashes', () => {
  assert.equal(normalizeRequestPath('/%61dmin/x?y=1'), '/admin/x');
  assert.equal(normalizeRequestPath('/healthz/../admin'), '/admin');
  assert.equal(normalizeRequestPath('//healthz//'), '/healthz/');
  assert.equal(normalizeRequestPath('/%2e%2e/admin'), '/admin');
  assert.equal(normalizeRequestPath('/a%20b'), '/a%20b');
  for (const ambiguous of ['/healthz%2f..%2fadmin', '/healthz\\..\\admin', '/bad%zz', '/x%5C']) assert.equal(normalizeRequestPath(ambiguous), undefined, ambiguous);
});

test('exempt paths pass whatever the verdict; verified paths need OK; an ambiguous path is never exempt', () => {
  const verification = { key: 'k', verifier: undefined as never, fallback: true, revocationUntil: Infinity, revocationMode: 'HardFail', issuers: new Map(), paths: { exempt: ['/healthz', '/.well-known/'], verified: ['/'] } } satisfies CompiledVerification;
  const none = { verdict: { code: 'NONE' }, verificationRefused: false };
  const bad = { verdict: { code: 'CERT_EXPIRED' }, verificationRefused: true };
  const ok = { verdict: { code: 'OK' }, verificationRefused: false };
  assert.equal(certificateGate(verification, none, '/healthz'), undefined);
  assert.equal(certificateGate(verification, bad, '/.well-known/acme-challenge/x'), undefined);
  assert.deepEqual(certificateGate(verification, none, '/healthzX'), certificateGate(verification, none, '/api'), '/healthz is a segment, not a string prefix');
  assert.equal(certificateGate(verification, none, '/api')?.status, 401);
  assert.equal(certificateGate(verification, none, '/healthz/../api')?.reason, 'cert_missing');
  assert.equal(certificateGate(verification, none, '/healthz%2f..%2fapi')?.reason, 'cert_missing');
  assert.equal(certificateGate(verification, bad, '/api')?.reason, 'cert_expired');
  assert.equal(certificateGate(verification, bad, '/api')?.closeConnection, false, 'exempt paths stay reachable on the connection');
  assert.equal(certificateGate(verification, ok, '/api'), undefined);
  const plain = { ...verification, fallback: false, paths: undefined };
  assert.equal(certificateGate(plain, bad, '/healthz')?.closeConnection, true, 'without rules a refused connection can serve nothing');
  assert.equal(certificateGate(undefined, bad, '/'), undefined);
});
