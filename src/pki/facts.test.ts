// The one certificate reader (node:crypto + pkijs) against @peculiar/x509, the reader the CLI used
// before: the same key usages, extended key usages, SANs, path length and names for what
// certgate issues, so `cert show` prints what it printed.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createCa, issueCertificate } from './issue.ts';
import type { IssuedCertificate } from './issue.ts';
import { allowsPurpose, describeCertificate, extendedKeyUsageNames, keyTypeOf, keyUsageNames, sha1Thumbprint } from './facts.ts';
import type { CertificateInfo } from './facts.ts';
import { createHash } from 'node:crypto';

function facts(issued: IssuedCertificate): CertificateInfo {
  const info = describeCertificate(issued.certificate);
  assert.ok(typeof info !== 'string', String(info));
  return info;
}

function oracle(issued: IssuedCertificate) {
  const parsed = new x509.X509Certificate(new Uint8Array(issued.certificate.raw));
  const names = parsed.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
  const of = (type: string) => names.filter((name) => name.type === type).map((name) => name.value);
  const flags = parsed.getExtension(x509.KeyUsagesExtension)?.usages;
  const ekuNames = new Map<string, string>(Object.entries(x509.ExtendedKeyUsage).map(([name, oid]) => [oid, name]));
  return {
    subject: parsed.subject,
    issuer: parsed.issuer,
    pathLength: parsed.getExtension(x509.BasicConstraintsExtension)?.pathLength,
    keyUsages: flags === undefined ? [] : Object.entries(x509.KeyUsageFlags).filter((entry): entry is [string, number] => typeof entry[1] === 'number' && (flags & entry[1]) !== 0).map(([name]) => name),
    extendedKeyUsages: [...(parsed.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])].map(String).map((oid) => ekuNames.get(oid) ?? oid),
    dns: of('dns'),
    ip: of('ip'),
    uri: of('url'),
    email: of('email'),
  };
}

describe('certificate facts', () => {
  const made: Record<string, IssuedCertificate> = {};
  before(async () => {
    made.root = await createCa({ commonName: 'Facts Root', pathLength: 2 });
    made.int = await issueCertificate({ issuer: made.root, commonName: 'Facts Int', kind: 'intermediate', pathLength: 1, extendedKeyUsages: ['serverAuth'] });
    made.server = await issueCertificate({ issuer: made.int, commonName: 'api', kind: 'server', keyType: 'rsa-2048', dnsNames: ['api.example.com', '*.example.org'], ipAddresses: ['127.0.0.1', '::1', '2001:db8:0:0:0:0:0:1'] });
    made.client = await issueCertificate({ issuer: made.root, commonName: 'device-42', kind: 'client', uris: ['spiffe://example.org/w'], emails: ['ops@example.com'] });
  });

  it('match @peculiar/x509 for names, SANs, key usages, extended key usages and path length', () => {
    for (const [name, issued] of Object.entries(made)) {
      const info = facts(issued);
      const expected = oracle(issued);
      assert.equal(info.subject, expected.subject, name);
      assert.equal(info.issuer, expected.issuer, name);
      assert.equal(info.basicConstraints?.pathLength, expected.pathLength, name);
      assert.deepEqual(keyUsageNames(info), expected.keyUsages, name);
      assert.deepEqual(extendedKeyUsageNames(info), expected.extendedKeyUsages, name);
      assert.deepEqual({ ...info.san }, { dns: expected.dns, ip: expected.ip, uri: expected.uri, email: expected.email }, name);
    }
  });

  it('thumbprints and key types as the CLI and the control plane print them', () => {
    const { certificate } = made.server!;
    assert.equal(sha1Thumbprint(certificate), createHash('sha1').update(certificate.raw).digest('hex').toUpperCase());
    assert.equal(facts(made.server!).fingerprint, createHash('sha256').update(certificate.raw).digest('hex'));
    assert.equal(keyTypeOf(certificate.publicKey), 'rsa-2048');
    assert.equal(keyTypeOf(made.client!.certificate.publicKey), 'ec-p256');
  });

  it('allowsPurpose: no EKU allows all; a restricted one only its purposes', () => {
    const int = facts(made.int!);
    assert.equal(allowsPurpose(int, 'serverAuth'), true);
    assert.equal(allowsPurpose(int, 'clientAuth'), false);
    assert.equal(allowsPurpose(int, 'any'), true);
    assert.equal(allowsPurpose(facts(made.root!), 'clientAuth'), true);
  });
});
