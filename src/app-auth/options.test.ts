import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createVerifier } from './verifier.ts';
import { makeCertificate, makeChain, TEST_NOW, xfccFor } from './testing.ts';

let pki: Awaited<ReturnType<typeof makeChain>>;
before(async () => {
  pki = await makeChain();
});

describe('createVerifier options', () => {
  it('takes anchors as PEM, PEM bundles, DER or X509Certificate', async () => {
    const headers = xfccFor(pki.leaf, pki.intermediate);
    const stranger = await makeCertificate('CN=stranger');
    for (const anchor of [pki.root.pem, stranger.pem + pki.root.pem, pki.root.der, new X509Certificate(pki.root.der)]) {
      assert.equal(createVerifier({ trustAnchors: [anchor], clock: () => TEST_NOW }).verifyHeaders(headers).ok, true);
    }
  });

  it('refuses to build a verifier that would admit anyone', () => {
    assert.throws(() => createVerifier({}), /configure trustAnchors, or pin certificates/);
    // Names are not proof: anyone can make a certificate with any subject or SAN.
    assert.throws(() => createVerifier({ allow: { subjects: ['CN=admin'] } }), /configure trustAnchors/);
    assert.throws(() => createVerifier({ allow: { sans: ['dns:admin.example'] } }), /configure trustAnchors/);
  });

  it('names the option at fault', async () => {
    const anchors = [pki.root.pem];
    const cases: [Parameters<typeof createVerifier>[0], RegExp][] = [
      [{ trustAnchor: anchors } as never, /unknown option "trustAnchor"/],
      [{ trustAnchors: ['not pem'] }, /trustAnchors\[0\]: not a sequence of CERTIFICATE PEM blocks/],
      [{ trustAnchors: [pki.root.pem, new Uint8Array([1, 2])] }, /trustAnchors\[1\]/],
      [{ trustAnchors: [42 as never] }, /trustAnchors\[0\]: expected PEM text/],
      [{ trustAnchors: anchors, intermediates: [pki.leaf.pem] }, /intermediates\[0\]: not a CA certificate/],
      [{ trustAnchors: anchors, allow: { thumbprints: ['abc'] } }, /allow\.thumbprints\[0\]: invalid value/],
      [{ trustAnchors: anchors, allow: { thumbprints: [] } }, /allow\.thumbprints: expected a non-empty array/],
      [{ trustAnchors: anchors, allow: { spkiSha256: ['sha256/short'] } }, /allow\.spkiSha256\[0\]/],
      [{ trustAnchors: anchors, allow: { subjects: ['admin'] } }, /allow\.subjects\[0\]/],
      [{ trustAnchors: anchors, allow: { sans: ['dns'] } }, /allow\.sans\[0\]/],
      [{ trustAnchors: anchors, allow: { sans: ['upn:x'] } }, /allow\.sans\[0\]: unknown name type/],
      [{ trustAnchors: anchors, allow: { sans: ['uri:spiffe://td*'] } }, /only as a final/],
      [{ trustAnchors: anchors, allow: { sans: ['ip:300.1.1.1'] } }, /not an IP address/],
      [{ trustAnchors: anchors, allow: { thumbprint: ['x'] } as never }, /allow: unknown list "thumbprint"/],
      [{ trustAnchors: anchors, formats: ['pem' as never] }, /formats\[0\]: unknown format "pem"/],
      [{ trustAnchors: anchors, formats: [] }, /formats: expected a non-empty array/],
      [{ trustAnchors: anchors, formats: ['nginx', { format: 'nginx', header: 'x-ssl-client-cert' }] }, /configured twice/],
      [{ trustAnchors: anchors, formats: [{ format: 'nginx', header: 'bad header' }] }, /invalid header name/],
      [{ trustAnchors: anchors, xfccElement: 'first' as never }, /xfccElement/],
      [{ trustAnchors: anchors, maxChainLength: 0 }, /maxChainLength/],
      [{ trustAnchors: anchors, maxPathLength: 1.5 }, /maxPathLength/],
      [{ trustAnchors: anchors, cache: { ttlMs: 0 } }, /cache\.ttlMs/],
      [{ trustAnchors: anchors, cache: { maxEntries: -1 } }, /cache\.maxEntries/],
      [{ trustAnchors: anchors, clock: 'now' as never }, /clock/],
      [{ trustAnchors: anchors, requireCrl: 1 as never }, /requireCrl/],
    ];
    for (const [options, message] of cases) assert.throws(() => createVerifier(options), message, String(message));
  });

  it('refuses an anchor with a critical extension it cannot honour', async () => {
    const constrained = await makeCertificate('CN=Constrained Root', { extensions: [new x509.Extension('2.5.29.30', true, new Uint8Array([0x30, 0x00]))] });
    assert.throws(() => createVerifier({ trustAnchors: [constrained.pem] }), /trustAnchors\[0\]: unsupported critical extension 2\.5\.29\.30/);
  });
});
