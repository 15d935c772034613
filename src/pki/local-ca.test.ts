import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, createServer } from 'node:tls';
import { createCa, issueCertificate, sha256Thumbprint } from './issue.ts';
import { caCertificatePath, loadOrCreateLocalCa, loadOrCreateServerCertificate } from './local-ca.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const HOSTNAMES = ['*.env1.localtest', 'env1.localtest'];

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('local CA', () => {
  let root: string;
  let count = 0;
  const freshDataDir = async (): Promise<string> => {
    const dataDir = join(root, `data-${count++}`);
    await mkdir(dataDir);
    return dataDir;
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'certgate-local-ca-'));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('is created once, private, and reused afterwards', async () => {
    const dataDir = await freshDataDir();
    const created = await loadOrCreateLocalCa(dataDir);
    assert.equal(created.certificate.subject, 'CN=certgate local CA');
    assert.equal(created.certificate.ca, true);
    assert.equal(created.certificate.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(caCertificatePath(dataDir), join(dataDir, 'ca', 'ca.pem'));
    assert.equal(await readFile(caCertificatePath(dataDir), 'utf8'), created.certPem);
    assert.equal(await mode(join(dataDir, 'ca')), 0o700);
    assert.equal(await mode(join(dataDir, 'ca', 'ca.key')), 0o600);
    assert.deepEqual((await readdir(join(dataDir, 'ca'))).sort(), ['ca.key', 'ca.pem']);
    assert.deepEqual(await readdir(dataDir), ['ca']);

    const reused = await loadOrCreateLocalCa(dataDir);
    assert.equal(sha256Thumbprint(reused.certPem), sha256Thumbprint(created.certPem));
    assert.equal(reused.keyPem, created.keyPem);
  });

  test('concurrent first calls agree on one CA', async () => {
    const dataDir = await freshDataDir();
    const results = await Promise.all([1, 2, 3].map(() => loadOrCreateLocalCa(dataDir)));
    const onDisk = sha256Thumbprint(await readFile(caCertificatePath(dataDir), 'utf8'));
    assert.deepEqual(
      results.map((ca) => sha256Thumbprint(ca.certPem)),
      [onDisk, onDisk, onDisk],
    );
    assert.deepEqual(await readdir(dataDir), ['ca']);
  });

  test('a corrupt or incomplete CA is an error naming the file, and is left as it is', async () => {
    const dataDir = await freshDataDir();
    await loadOrCreateLocalCa(dataDir);
    const certPath = caCertificatePath(dataDir);
    const keyPath = join(dataDir, 'ca', 'ca.key');
    const goodKey = await readFile(keyPath, 'utf8');

    await writeFile(certPath, 'not a certificate');
    await assert.rejects(loadOrCreateLocalCa(dataDir), (error: Error) => error.message.includes(certPath));
    assert.equal(await readFile(certPath, 'utf8'), 'not a certificate');

    const other = await createCa({ commonName: 'other' });
    await writeFile(certPath, other.certPem);
    await assert.rejects(loadOrCreateLocalCa(dataDir), new RegExp(`${keyPath} does not match ${certPath}`));

    await writeFile(keyPath, '-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n');
    await assert.rejects(loadOrCreateLocalCa(dataDir), (error: Error) => error.message.includes(keyPath));

    await unlink(keyPath);
    await assert.rejects(loadOrCreateLocalCa(dataDir), (error: Error) => error.message.includes(`${keyPath} is missing`));
    assert.equal(await readFile(certPath, 'utf8'), other.certPem);
    assert.notEqual(goodKey, '');
  });

  test('a server certificate is issued for the names, stored privately, reused, and serves TLS', async () => {
    const dataDir = await freshDataDir();
    const ca = await loadOrCreateLocalCa(dataDir);
    const issued = await loadOrCreateServerCertificate(dataDir, ca, HOSTNAMES);
    const certPath = join(dataDir, 'server-certs', 'wildcard.env1.localtest.pem');
    const keyPath = join(dataDir, 'server-certs', 'wildcard.env1.localtest.key');
    assert.equal(await readFile(certPath, 'utf8'), issued.certPem);
    assert.equal(await readFile(keyPath, 'utf8'), issued.keyPem);
    assert.equal(await mode(keyPath), 0o600);
    assert.equal(issued.certificate.subjectAltName, 'DNS:*.env1.localtest, DNS:env1.localtest');
    assert.equal(issued.certificate.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(issued.chainPem, '');

    // Names are compared case-insensitively and as a set; the first one names the files.
    const again = await loadOrCreateServerCertificate(dataDir, ca, ['*.ENV1.localtest', 'env1.localtest', 'env1.localtest']);
    assert.equal(sha256Thumbprint(again.certPem), sha256Thumbprint(issued.certPem));

    const server = createServer({ cert: issued.certPem, key: issued.keyPem }, (socket) => socket.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      for (const servername of ['app.env1.localtest', 'env1.localtest']) {
        const socket = connect({
          host: '127.0.0.1',
          port: (server.address() as AddressInfo).port,
          servername,
          ca: await readFile(caCertificatePath(dataDir), 'utf8'),
        });
        await once(socket, 'secureConnect');
        assert.equal(socket.authorized, true, servername);
        socket.destroy();
      }
    } finally {
      server.close();
    }
  });

  test('a server certificate is reissued when its names change', async () => {
    const dataDir = await freshDataDir();
    const ca = await loadOrCreateLocalCa(dataDir);
    const first = await loadOrCreateServerCertificate(dataDir, ca, HOSTNAMES);
    const second = await loadOrCreateServerCertificate(dataDir, ca, [...HOSTNAMES, '127.0.0.1', '::1']);
    assert.notEqual(sha256Thumbprint(second.certPem), sha256Thumbprint(first.certPem));
    assert.equal(
      second.certificate.subjectAltName,
      'DNS:*.env1.localtest, DNS:env1.localtest, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    const third = await loadOrCreateServerCertificate(dataDir, ca, [...HOSTNAMES, '127.0.0.1', '0:0::1']);
    assert.equal(sha256Thumbprint(third.certPem), sha256Thumbprint(second.certPem));
    const fourth = await loadOrCreateServerCertificate(dataDir, ca, ['*.env1.localtest']);
    assert.equal(fourth.certificate.subjectAltName, 'DNS:*.env1.localtest');
  });

  test('a server certificate is reissued when expiring, issued by another CA, mismatched or unreadable', async () => {
    const dataDir = await freshDataDir();
    const ca = await loadOrCreateLocalCa(dataDir);
    const certPath = join(dataDir, 'server-certs', 'wildcard.env1.localtest.pem');
    const keyPath = join(dataDir, 'server-certs', 'wildcard.env1.localtest.key');
    const current = async () => sha256Thumbprint(await readFile(certPath, 'utf8'));
    await loadOrCreateServerCertificate(dataDir, ca, HOSTNAMES);

    const expiring = await issueCertificate({
      issuer: ca,
      commonName: HOSTNAMES[0]!,
      kind: 'server',
      dnsNames: HOSTNAMES,
      notAfter: new Date(Date.now() + 10 * DAY_MS),
    });
    await writeFile(certPath, expiring.certPem);
    await writeFile(keyPath, expiring.keyPem);
    const renewed = await loadOrCreateServerCertificate(dataDir, ca, HOSTNAMES);
    assert.notEqual(sha256Thumbprint(renewed.certPem), sha256Thumbprint(expiring.certPem));
    assert.ok(renewed.certificate.validToDate.getTime() > Date.now() + 300 * DAY_MS);

    const foreignCa = await createCa({ commonName: 'someone else' });
    const foreign = await issueCertificate({ issuer: foreignCa, commonName: 'x', kind: 'server', dnsNames: HOSTNAMES });
    await writeFile(certPath, foreign.certPem);
    await writeFile(keyPath, foreign.keyPem);
    const fromOurCa = await loadOrCreateServerCertificate(dataDir, ca, HOSTNAMES);
    assert.equal(fromOurCa.certificate.checkIssued(ca.certificate), true);
    assert.equal(await current(), sha256Thumbprint(fromOurCa.certPem));

    await writeFile(keyPath, foreign.keyPem);
    const rematched = await loadOrCreateServerCertificate(dataDir, ca, HOSTNAMES);
    assert.notEqual(sha256Thumbprint(rematched.certPem), sha256Thumbprint(fromOurCa.certPem));

    await writeFile(certPath, 'garbage');
    const repaired = await loadOrCreateServerCertificate(dataDir, ca, HOSTNAMES);
    assert.equal(await current(), sha256Thumbprint(repaired.certPem));

    // Certificates issued by a new CA replace the old CA's ones.
    const otherDataDir = await freshDataDir();
    const otherCa = await loadOrCreateLocalCa(otherDataDir);
    const reissued = await loadOrCreateServerCertificate(dataDir, otherCa, HOSTNAMES);
    assert.equal(reissued.certificate.checkIssued(otherCa.certificate), true);
    assert.deepEqual(
      (await readdir(join(dataDir, 'server-certs'))).sort(),
      ['wildcard.env1.localtest.key', 'wildcard.env1.localtest.pem'],
    );
    await assert.rejects(loadOrCreateServerCertificate(dataDir, ca, []), /at least one hostname/);
  });
});
