import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { makeCertificate } from '../../app-auth/testing.ts';
import { ConnectionVerdicts } from './verdicts.ts';
import { compileVerification } from './policy.ts';
import { TRUST_ANCHOR_TYPE } from '../../model/trust.ts';

// The verifier checks validity against the real clock: certificates valid around now.
const DAY = 86_400_000;
const valid = { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 30 * DAY) };
const root = await makeCertificate('CN=Verdict Root', valid);
const intermediate = await makeCertificate('CN=Verdict Intermediate', { ...valid, issuer: root, ca: true, pathLength: 0 });
const leaf = await makeCertificate('CN=client-1', { ...valid, issuer: intermediate, sans: [{ type: 'dns', value: 'client-1.tests.example' }, { type: 'url', value: 'spiffe://tests.example/client/1' }] });
const pki = { root, intermediate, leaf };
/** Without online revocation every decision is synchronous. */
const sync = <T extends object>(decision: T | Promise<T>): T => {
  assert.ok(!(decision instanceof Promise), 'decided synchronously');
  return decision as T;
};
const TEST_NOW = new Date();
const compiled = compileVerification({ clientCertificateTrustAnchors: ['root'] }, 'require', (id) => (id === 'root' ? { type: TRUST_ANCHOR_TYPE, der: pki.root.der } : undefined));
assert.ok(compiled.ok && compiled.verification);
const verification = compiled.verification;
const chainOf = (...certificates: { der: Uint8Array }[]) => {
  const chain = certificates.map((c) => new X509Certificate(c.der));
  return { chain, key: chain.map((c) => c.raw.toString('latin1')).join('') };
};

test('once per chain: a repeat client gets the same decision object; apps without verification get UNVERIFIED or NONE', () => {
  const verdicts = new ConnectionVerdicts(8, () => TEST_NOW.getTime());
  const { chain, key } = chainOf(pki.leaf, pki.intermediate);
  const first = sync(verdicts.decide(verification, chain, key));
  assert.equal(first.verdict.code, 'OK');
  assert.equal(first.verdict.thumbprint, pki.leaf.thumbprint);
  assert.deepEqual(first.verdict.sans, ['dns:client-1.tests.example', 'uri:spiffe://tests.example/client/1']);
  assert.equal(sync(verdicts.decide(verification, chain, key)), first);
  assert.equal(sync(verdicts.decide(undefined, chain, key)).verdict.code, 'UNVERIFIED');
  assert.equal(sync(verdicts.decide(undefined, [], '')).verdict.code, 'NONE');
  const none = sync(verdicts.decide(verification, [], ''));
  assert.equal(none.refused, false, 'verify if given');
  assert.ok(none.headers?.includes('x-certgate-client-verdict'));
});

test('bounded: a client with a new certificate on every connection never grows the cache past its capacity', async () => {
  const verdicts = new ConnectionVerdicts(4, () => TEST_NOW.getTime());
  for (let i = 0; i < 12; i++) {
    const { chain, key } = chainOf(await makeCertificate(`CN=c${i}`, { ...valid, issuer: pki.intermediate }), pki.intermediate);
    assert.equal(sync(verdicts.decide(verification, chain, key)).verdict.code, 'OK');
  }
  assert.ok(verdicts.size <= 4, String(verdicts.size));
});

test("only a resumed session borrows the chain the leaf first came with", () => {
  const verdicts = new ConnectionVerdicts(8, () => TEST_NOW.getTime());
  const full = chainOf(pki.leaf, pki.intermediate);
  const alone = chainOf(pki.leaf);
  assert.equal(sync(verdicts.decide(verification, alone.chain, alone.key)).verdict.code, 'UNTRUSTED_ISSUER', 'never seen with its chain');
  assert.equal(sync(verdicts.decide(verification, full.chain, full.key)).verdict.code, 'OK');
  assert.equal(sync(verdicts.decide(verification, alone.chain, alone.key)).verdict.code, 'UNTRUSTED_ISSUER', 'a fresh handshake is judged on what it sent');
  assert.equal(sync(verdicts.decide(verification, alone.chain, alone.key, true)).verdict.code, 'OK');
});
