import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createClientCertificateAuth } from './auth.ts';
import type { AuthDecision, PeerRequest } from './auth.ts';
import { createVerifier } from './verifier.ts';
import { makeChain, TEST_NOW, xfccFor } from './testing.ts';

let pki: Awaited<ReturnType<typeof makeChain>>;
before(async () => {
  pki = await makeChain();
});

function peer(remoteAddress: string | undefined, headers: PeerRequest['headers'] = {}): PeerRequest {
  return { headers, socket: { remoteAddress } };
}

function summary(decision: AuthDecision): string {
  return decision.action === 'reject' ? `${decision.status} ${decision.code}` : decision.action;
}

describe('createClientCertificateAuth', () => {
  const build = (options: Partial<Parameters<typeof createClientCertificateAuth>[0]> = {}) =>
    createClientCertificateAuth({
      verifier: { trustAnchors: [pki.root.pem], clock: () => TEST_NOW },
      trustedProxies: ['10.0.0.0/24', '::1'],
      ...options,
    });

  it('admits a verified certificate from a trusted proxy, IPv4, IPv4-mapped or IPv6', () => {
    const auth = build();
    for (const address of ['10.0.0.7', '::ffff:10.0.0.7', '::1']) {
      const decision = auth.authenticate(peer(address, xfccFor(pki.leaf, pki.intermediate)));
      assert.equal(summary(decision), 'allow', address);
      assert.equal(decision.action === 'allow' && decision.identity.thumbprint, pki.leaf.thumbprint);
    }
  });

  it('refuses the header from any other peer with 403, without reading it', () => {
    const auth = build();
    for (const address of ['10.0.1.7', '127.0.0.1', '::2', undefined]) {
      assert.equal(summary(auth.authenticate(peer(address, xfccFor(pki.leaf, pki.intermediate)))), '403 UNTRUSTED_PROXY', String(address));
    }
    // Garbage would be HEADER_MALFORMED if it were parsed.
    assert.equal(summary(auth.authenticate(peer('192.0.2.1', { 'X-Forwarded-Client-Cert': 'garbage' }))), '403 UNTRUSTED_PROXY');
    assert.equal(auth.verifier.stats().misses, 0, 'nothing was verified');
  });

  it('treats an untrusted peer without the header as unauthenticated', () => {
    assert.equal(summary(build().authenticate(peer('192.0.2.1'))), '401 CERT_MISSING');
    assert.equal(summary(build({ required: false }).authenticate(peer('192.0.2.1'))), 'anonymous');
  });

  it('answers 401 without a certificate, or lets the request through anonymously when not required', () => {
    assert.equal(summary(build().authenticate(peer('10.0.0.7'))), '401 CERT_MISSING');
    assert.equal(summary(build({ required: false }).authenticate(peer('10.0.0.7'))), 'anonymous');
  });

  it('answers 403 with the verification code', () => {
    const decision = build().authenticate(peer('10.0.0.7', xfccFor(pki.leaf)));
    assert.equal(summary(decision), '403 UNTRUSTED_ISSUER');
    // A refusal is a refusal even when certificates are optional.
    assert.equal(summary(build({ required: false }).authenticate(peer('10.0.0.7', xfccFor(pki.leaf)))), '403 UNTRUSTED_ISSUER');
  });

  it('watches every header of the configured formats for forgery, and only those', () => {
    const auth = build({ verifier: { trustAnchors: [pki.root.pem], clock: () => TEST_NOW, formats: ['rfc9440', 'arr'] } });
    for (const name of ['client-cert', 'Client-Cert-Chain', 'x-arr-clientcert']) {
      assert.equal(summary(auth.authenticate(peer('192.0.2.1', { [name]: 'x' }))), '403 UNTRUSTED_PROXY', name);
    }
    // Not a configured format: neither read from the proxy nor a sign of forgery.
    assert.equal(summary(auth.authenticate(peer('192.0.2.1', xfccFor(pki.leaf)))), '401 CERT_MISSING');
    assert.equal(summary(auth.authenticate(peer('10.0.0.7', xfccFor(pki.leaf, pki.intermediate)))), '401 CERT_MISSING');
  });

  it('accepts another proof of the proxy instead of addresses, and fails closed when it throws', () => {
    const viaSecret = createClientCertificateAuth({
      verifier: createVerifier({ trustAnchors: [pki.root.pem], clock: () => TEST_NOW }),
      isTrustedProxy: (request) => request.socket.remoteAddress === 'unix-socket',
    });
    assert.equal(summary(viaSecret.authenticate(peer('unix-socket', xfccFor(pki.leaf, pki.intermediate)))), 'allow');
    assert.equal(summary(viaSecret.authenticate(peer('10.0.0.7', xfccFor(pki.leaf, pki.intermediate)))), '403 UNTRUSTED_PROXY');
    const throwing = build({
      trustedProxies: undefined,
      isTrustedProxy: () => {
        throw new Error('boom');
      },
    });
    assert.equal(summary(throwing.authenticate(peer('10.0.0.7', xfccFor(pki.leaf, pki.intermediate)))), '403 UNTRUSTED_PROXY');
  });

  it('rejects bad configuration when built', () => {
    assert.throws(() => build({ trustedProxies: [] }), /trustedProxies: expected a non-empty array/);
    assert.throws(() => build({ trustedProxies: ['10.0.0.0/33'] }), /trustedProxies\[0\]: invalid prefix length/);
    assert.throws(() => build({ trustedProxies: ['10.0.0.1', 'proxy.internal'] }), /trustedProxies\[1\]: not an IP address/);
    assert.throws(() => build({ trustedProxies: ['10.0.0.0/8/1'] }), /trustedProxies\[0\]/);
    assert.throws(() => build({ isTrustedProxy: () => true }), /exactly one of trustedProxies/);
    assert.throws(() => build({ trustedProxies: undefined }), /exactly one of trustedProxies/);
    assert.throws(() => build({ required: 'yes' as unknown as boolean }), /required: expected a boolean/);
    assert.throws(() => createClientCertificateAuth({ verifier: {}, trustedProxies: ['::1'] }), /configure trustAnchors/);
    assert.throws(() => build({ trustedProxy: ['::1'] } as never), /unknown option "trustedProxy"/);
  });
});
