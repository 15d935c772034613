import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createCa, issueCertificate } from './issue.ts';
import type { IssuedCertificate } from './issue.ts';
import { certificatesInPem, certificatesToPem, derToPem, pemBlocks, singlePemDer, splitPemBundle } from './pem.ts';

describe('PEM', () => {
  let ca: IssuedCertificate;
  let leaf: IssuedCertificate;
  before(async () => {
    ca = await createCa({ commonName: 'PEM CA' });
    leaf = await issueCertificate({ issuer: ca, commonName: 'pem-leaf', kind: 'client' });
  });

  it('derToPem writes what OpenSSL writes', () => {
    assert.equal(derToPem(leaf.certificate.raw), leaf.certificate.toString());
    assert.equal(certificatesToPem([leaf.certificate, ca.certificate]), leaf.certificate.toString() + ca.certificate.toString());
  });

  it('pemBlocks reads every block of a file, ignoring text around them, as openssl does', () => {
    const text = `Bag Attributes: x\n${leaf.certPem}comment\n${leaf.keyPem}${ca.certPem}`;
    assert.deepEqual(pemBlocks(text).map((block) => block.label), ['CERTIFICATE', 'PRIVATE KEY', 'CERTIFICATE']);
    assert.deepEqual(certificatesInPem(text).map((cert) => cert.subject), ['CN=pem-leaf', 'CN=PEM CA']);
  });

  it('splitPemBundle accepts only CERTIFICATE blocks separated by whitespace', () => {
    assert.deepEqual(splitPemBundle(`\n${leaf.certPem}\r\n${ca.certPem}`), [leaf.certPem, ca.certPem]);
    assert.equal(splitPemBundle(`${leaf.certPem}x${ca.certPem}`), undefined);
    assert.equal(splitPemBundle(`${leaf.certPem}${leaf.keyPem}`), undefined);
    assert.equal(splitPemBundle(leaf.certPem.slice(0, -30)), undefined);
    assert.equal(splitPemBundle(''), undefined);
  });

  it('singlePemDer: exactly one block with an expected label and a base64 body', () => {
    assert.deepEqual(singlePemDer(` ${leaf.certPem}\n`, ['CERTIFICATE']), Buffer.from(leaf.certificate.raw));
    assert.equal(singlePemDer(leaf.certPem + ca.certPem, ['CERTIFICATE']), undefined);
    assert.equal(singlePemDer(leaf.certPem, ['X509 CRL']), undefined);
    assert.equal(singlePemDer(`junk${leaf.certPem}`, ['CERTIFICATE']), undefined);
    assert.equal(singlePemDer('-----BEGIN CRL-----\n%%%%\n-----END CRL-----\n', ['CRL']), undefined);
  });
});
