import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createCa, createSelfSigned, issueCertificate, sha256Thumbprint, tlsOptions } from './issue.ts';
import type { IssuedCertificate } from './issue.ts';

const execFileAsync = promisify(execFile);
const DAY_MS = 24 * 60 * 60 * 1000;

async function openssl(...args: string[]): Promise<string> {
  const { stdout, stderr } = await execFileAsync('openssl', args);
  return stdout + stderr;
}

describe('issue', () => {
  let dir: string;
  let root: IssuedCertificate;
  let intermediate: IssuedCertificate;
  let client: IssuedCertificate;
  const files: Record<string, string> = {};

  const write = async (name: string, pem: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, pem);
    files[name] = path;
    return path;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certgate-issue-'));
    root = await createCa({ commonName: 'Issue Test Root' });
    intermediate = await issueCertificate({ issuer: root, commonName: 'Issue Test Intermediate', kind: 'intermediate' });
    client = await issueCertificate({ issuer: intermediate, commonName: 'client one', kind: 'client' });
    await write('root.pem', root.certPem);
    await write('intermediate.pem', intermediate.certPem);
    await write('client.pem', client.certPem);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a root CA is self-signed, critical CA:TRUE with keyCertSign and cRLSign, valid ten years', async () => {
    assert.equal(root.certificate.ca, true);
    assert.equal(root.certificate.subject, 'CN=Issue Test Root');
    assert.equal(root.certificate.issuer, root.certificate.subject);
    assert.equal(root.chainPem, '');
    assert.equal(root.certificate.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.match(root.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const text = await openssl('x509', '-in', files['root.pem']!, '-noout', '-text');
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE\n/);
    assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    assert.match(text, /Subject Key Identifier/);
    const days = (root.certificate.validToDate.getTime() - root.certificate.validFromDate.getTime()) / DAY_MS;
    assert.equal(days, 3650);
    assert.match(await openssl('verify', '-CAfile', files['root.pem']!, files['root.pem']!), /: OK/);
  });

  test('a leaf issued by an intermediate verifies with openssl and carries the intermediate as its chain', async () => {
    assert.match(
      await openssl('verify', '-CAfile', files['root.pem']!, '-untrusted', files['intermediate.pem']!, files['client.pem']!),
      /client\.pem: OK/,
    );
    assert.equal(client.chainPem, intermediate.certPem);
    assert.equal(intermediate.chainPem, '');
    assert.deepEqual(tlsOptions(client), { cert: client.certPem + intermediate.certPem, key: client.keyPem });
    assert.equal(client.certificate.checkIssued(intermediate.certificate), true);

    const intermediateText = await openssl('x509', '-in', files['intermediate.pem']!, '-noout', '-text');
    assert.match(intermediateText, /Basic Constraints: critical\s+CA:TRUE, pathlen:0\n/);
    assert.match(intermediateText, /Key Usage: critical\s+Certificate Sign, CRL Sign\n/);

    const clientText = await openssl('x509', '-in', files['client.pem']!, '-noout', '-text');
    assert.match(clientText, /Basic Constraints: critical\s+CA:FALSE\n/);
    assert.match(clientText, /Key Usage: critical\s+Digital Signature\n/);
    assert.match(clientText, /Extended Key Usage: \s+TLS Web Client Authentication\n/);
    assert.match(clientText, /Authority Key Identifier/);
    const days = (client.certificate.validToDate.getTime() - client.certificate.validFromDate.getTime()) / DAY_MS;
    assert.equal(days, 397);
  });

  test('serial numbers are random, positive and 16 bytes long', async () => {
    const other = await issueCertificate({ issuer: intermediate, commonName: 'client one', kind: 'client' });
    for (const serial of [root, intermediate, client, other].map((c) => c.certificate.serialNumber)) {
      assert.match(serial, /^[4-7][0-9A-F]{31}$/);
    }
    assert.notEqual(other.certificate.serialNumber, client.certificate.serialNumber);
  });

  test('a server certificate carries serverAuth and DNS, IP, URI and email SANs', async () => {
    const server = await issueCertificate({
      issuer: root,
      commonName: 'app.example.test',
      kind: 'server',
      dnsNames: ['app.example.test', '*.env.example.test'],
      ipAddresses: ['127.0.0.1', '::1'],
      uris: ['spiffe://example.test/app'],
      emails: ['ops@example.test'],
    });
    const text = await openssl('x509', '-in', await write('server.pem', server.certPem), '-noout', '-text');
    assert.match(text, /Extended Key Usage: \s+TLS Web Server Authentication\n/);
    assert.match(
      text,
      /DNS:app\.example\.test, DNS:\*\.env\.example\.test, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, URI:spiffe:\/\/example\.test\/app, email:ops@example\.test/,
    );
    assert.equal(server.certificate.checkHost('x.env.example.test'), '*.env.example.test');
    assert.equal(server.certificate.checkIP('::1'), '::1');
    assert.equal(server.chainPem, '');
    await assert.rejects(
      issueCertificate({ issuer: root, commonName: 'x', kind: 'server', ipAddresses: ['localhost'] }),
      /not an IP address: localhost/,
    );
  });

  test('extendedKeyUsages replaces the EKU of the kind, and [] leaves it out', async () => {
    const wrongEku = await issueCertificate({
      issuer: intermediate,
      commonName: 'server-only client',
      kind: 'client',
      extendedKeyUsages: ['serverAuth'],
    });
    const wrongText = await openssl('x509', '-in', await write('wrong-eku.pem', wrongEku.certPem), '-noout', '-text');
    assert.match(wrongText, /Extended Key Usage: \s+TLS Web Server Authentication\n/);
    assert.doesNotMatch(wrongText, /Client Authentication/);

    const anyUsage = await issueCertificate({ issuer: root, commonName: 'any', kind: 'client', extendedKeyUsages: [] });
    const anyText = await openssl('x509', '-in', await write('any.pem', anyUsage.certPem), '-noout', '-text');
    assert.doesNotMatch(anyText, /Extended Key Usage/);

    const byOid = await issueCertificate({
      issuer: root,
      commonName: 'oid',
      kind: 'client',
      extendedKeyUsages: ['clientAuth', '1.3.6.1.5.5.7.3.4'],
    });
    const oidText = await openssl('x509', '-in', await write('oid.pem', byOid.certPem), '-noout', '-text');
    assert.match(oidText, /TLS Web Client Authentication, E-mail Protection/);
    await assert.rejects(
      issueCertificate({ issuer: root, commonName: 'x', kind: 'client', extendedKeyUsages: ['nope'] }),
      /unknown extended key usage: nope/,
    );
  });

  test('a self-signed client certificate verifies against itself and is not a CA', async () => {
    const self = await createSelfSigned({ commonName: 'lonely client', kind: 'client', dnsNames: ['lonely.test'] });
    assert.equal(self.certificate.ca, false);
    assert.equal(self.certificate.issuer, 'CN=lonely client');
    assert.equal(self.chainPem, '');
    const path = await write('self.pem', self.certPem);
    assert.match(await openssl('verify', '-CAfile', path, path), /self\.pem: OK/);
    const text = await openssl('x509', '-in', path, '-noout', '-text');
    assert.match(text, /TLS Web Client Authentication/);
    assert.match(text, /DNS:lonely\.test/);
    await assert.rejects(
      issueCertificate({ issuer: self, commonName: 'x', kind: 'client' }),
      /is not a CA certificate/,
    );
  });

  test('validity can be set explicitly, e.g. to make an expired certificate', async () => {
    const notBefore = new Date(Date.now() - 30 * DAY_MS);
    const notAfter = new Date(Date.now() - DAY_MS);
    const expired = await issueCertificate({ issuer: root, commonName: 'expired', kind: 'client', notBefore, notAfter });
    assert.equal(expired.certificate.validFromDate.getTime(), Math.floor(notBefore.getTime() / 1000) * 1000);
    assert.equal(expired.certificate.validToDate.getTime(), Math.floor(notAfter.getTime() / 1000) * 1000);
    const path = await write('expired.pem', expired.certPem);
    await assert.rejects(openssl('verify', '-CAfile', files['root.pem']!, path), /certificate has expired/);

    const short = await issueCertificate({ issuer: root, commonName: 'short', kind: 'server', validityDays: 2 });
    assert.equal((short.certificate.validToDate.getTime() - short.certificate.validFromDate.getTime()) / DAY_MS, 2);
    await assert.rejects(
      issueCertificate({ issuer: root, commonName: 'x', kind: 'client', notBefore: notAfter, notAfter: notBefore }),
      { name: 'PkiError', code: 'ValidityInvalid' },
    );
  });

  test('RSA keys: an RSA CA signs with RSA, and RSA server certificates allow key encipherment', async () => {
    const rsaRoot = await createCa({ commonName: 'RSA root', keyType: 'rsa-2048', pathLength: 1 });
    const rsaServer = await issueCertificate({ issuer: rsaRoot, commonName: 'rsa', kind: 'server', keyType: 'rsa-3072' });
    const ecClient = await issueCertificate({ issuer: rsaRoot, commonName: 'ec', kind: 'client' });
    assert.equal(rsaRoot.certificate.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(rsaServer.certificate.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
    const rootPath = await write('rsa-root.pem', rsaRoot.certPem);
    const rootText = await openssl('x509', '-in', rootPath, '-noout', '-text');
    assert.match(rootText, /CA:TRUE, pathlen:1/);
    assert.match(rootText, /Signature Algorithm: sha256WithRSAEncryption/);
    const serverText = await openssl('x509', '-in', await write('rsa-server.pem', rsaServer.certPem), '-noout', '-text');
    assert.match(serverText, /Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    const clientPath = await write('ec-client.pem', ecClient.certPem);
    assert.match(await openssl('x509', '-in', clientPath, '-noout', '-text'), /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(await openssl('verify', '-CAfile', rootPath, clientPath), /: OK/);
  });

  test('an issuer made by openssl (P-384, multi-attribute name) signs certificates that verify', async () => {
    const certPath = join(dir, 'openssl-ca.pem');
    const keyPath = join(dir, 'openssl-ca.key');
    await openssl(
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-days', '30',
      '-subj', '/C=NL/O=Example, Inc./CN=OpenSSL CA', '-keyout', keyPath, '-out', certPath,
    );
    const certPem = await readFile(certPath, 'utf8');
    const issuer = { certPem, keyPem: await readFile(keyPath, 'utf8'), chainPem: '', certificate: new X509Certificate(certPem) };
    const leaf = await issueCertificate({ issuer, commonName: 'from openssl ca', kind: 'client' });
    assert.equal(leaf.certificate.issuer, issuer.certificate.subject);
    const leafPath = await write('from-openssl-ca.pem', leaf.certPem);
    assert.match(await openssl('verify', '-CAfile', certPath, leafPath), /: OK/);
    assert.match(await openssl('x509', '-in', leafPath, '-noout', '-text'), /Signature Algorithm: ecdsa-with-SHA384/);
  });

  test('sha256Thumbprint matches openssl -fingerprint -sha256 for PEM and DER input', async () => {
    for (const name of ['root.pem', 'intermediate.pem', 'client.pem']) {
      const output = await openssl('x509', '-in', files[name]!, '-noout', '-fingerprint', '-sha256');
      const expected = output.trim().replace(/^.*Fingerprint=/, '').replaceAll(':', '').toLowerCase();
      const pem = { 'root.pem': root, 'intermediate.pem': intermediate, 'client.pem': client }[name]!.certPem;
      assert.equal(sha256Thumbprint(pem), expected);
    }
    assert.equal(sha256Thumbprint(new Uint8Array(client.certificate.raw)), sha256Thumbprint(client.certPem));
    assert.match(sha256Thumbprint(client.certPem), /^[0-9a-f]{64}$/);
  });
});
