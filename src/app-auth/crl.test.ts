import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createVerifier } from './verifier.ts';
import type { VerifyResult } from './verifier.ts';
import type { VerifierOptions } from './options.ts';
import { makeChain, makeCertificate, makeCrl, TEST_NOW, xfccFor } from './testing.ts';
import type { TestCertificate } from './testing.ts';

const DAY = 24 * 60 * 60 * 1000;

function verify(options: VerifierOptions, ...chain: TestCertificate[]): VerifyResult {
  return createVerifier({ clock: () => TEST_NOW, cache: false, ...options }).verifyHeaders(xfccFor(...chain));
}

function codeOf(result: VerifyResult): string {
  return result.ok ? 'ok' : result.code;
}

const serialOf = (certificate: TestCertificate) => certificate.certificate.serialNumber;

let pki: Awaited<ReturnType<typeof makeChain>>;
before(async () => {
  pki = await makeChain();
});

describe('CRLs', () => {
  it('reads a CRL of 2,000 revocations (past the ASN.1 parser\'s default bound of 10,000 nodes)', async () => {
    const revoked = Array.from({ length: 2_000 }, (_, i) => ({ serialNumber: (0x200000 + i).toString(16) }));
    revoked.push({ serialNumber: serialOf(pki.leaf) });
    const crl = await makeCrl(pki.intermediate, { revoked });
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [crl] }, pki.leaf, pki.intermediate)), 'REVOKED');
  });
  it('refuses a revoked leaf and names the reason; other leaves pass', async () => {
    const crl = await makeCrl(pki.intermediate, { revoked: [{ serialNumber: serialOf(pki.leaf), reason: x509.X509CrlReason.keyCompromise }] });
    const result = verify({ trustAnchors: [pki.root.pem], crls: [crl] }, pki.leaf, pki.intermediate);
    assert.equal(codeOf(result), 'REVOKED');
    assert.match(result.ok ? '' : result.message, /keyCompromise/);
    const other = await makeCertificate('CN=other', { issuer: pki.intermediate });
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [crl] }, other, pki.intermediate)), 'ok');
  });

  it('refuses a path through a revoked intermediate (the root\'s CRL), DER or PEM', async () => {
    const pem = await makeCrl(pki.root, { revoked: [{ serialNumber: serialOf(pki.intermediate) }] });
    const der = new Uint8Array(new x509.X509Crl(pem).rawData);
    const plainLabel = pem.replace(/X509 CRL/g, 'CRL');
    for (const crl of [pem, der, plainLabel]) {
      assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [crl] }, pki.leaf, pki.intermediate)), 'REVOKED');
    }
  });

  it('refuses when a CRL is past its nextUpdate, unless allowExpiredCrl', async () => {
    const stale = await makeCrl(pki.intermediate, { thisUpdate: new Date(TEST_NOW.getTime() - 10 * DAY), nextUpdate: new Date(TEST_NOW.getTime() - DAY) });
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [stale] }, pki.leaf, pki.intermediate)), 'CRL_EXPIRED');
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [stale], allowExpiredCrl: true }, pki.leaf, pki.intermediate)), 'ok');
    // A newer CRL from the same issuer supersedes the stale one.
    const fresh = await makeCrl(pki.intermediate);
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [stale, fresh] }, pki.leaf, pki.intermediate)), 'ok');
  });

  it('refuses when the only CRL naming the issuer is not signed by the issuer\'s key', async () => {
    const impostor = await makeCertificate('CN=impostor', { ca: true });
    const forged = await makeCrl(pki.intermediate, { signingKeys: impostor.keys });
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [forged] }, pki.leaf, pki.intermediate)), 'CRL_INVALID');
  });

  it('refuses a CRL issued by a CA whose key usage excludes cRLSign', async () => {
    const noCrlSign = await makeCertificate('CN=No CRL Sign CA', { issuer: pki.root, ca: true, keyUsage: x509.KeyUsageFlags.keyCertSign });
    const leaf = await makeCertificate('CN=leaf of no crl sign', { issuer: noCrlSign });
    const crl = await makeCrl(noCrlSign);
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [crl] }, leaf, noCrlSign)), 'CRL_INVALID');
  });

  it('with requireCrl, refuses a path certificate no CRL covers', async () => {
    const leafCrl = await makeCrl(pki.intermediate);
    const intermediateCrl = await makeCrl(pki.root);
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [leafCrl], requireCrl: true }, pki.leaf, pki.intermediate)), 'CRL_MISSING');
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [leafCrl, intermediateCrl], requireCrl: true }, pki.leaf, pki.intermediate)), 'ok');
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [leafCrl] }, pki.leaf, pki.intermediate)), 'ok');
  });

  it('ignores a CRL not yet in force', async () => {
    const future = await makeCrl(pki.intermediate, {
      thisUpdate: new Date(TEST_NOW.getTime() + DAY),
      nextUpdate: new Date(TEST_NOW.getTime() + 8 * DAY),
      revoked: [{ serialNumber: serialOf(pki.leaf) }],
    });
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [future] }, pki.leaf, pki.intermediate)), 'ok');
    assert.equal(codeOf(verify({ trustAnchors: [pki.root.pem], crls: [future], requireCrl: true }, pki.leaf, pki.intermediate)), 'CRL_MISSING');
  });

  it('rejects at start-up what it cannot apply correctly', async () => {
    assert.throws(() => createVerifier({ trustAnchors: [pki.root.pem], crls: ['not a crl'] }), /crls\[0\]/);
    assert.throws(() => createVerifier({ trustAnchors: [pki.root.pem], crls: [new Uint8Array([1, 2, 3])] }), /crls\[0\]: not a CRL/);
    const delta = await makeCrl(pki.intermediate, { extensions: [new x509.Extension('2.5.29.27', true, new Uint8Array([0x02, 0x01, 0x01]))] });
    assert.throws(() => createVerifier({ trustAnchors: [pki.root.pem], crls: [delta] }), /delta CRLs are not supported/);
    const crl = await makeCrl(pki.intermediate);
    assert.throws(() => createVerifier({ allow: { thumbprints: [pki.leaf.thumbprint] }, crls: [crl] }), /need trustAnchors/);
  });
});
