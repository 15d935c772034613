// Which app a connection reaches: default domains, custom domains with uploaded certificates,
// conflicts, and apps that come and go while connections are open.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { curl, curlResult, keepAliveConnection } from './support/clients.ts';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { exportPkcs12 } from '../src/pki/pkcs12.ts';
import { clientIdentities } from './support/vectors.ts';

let gw: TestGateway;
let echo: EchoApp;
let dir: string;
let caFile: string;
let customCaFile: string;
let ids: Awaited<ReturnType<typeof clientIdentities>>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-routing-'));
  ids = await clientIdentities(dir);
  echo = await startEchoApp();
  gw = await startTestGateway();
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, gw.caPem);
  await gw.createEnvironment('env1');
  await gw.createEnvironment('env2');
  // A custom domain's certificate comes from elsewhere (here: another CA) and is uploaded as PKCS12.
  const customCa = await createCa({ commonName: 'Custom Domains CA' });
  customCaFile = join(dir, 'custom-ca.pem');
  writeFileSync(customCaFile, customCa.certPem);
  const shop = await issueCertificate({ issuer: customCa, commonName: 'shop.example.test', kind: 'server', dnsNames: ['shop.example.test'] });
  const pfx = await exportPkcs12({ certPem: shop.certPem, keyPem: shop.keyPem, password: 'pfx-password' });
  const certificateId = await gw.putCertificate('env1', 'shop-cert', pfx, 'pfx-password');
  await gw.putApp('shop', 'env1', {
    targetPort: echo.port,
    clientCertificateMode: 'require',
    customDomains: [{ name: 'Shop.Example.Test', bindingType: 'SniEnabled', certificateId }],
  });
});

after(async () => {
  await gw?.close();
  await echo?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function servedCertificate(servername: string): Promise<{ subject: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      resolve({ subject: cert?.subject ?? '', issuer: cert?.issuer ?? '' });
    });
    socket.on('error', reject);
  });
}

test('a custom domain is served by SNI with its uploaded certificate and its app\'s policy', async () => {
  assert.match((await servedCertificate('shop.example.test')).subject, /CN=shop\.example\.test/);
  const refused = await curl({ host: 'shop.example.test', port: gw.httpsPort, caFile: customCaFile });
  assert.notEqual(refused.code, 0, 'require applies on the custom domain too');
  const served = await curl({ host: 'shop.example.test', port: gw.httpsPort, caFile: customCaFile, cert: ids.self.certFile, key: ids.self.keyFile });
  assert.equal(curlResult(served).status, 200, served.stderr);
  assert.equal(echo.received.at(-1)?.headers['x-forwarded-client-cert'], ids.self.expected);
  assert.equal(echo.received.at(-1)?.headers['host'], `shop.example.test:${gw.httpsPort}`);
});

test('the default domain of the same app still works, with the environment\'s wildcard certificate', async () => {
  const served = await servedCertificate('shop.env1.certgate.localhost');
  assert.match(served.subject, /CN=\*\.env1\.certgate\.localhost/);
  const result = await curl({ host: 'shop.env1.certgate.localhost', port: gw.httpsPort, caFile, cert: ids.self.certFile, key: ids.self.keyFile });
  assert.equal(curlResult(result).status, 200, result.stderr);
});

test('each environment has its own wildcard certificate and apps of the same name are distinct', async () => {
  const other = await startEchoApp((_req, res) => {
    res.end('env2');
    return true;
  });
  try {
    await gw.putApp('same', 'env1', { targetPort: echo.port });
    await gw.putApp('same2', 'env2', { targetPort: other.port });
    assert.match((await servedCertificate('same2.env2.certgate.localhost')).subject, /\*\.env2\.certgate\.localhost/);
    const result = await curl({ host: 'same2.env2.certgate.localhost', port: gw.httpsPort, caFile });
    assert.equal(curlResult(result).body, 'env2');
  } finally {
    await other.close();
  }
});

test('a host name claimed by two apps is served by one of them only, and the conflict is logged', async () => {
  // The control plane refuses a second claim (and a certificate of another environment): this store
  // is one it did not write, and the ingress must still serve the name to one app only.
  await gw.putUncheckedApp('squatter', 'env2', {
    targetPort: echo.port,
    clientCertificateMode: 'ignore',
    customDomains: [{ name: 'shop.example.test', bindingType: 'SniEnabled', certificateId: (await gw.gateway.store.list({ type: 'Microsoft.App/managedEnvironments/certificates' }))[0]!.id }],
  });
  // The first claim (by resource id order: "shop" < "squatter") keeps the name and its policy.
  const refused = await curl({ host: 'shop.example.test', port: gw.httpsPort, caFile: customCaFile });
  assert.notEqual(refused.code, 0, 'still require: the second claim did not take the name over');
  assert.ok(gw.logs.some((line) => /already served by/.test(String(line['problem']))));
  await gw.deleteApp('squatter');
});

test('an app deleted while a connection is open: the next request on it is refused, new connections get 404', async () => {
  const host = await gw.putApp('brief', 'env1', { targetPort: echo.port });
  const connection = await keepAliveConnection({ port: gw.httpsPort, servername: host, ca: gw.caPem });
  try {
    assert.equal((await connection.get('/first', host)).status, 200);
    await gw.deleteApp('brief');
    assert.equal((await connection.get('/second', host)).status, 421);
  } finally {
    connection.close();
  }
  // The name is still under the environment's domain: its wildcard answers, and the 404 names the app.
  const fresh = await curl({ host, port: gw.httpsPort, extra: ['-k'] });
  assert.equal(curlResult(fresh).status, 404);
  assert.equal(curlResult(fresh).body, 'no app named brief in environment env1 (no_app_in_environment)\n');
});

test('an unrelated change does not disturb open connections to other apps', async () => {
  const host = await gw.putApp('steady', 'env1', { targetPort: echo.port, clientCertificateMode: 'accept' });
  const connection = await keepAliveConnection({ port: gw.httpsPort, servername: host, ca: gw.caPem });
  try {
    assert.equal((await connection.get('/1', host)).status, 200);
    await gw.putApp('neighbour', 'env1', { targetPort: echo.port, clientCertificateMode: 'require' });
    await gw.putApp('steady', 'env1', { targetPort: echo.port, clientCertificateMode: 'accept', allowInsecure: false });
    assert.equal((await connection.get('/2', host)).status, 200, 'same policy: the connection keeps serving');
  } finally {
    connection.close();
  }
});

test('an app whose ingress is removed is no longer served', async () => {
  const host = await gw.putApp('hidden', 'env1', { targetPort: echo.port });
  assert.equal(curlResult(await curl({ host, port: gw.httpsPort, caFile })).status, 200);
  await gw.putApp('hidden', 'env1', undefined);
  assert.equal(curlResult(await curl({ host, port: gw.httpsPort, extra: ['-k'] })).status, 404);
});

test('apps with transport tcp are not served by the HTTP ingress', async () => {
  // The control plane refuses transport tcp without an exposedPort (the fixture writes through it;
  // TCP apps are served on their own port, test/ingress-app-features.test.ts); the HTTP ingress must
  // not serve such a document either.
  await assert.rejects(gw.putApp('raw', 'env1', { targetPort: echo.port, transport: 'tcp' }), /400 InvalidParameter: transport 'tcp' needs an exposedPort/);
  const host = await gw.putUncheckedApp('raw', 'env1', { targetPort: echo.port, transport: 'tcp' });
  assert.equal(curlResult(await curl({ host, port: gw.httpsPort, extra: ['-k'] })).status, 404);
});
