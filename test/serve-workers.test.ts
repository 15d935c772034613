// `certgate serve --workers 2`: one ingress process per core on the shared ports, the management
// API in the primary. Every worker must enforce a write before it is answered.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { armClient, type ArmClient } from './support/arm.ts';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { curl, curlResult, run } from './support/clients.ts';
import { clientIdentities } from './support/vectors.ts';
import { MAIN, NODE, serveBanner } from './support/cli.ts';
import type { AdminCredentials } from '../src/control/control-plane.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import { certificateDocument, encodeCertificateSecret } from '../src/model/documents.ts';

const V = 'api-version=2025-01-01';
let dataDir: string;
let serve: ChildProcess;
let httpsPort: number;
let internalHttpsPort: number;
let arm: ArmClient;
let echo: EchoApp;
let caFile: string;
let appPath: string;
let envId: string;
let ids: Awaited<ReturnType<typeof clientIdentities>>;
const HOST = 'multi.env1.certgate.localhost';

function workerPids(): number[] {
  const children = readFileSync(`/proc/${serve.pid}/task/${serve.pid}/children`, 'utf8').trim();
  return children === '' ? [] : children.split(' ').map(Number);
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'certgate-workers-'));
  ids = await clientIdentities(dataDir);
  echo = await startEchoApp();
  serve = spawn(NODE, [MAIN, 'serve', '--data-dir', dataDir, '--https-port', '0', '--http-port', '0', '--management-port', '0', '--workers', '2', '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Not the default, so that the test below shows the setting reaches every worker.
    env: { ...process.env, CERTGATE_TLS_CIPHERS: 'compatible' },
  });
  const banner = await serveBanner(serve);
  assert.match(banner, /workers: +2 /);
  httpsPort = Number(/HTTPS ingress: +https:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
  internalHttpsPort = Number(/internal HTTPS: +https:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
  const credentials = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')) as AdminCredentials;
  caFile = credentials.caCertificate;
  arm = await armClient(credentials, readFileSync(caFile, 'utf8'));
  const group = `/subscriptions/${credentials.subscriptionId}/resourceGroups/rg`;
  await arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' });
  const env = await arm.call('PUT', `${group}/providers/Microsoft.App/managedEnvironments/env1?${V}`, { location: 'local', properties: {} });
  envId = env.json.id;
  appPath = `${group}/providers/Microsoft.App/containerApps/multi?${V}`;
  const app = await arm.call('PUT', appPath, { location: 'local', properties: { managedEnvironmentId: env.json.id, configuration: { ingress: { targetPort: echo.port } } } });
  assert.equal(app.status, 201, app.text);
});

after(async () => {
  await arm?.close();
  if (serve?.exitCode === null) {
    serve.kill('SIGKILL');
    await new Promise((resolve) => serve.once('exit', resolve));
  }
  await echo?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('two worker processes serve the ingress', () => {
  assert.equal(workerPids().length, 2);
});

test('a PATCH is enforced by every worker when it returns: no new connection without a certificate gets through', async () => {
  for (const mode of ['require', 'ignore', 'require']) {
    const patched = await arm.call('PATCH', appPath, { properties: { configuration: { ingress: { clientCertificateMode: mode } } } });
    assert.equal(patched.status, 200);
    // Connections are spread over the workers: every one of them must already apply the new mode.
    const results = await Promise.all(Array.from({ length: 12 }, () => curl({ host: HOST, port: httpsPort, caFile })));
    for (const result of results) {
      if (mode === 'require') assert.notEqual(result.code, 0, 'refused in the handshake');
      else assert.equal(curlResult(result).status, 200, result.stderr);
    }
  }
  const withCert = await curl({ host: HOST, port: httpsPort, caFile, cert: ids.self.certFile, key: ids.self.keyFile });
  assert.equal(curlResult(withCert).status, 200);
  assert.equal(echo.received.at(-1)?.headers['x-forwarded-client-cert'], ids.self.expected);
});

test('CERTGATE_TLS_CIPHERS=compatible reaches every worker: a CBC suite is accepted on each connection', async () => {
  for (let i = 0; i < 6; i++) {
    const cbc = await run('openssl', ['s_client', '-connect', `127.0.0.1:${httpsPort}`, '-servername', HOST, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA'], 'Q\n');
    assert.match(cbc.stdout, /Cipher is ECDHE-(ECDSA|RSA)-AES128-SHA\b/, `connection ${i}: ${cbc.stderr}`);
  }
});

test('TLS sessions resume whichever worker the next connection lands on', async () => {
  const session = join(dataDir, 'session.pem');
  const request = `GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`;
  const identity = ['-cert', ids.self.certFile, '-key', ids.self.keyFile];
  const first = await run('openssl', ['s_client', '-connect', `127.0.0.1:${httpsPort}`, '-servername', HOST, '-ign_eof', ...identity, '-sess_out', session], request);
  assert.match(first.stdout, /^New,/m);
  for (let i = 0; i < 6; i++) {
    const again = await run('openssl', ['s_client', '-connect', `127.0.0.1:${httpsPort}`, '-servername', HOST, '-ign_eof', '-sess_in', session], request);
    assert.match(again.stdout, /^Reused,/m, `resumption ${i}`);
    assert.match(again.stdout, /HTTP\/1\.1 200/);
  }
});

test('a binding the workers cannot load is answered with an ARM error, the app keeps serving, and a good write recovers', async () => {
  // A legacy RC2 PKCS12 written straight into the store (the upload refuses it), so only the
  // workers' compilation can find it unusable: their acknowledgement must carry the failure.
  const key = join(dataDir, 'legacy.key');
  const cert = join(dataDir, 'legacy.pem');
  const p12 = join(dataDir, 'legacy.p12');
  assert.equal((await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=legacy.example.test', '-days', '2'])).code, 0);
  assert.equal((await run('openssl', ['pkcs12', '-export', '-legacy', '-certpbe', 'PBE-SHA1-RC2-40', '-in', cert, '-inkey', key, '-out', p12, '-passout', 'pass:pw'])).code, 0);
  const store = new SqliteStore(join(dataDir, 'certgate.db'));
  const { resource } = await store.put(
    certificateDocument({ environmentId: envId, name: 'stored-legacy', properties: { subjectAlternativeNames: ['legacy.example.test'] } }),
    { secret: encodeCertificateSecret({ pfx: readFileSync(p12), password: 'pw' }) },
  );
  await store.close();
  const bind = (customDomains: unknown[]) => arm.call('PATCH', appPath, { properties: { configuration: { ingress: { customDomains } } } });
  const bound = await bind([{ name: 'legacy.example.test', bindingType: 'SniEnabled', certificateId: resource.id }]);
  assert.equal(bound.status, 400, bound.text);
  assert.equal(bound.json.error.code, 'ConfigurationNotEnforced');
  assert.equal(bound.json.error.details[0].code, 'certificate_unusable');
  const withCert = await curl({ host: HOST, port: httpsPort, caFile, cert: ids.self.certFile, key: ids.self.keyFile });
  assert.equal(curlResult(withCert).status, 200, withCert.stderr);
  const unbound = await bind([]);
  assert.equal(unbound.status, 200, unbound.text);
});

test('every worker serves the internal listener: external: false moves the app off the external port when the PATCH returns', async () => {
  for (const external of [false, true]) {
    const patched = await arm.call('PATCH', appPath, { properties: { configuration: { ingress: { external } } } });
    assert.equal(patched.status, 200, patched.text);
    const [outside, inside] = await Promise.all([
      // The app's mode is still `require` from the test above: every connection brings a certificate.
      Promise.all(Array.from({ length: 8 }, () => curl({ host: HOST, port: httpsPort, extra: ['-k'], cert: ids.self.certFile, key: ids.self.keyFile }))),
      Promise.all(Array.from({ length: 8 }, () => curl({ host: HOST, port: internalHttpsPort, caFile, cert: ids.self.certFile, key: ids.self.keyFile }))),
    ]);
    for (const result of outside) assert.equal(curlResult(result).status, external ? 200 : 404, result.stderr);
    for (const result of inside) assert.equal(curlResult(result).status, 200, result.stderr);
  }
});

test('a worker that dies is replaced, and the others keep serving meanwhile', async () => {
  const [victim] = workerPids();
  process.kill(victim!, 'SIGKILL');
  // A connection handed to the worker as it died is lost (the client retries, as here); the
  // others are served by the surviving worker.
  const withCert = () => curl({ host: HOST, port: httpsPort, caFile, cert: ids.self.certFile, key: ids.self.keyFile, extra: ['--max-time', '3'] });
  // Until the primary has seen the death (longer on a loaded machine), it may still hand
  // connections to the dead worker: try for up to 10 s, a tenth of a second apart.
  const attempts = [];
  for (const giveUp = Date.now() + 10_000; Date.now() < giveUp; ) {
    const result = await withCert();
    attempts.push(result.code);
    if (result.code === 0) {
      assert.equal(curlResult(result).status, 200);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(attempts.includes(0), `served while a worker was down (curl exit codes: ${attempts.join(', ')})`);
  // A new worker starts a second after the death; on a loaded machine its start can take a while.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && (workerPids().length < 2 || workerPids().includes(victim!))) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(workerPids().length, 2, 'a new worker took its place');
  // The new worker enforces the current mode too.
  const results = await Promise.all(Array.from({ length: 8 }, () => curl({ host: HOST, port: httpsPort, caFile })));
  assert.ok(results.every((result) => result.code !== 0));
});

test('SIGTERM stops the workers and the primary, exit 0', async () => {
  const workers = workerPids();
  serve.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => serve.once('exit', resolve));
  assert.equal(code, 0);
  for (const pid of workers) {
    assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
  }
  writeFileSync(join(dataDir, 'stopped'), '');
});
