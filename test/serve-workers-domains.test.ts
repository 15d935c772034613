// `certgate serve --workers 2 --acme-directory`: the environment's DNS suffix and the managed
// certificates reach every worker. The ACME challenge is answered by whichever worker Pebble's
// validation connects to, and every worker serves the issued certificate and the suffix wildcard.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { armClient, type ArmClient } from './support/arm.ts';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { curl, curlResult } from './support/clients.ts';
import { MAIN, NODE, serveBanner } from './support/cli.ts';
import { freeTcpPort, startPebble, type Pebble } from './support/pebble.ts';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { exportPkcs12 } from '../src/pki/pkcs12.ts';
import type { AdminCredentials } from '../src/control/control-plane.ts';

const V = 'api-version=2025-01-01';
let dir: string;
let serve: ChildProcess;
let pebble: Pebble;
let echo: EchoApp;
let arm: ArmClient;
let httpsPort: number;
let group: string;
let envId: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-workers-domains-'));
  echo = await startEchoApp();
  // Pebble must know the plain-HTTP port before certgate starts, and certgate Pebble's directory.
  const httpPort = await freeTcpPort();
  pebble = await startPebble({ httpPort });
  writeFileSync(join(dir, 'pebble-tls-ca.pem'), pebble.tlsCaPem);
  const dataDir = join(dir, 'data');
  serve = spawn(
    NODE,
    [MAIN, 'serve', '--data-dir', dataDir, '--https-port', '0', '--http-port', String(httpPort), '--management-port', '0', '--workers', '2', '--log-level', 'warn', '--acme-directory', pebble.directoryUrl, '--acme-ca-file', join(dir, 'pebble-tls-ca.pem')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const banner = await serveBanner(serve);
  assert.match(banner, /workers: +2 /);
  httpsPort = Number(/HTTPS ingress: +https:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
  const credentials = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')) as AdminCredentials;
  arm = await armClient(credentials, readFileSync(credentials.caCertificate, 'utf8'));
  group = `/subscriptions/${credentials.subscriptionId}/resourceGroups/rg`;
  await arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' });
});

after(async () => {
  await arm?.close();
  if (serve?.exitCode === null) {
    serve.kill('SIGTERM');
    const exited = new Promise((resolve) => serve.once('exit', resolve));
    if ((await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)])) === false) {
      serve.kill('SIGKILL');
      await exited;
    }
  }
  await pebble?.close();
  await echo?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Eight new connections (spread over the workers), each verifying with `caFile`. */
async function allServe(host: string, caFile: string): Promise<void> {
  const results = await Promise.all(Array.from({ length: 8 }, () => curl({ host, port: httpsPort, caFile })));
  for (const result of results) assert.equal(curlResult(result).status, 200, `${host}: ${result.stderr}`);
}

test('an environment DNS suffix is served by every worker with the uploaded wildcard', async () => {
  const ca = await createCa({ commonName: 'workers suffix CA' });
  const leaf = await issueCertificate({ issuer: ca, commonName: '*.w.example.test', kind: 'server', dnsNames: ['*.w.example.test'] });
  const caFile = join(dir, 'suffix-ca.pem');
  writeFileSync(caFile, ca.certPem);
  const env = await arm.call('PUT', `${group}/providers/Microsoft.App/managedEnvironments/env1?${V}`, {
    location: 'local',
    properties: { customDomainConfiguration: { dnsSuffix: 'w.example.test', certificateValue: Buffer.from(await exportPkcs12({ ...leaf, password: 'pw' })).toString('base64'), certificatePassword: 'pw' } },
  });
  assert.equal(env.status, 201, env.text);
  envId = env.json.id;
  const app = await arm.call('PUT', `${group}/providers/Microsoft.App/containerApps/suffixed?${V}`, { location: 'local', properties: { managedEnvironmentId: envId, configuration: { ingress: { external: true, targetPort: echo.port } } } });
  assert.equal(app.status, 201, app.text);
  await allServe('suffixed.w.example.test', caFile);
});

test('a managed certificate is issued through any worker and served by all', async () => {
  const put = await arm.call('PUT', `${envId}/managedCertificates/shop?${V}`, { location: 'local', properties: { subjectName: 'shop.acme.test', domainControlValidation: 'HTTP' } });
  assert.equal(put.status, 201, put.text);
  const app = await arm.call('PUT', `${group}/providers/Microsoft.App/containerApps/shop?${V}`, {
    location: 'local',
    properties: { managedEnvironmentId: envId, configuration: { ingress: { external: true, targetPort: echo.port, customDomains: [{ name: 'shop.acme.test', bindingType: 'Auto', certificateId: put.json.id }] } } },
  });
  assert.equal(app.status, 201, app.text);
  const deadline = Date.now() + 30_000;
  let properties: any;
  do {
    await sleep(200);
    properties = (await arm.call('GET', `${envId}/managedCertificates/shop?${V}`)).json.properties;
    assert.ok(Date.now() < deadline, JSON.stringify(properties));
  } while (properties.provisioningState === 'Pending');
  assert.equal(properties.provisioningState, 'Succeeded', JSON.stringify(properties));
  const rootFile = join(dir, 'pebble-root.pem');
  writeFileSync(rootFile, await pebble.rootPem());
  await allServe('shop.acme.test', rootFile);
});
