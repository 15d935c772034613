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

test('online revocation: the decision lives no longer than the statuses it used; revoked refuses, unknown follows the mode', async () => {
  let now = Date.now();
  const states = new Map<string, 'good' | 'revoked' | 'unknown'>();
  let asked = 0;
  // The statuses as the checker would learn them (revocation/checker.ts does the fetching): each valid 5 s.
  const source = {
    status(certificate: X509Certificate) {
      asked++;
      return { state: states.get(certificate.subject) ?? 'good', until: now + 5_000, detail: 'test' } as const;
    },
  };
  const online = (mode: 'HardFail' | 'SoftFail', extra = {}) => {
    const result = compileVerification({ clientCertificateTrustAnchors: ['root'], clientCertificateOnlineRevocation: 'Crl', clientCertificateRevocationMode: mode, ...extra }, 'accept', (id) => (id === 'root' ? { type: TRUST_ANCHOR_TYPE, der: pki.root.der } : undefined));
    assert.ok(result.ok && result.verification);
    return result.verification;
  };
  const hard = online('HardFail');
  const verdicts = new ConnectionVerdicts(16, () => now, source);
  const { chain, key } = chainOf(pki.leaf, pki.intermediate);
  const first = sync(verdicts.decide(hard, chain, key));
  assert.equal(first.verdict.code, 'OK');
  assert.equal(first.verdict.revocation, 'good');
  assert.equal(asked, 2, 'the leaf and the intermediate');
  assert.ok(first.headers?.includes('x-certgate-client-cert-revocation'));
  states.set(pki.leaf.certificate.subject, 'revoked');
  now += 4_000;
  assert.equal(sync(verdicts.decide(hard, chain, key)), first, 'within the statuses\' validity: the cached decision');
  assert.equal(sync(verdicts.decide(hard, [chain[0]!], key.slice(0, chain[0]!.raw.length), true)).verdict.code, 'REVOKED', 'a resumed session is judged with the current status');
  now += 2_000;
  const after = sync(verdicts.decide(hard, chain, key));
  assert.equal(after.verdict.code, 'REVOKED', 'past the refresh the revocation applies');
  assert.equal(after.refused, true);
  states.set(pki.leaf.certificate.subject, 'unknown');
  now += 6_000;
  assert.equal(sync(verdicts.decide(hard, chain, key)).verdict.code, 'REVOCATION_UNKNOWN');
  const soft = sync(verdicts.decide(online('SoftFail'), chain, key));
  assert.equal(soft.verdict.code, 'OK');
  assert.equal(soft.verdict.revocation, 'unknown');
  assert.equal(soft.refused, false);
  const fallback = sync(verdicts.decide(online('HardFail', { clientCertificateValidationMode: 'AllowInsecureFallback' }), chain, key));
  assert.equal(fallback.verdict.code, 'REVOCATION_UNKNOWN');
  assert.equal(fallback.refused, false, 'insecure fallback: served with the verdict');
  const unchecked = new ConnectionVerdicts(16, () => now);
  assert.equal(sync(unchecked.decide(hard, chain, key)).verdict.code, 'REVOCATION_UNKNOWN', 'no checker: never silently unchecked');
});
