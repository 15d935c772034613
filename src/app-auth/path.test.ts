// The one path builder with the purpose as its parameter: the app library asks for clientAuth,
// `certgate cert verify --purpose` for clientAuth, serverAuth or any.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createCa, issueCertificate } from '../pki/issue.ts';
import type { IssuedCertificate } from '../pki/issue.ts';
import { describeCertificate } from '../pki/facts.ts';
import type { CertificateInfo, Purpose } from '../pki/facts.ts';
import { buildPath, indexAnchors } from './path.ts';

function info(issued: IssuedCertificate): CertificateInfo {
  const described = describeCertificate(issued.certificate);
  assert.ok(typeof described !== 'string');
  return described;
}

describe('buildPath with a purpose', () => {
  let root: IssuedCertificate;
  let serverOnly: IssuedCertificate;
  let leaf: IssuedCertificate;
  before(async () => {
    root = await createCa({ commonName: 'Path Root' });
    serverOnly = await issueCertificate({ issuer: root, commonName: 'Server-only Int', kind: 'intermediate', extendedKeyUsages: ['serverAuth'] });
    leaf = await issueCertificate({ issuer: serverOnly, commonName: 'api', kind: 'server', dnsNames: ['api.example.com'] });
  });

  const build = (purpose: Purpose) =>
    buildPath(info(leaf), [serverOnly.certificate], {
      options: { ...indexAnchors([info(root)]), intermediates: [], crlsByIssuer: new Map(), requireCrl: false, allowExpiredCrl: false, maxPathLength: 8 },
      purpose,
      now: Date.now(),
      describe: describeCertificate,
      signedBy: (child, issuer) => child.certificate.verify(issuer.publicKey),
    });

  it('an intermediate restricted to serverAuth passes for serverAuth and any', () => {
    for (const purpose of ['serverAuth', 'any'] as const) {
      const built = build(purpose);
      assert.ok(built.ok, purpose);
      assert.deepEqual(built.path.map((certificate) => certificate.subject), ['CN=api', 'CN=Server-only Int', 'CN=Path Root']);
    }
  });

  it('and is refused for clientAuth, naming the purpose', () => {
    const built = build('clientAuth');
    assert.equal(built.ok, false);
    assert.ok(!built.ok);
    assert.equal(built.code, 'EKU_NOT_CLIENT_AUTH');
    assert.match(built.message, /"CN=Server-only Int" restricts its extended key usage and excludes clientAuth/);
  });

  it('an untrusted failure names the certificate without an issuer', () => {
    const built = buildPath(info(leaf), [], {
      options: { ...indexAnchors([info(root)]), intermediates: [], crlsByIssuer: new Map(), requireCrl: false, allowExpiredCrl: false, maxPathLength: 8 },
      purpose: 'any',
      now: Date.now(),
      describe: describeCertificate,
      signedBy: () => true,
    });
    assert.ok(!built.ok);
    assert.equal(built.code, 'UNTRUSTED_ISSUER');
    assert.equal(built.certificate?.subject, 'CN=api');
  });
});
