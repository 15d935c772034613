// Managed certificates (managedEnvironments/managedCertificates) obtained from a real ACME server,
// Pebble, on loopback: the PUT answers Pending (ARM's long-running shape), certgate answers the
// HTTP-01 challenge on its plain-HTTP port, the resource turns Succeeded, and a custom domain bound
// to it (Auto before issuance, SniEnabled after) is served with it: curl verifies it with Pebble's
// root. A challenge Pebble cannot reach turns the resource Failed with the directory's reason. With
// short-lived certificates it is renewed, and a keep-alive connection made before keeps working.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { armClient, createGroupAndEnvironment, type ArmClient } from './support/arm.ts';
import { startPebble, type Pebble } from './support/pebble.ts';
import { curl, curlResult, keepAliveConnection } from './support/clients.ts';
import { certgate } from './support/cli.ts';

const V = 'api-version=2025-01-01';
/** Short-lived certificates, renewed when three quarters of their lifetime are left (after ~5 s). */
const VALIDITY_SECONDS = 20;

let gw: TestGateway;
let pebble: Pebble;
let echo: EchoApp;
let arm: ArmClient;
let group: string;
let envId: string;
let dir: string;
let rootFile: string;
let rootPem: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-acme-'));
  echo = await startEchoApp();
  gw = await startTestGateway({
    controlPlane: true,
    acme: async (httpPort) => {
      pebble = await startPebble({ httpPort, validitySeconds: VALIDITY_SECONDS });
      return { directoryUrl: pebble.directoryUrl, caPem: pebble.tlsCaPem, renewFraction: 0.75, retryMs: 1_000 };
    },
  });
  arm = await armClient(gw.credentials!, gw.caPem);
  ({ group, envId } = await createGroupAndEnvironment(arm, V));
  rootPem = await pebble.rootPem();
  rootFile = join(dir, 'pebble-root.pem');
  writeFileSync(rootFile, rootPem);
});

after(async () => {
  await arm?.close();
  await gw?.close();
  await pebble?.close();
  await echo?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const certPath = (name: string) => `${envId}/managedCertificates/${name}?${V}`;
const appPath = (name: string) => `${group}/providers/Microsoft.App/containerApps/${name}?${V}`;

/** Polls the resource as az does after a PUT answered with a non-terminal provisioningState. */
async function waitForState(name: string, done: (properties: any) => boolean, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await arm.call('GET', certPath(name));
    assert.equal(got.status, 200, got.text);
    if (done(got.json.properties)) return got.json.properties;
    if (Date.now() > deadline) throw new Error(`managed certificate ${name} still ${got.text}`);
    await sleep(200);
  }
}

function servedThumbprint(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername: host, ca: rootPem }, () => {
      resolve(new X509Certificate(socket.getPeerX509Certificate()!.raw).fingerprint.replaceAll(':', ''));
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

describe('managed certificates from Pebble (HTTP-01 on the plain-HTTP port)', () => {
  const HOST = 'shop.example.test';
  let issued: any;

  test('PUT answers Pending at once; the certificate is issued in the background', async () => {
    const put = await arm.call('PUT', certPath('shop'), { location: 'local', properties: { subjectName: HOST, domainControlValidation: 'HTTP' } });
    assert.equal(put.status, 201, put.text);
    assert.equal(put.json.properties.provisioningState, 'Pending');
    assert.equal(put.json.type, 'Microsoft.App/managedEnvironments/managedCertificates');
    // Bound with Auto while Pending: accepted, served once issued.
    const app = await arm.call('PUT', appPath('shop'), {
      location: 'local',
      properties: { managedEnvironmentId: envId, configuration: { ingress: { external: true, targetPort: echo.port, customDomains: [{ name: HOST, bindingType: 'Auto', certificateId: put.json.id }] } } },
    });
    assert.equal(app.status, 201, app.text);
    issued = await waitForState('shop', (properties) => properties.provisioningState !== 'Pending');
    assert.equal(issued.provisioningState, 'Succeeded', JSON.stringify(issued));
    assert.match(issued.thumbprint, /^[0-9A-F]{40}$/);
    assert.ok(Date.parse(issued.expirationDate) > Date.now());
    const got = await arm.call('GET', certPath('shop'));
    assert.doesNotMatch(got.text, /PRIVATE KEY|certgateAcmeChallenge|keyAuthorization/);
  });

  test('curl verifying with Pebble\'s root reaches the app at its custom domain', async () => {
    const result = await curl({ host: HOST, port: gw.httpsPort, caFile: rootFile, path: '/hello' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(curlResult(result).status, 200);
    assert.equal(await servedThumbprint(HOST), issued.thumbprint);
  });

  test('SniEnabled binding to the issued certificate', async () => {
    const app = await arm.call('PUT', appPath('shop'), {
      location: 'local',
      properties: { managedEnvironmentId: envId, configuration: { ingress: { external: true, targetPort: echo.port, customDomains: [{ name: HOST, bindingType: 'SniEnabled', certificateId: `${envId}/managedCertificates/shop` }] } } },
    });
    assert.equal(app.status, 200, app.text);
    assert.equal(curlResult(await curl({ host: HOST, port: gw.httpsPort, caFile: rootFile })).status, 200);
  });

  test('a challenge Pebble cannot reach: Failed, with the directory\'s reason on the resource', async () => {
    await pebble.addA('unreachable.example.test', '127.0.0.2');
    const put = await arm.call('PUT', certPath('unreachable'), { location: 'local', properties: { subjectName: 'unreachable.example.test', domainControlValidation: 'HTTP' } });
    assert.equal(put.status, 201, put.text);
    const failed = await waitForState('unreachable', (properties) => properties.provisioningState !== 'Pending');
    assert.equal(failed.provisioningState, 'Failed');
    assert.match(failed.error, /127\.0\.0\.2|connection refused/i, failed.error);
    const refused = await arm.call('PUT', appPath('unreachable'), {
      location: 'local',
      properties: { managedEnvironmentId: envId, configuration: { ingress: { external: true, targetPort: echo.port, customDomains: [{ name: 'unreachable.example.test', bindingType: 'SniEnabled', certificateId: put.json.id }] } } },
    });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json.error.target, 'properties.configuration.ingress.customDomains[0].bindingType');
  });

  test('TXT and CNAME validation are refused (400 naming the path); so is a wildcard', async () => {
    for (const [properties, target] of [
      [{ subjectName: 'txt.example.test', domainControlValidation: 'TXT' }, 'properties.domainControlValidation'],
      [{ subjectName: 'cname.example.test', domainControlValidation: 'CNAME' }, 'properties.domainControlValidation'],
      [{ subjectName: '*.example.test', domainControlValidation: 'HTTP' }, 'properties.subjectName'],
    ] as const) {
      const put = await arm.call('PUT', certPath('refused'), { location: 'local', properties });
      assert.equal(put.status, 400, put.text);
      assert.equal(put.json.error.target, target);
    }
  });

  test('renewed before expiry: a new certificate for new connections, and an open keep-alive connection keeps working', async () => {
    const connection = await keepAliveConnection({ port: gw.httpsPort, servername: HOST, ca: rootPem });
    try {
      assert.equal((await connection.get('/before', HOST)).status, 200);
      const first = issued.thumbprint;
      const deadline = Date.now() + 30_000;
      let now = first;
      while (now === first) {
        assert.ok(Date.now() < deadline, 'the certificate was not renewed in time');
        // Keeps the connection in use, and checks it is never turned away meanwhile.
        assert.equal((await connection.get('/during', HOST)).status, 200);
        await sleep(500);
        now = (await arm.call('GET', certPath('shop'))).json.properties.thumbprint;
      }
      assert.equal(await servedThumbprint(HOST), now, 'new connections get the renewed certificate');
      assert.equal((await connection.get('/after', HOST)).status, 200, 'the connection made before the renewal is still served');
      assert.equal(curlResult(await curl({ host: HOST, port: gw.httpsPort, caFile: rootFile })).status, 200);
    } finally {
      connection.close();
    }
  });
});

describe('a renewal that fails', () => {
  test('keeps the resource Succeeded, serving the certificate it has, with the reason in error', async () => {
    const HOST = 'shop.example.test';
    await pebble.addA(HOST, '127.0.0.2');
    const properties = await waitForState('shop', (now) => typeof now.error === 'string' && now.error.startsWith('renewal failed'));
    assert.equal(properties.provisioningState, 'Succeeded');
    assert.match(properties.error, /the current certificate is still served.*127\.0\.0\.2/);
    assert.equal(await servedThumbprint(HOST), properties.thumbprint);
    assert.equal(curlResult(await curl({ host: HOST, port: gw.httpsPort, caFile: rootFile })).status, 200);
  });
});

describe('certgate containerapp env certificate create/list/delete (managed, as az)', () => {
  const cli = (...args: string[]) => certgate(args, { env: { CERTGATE_CONFIG_DIR: join(dir, 'config') } });
  test('create waits until issued and prints the resource; list shows it; delete removes it', async () => {
    const login = await cli('login', '--data-dir', gw.dataDir);
    assert.equal(login.code, 0, login.stderr);
    const created = await cli('containerapp', 'env', 'certificate', 'create', '-g', 'rg1', '-n', 'env1', '--hostname', 'cli.example.test', '--validation-method', 'http');
    assert.equal(created.code, 0, created.stderr);
    const resource = JSON.parse(created.stdout);
    assert.equal(resource.name, 'mc-cli-example-test');
    assert.equal(resource.properties.provisioningState, 'Succeeded', created.stdout);
    const names = await cli('containerapp', 'env', 'certificate', 'list', '-g', 'rg1', '-n', 'env1', '--query', '[].name', '-o', 'tsv');
    assert.ok(names.stdout.split('\n').includes('mc-cli-example-test'), names.stdout);
    const deleted = await cli('containerapp', 'env', 'certificate', 'delete', '-g', 'rg1', '-n', 'env1', '--certificate', 'mc-cli-example-test', '--yes');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal((await arm.call('GET', certPath('mc-cli-example-test'))).status, 404);
  });
});

describe('certgate containerapp hostname bind --validation-method HTTP (as az)', () => {
  const cli = (...args: string[]) => certgate(args, { env: { CERTGATE_CONFIG_DIR: join(dir, 'config') } });
  test('creates the managed certificate, binds it Auto, and the name is served once it is issued', async () => {
    const app = await arm.call('PUT', appPath('bound'), { location: 'local', properties: { managedEnvironmentId: envId, configuration: { ingress: { external: true, targetPort: echo.port } } } });
    assert.equal(app.status, 201, app.text);
    const both = await cli('containerapp', 'hostname', 'bind', '-g', 'rg1', '-n', 'bound', '--hostname', 'bind.example.test', '--validation-method', 'HTTP', '--certificate', 'x');
    assert.equal(both.code, 1);
    const bound = await cli('containerapp', 'hostname', 'bind', '-g', 'rg1', '-n', 'bound', '--hostname', 'bind.example.test', '--validation-method', 'HTTP');
    assert.equal(bound.code, 0, bound.stderr);
    assert.match(bound.stdout, /"bindingType": "Auto"/);
    const issued = await waitForState('mc-bind-example-test', (properties) => properties.provisioningState !== 'Pending');
    assert.equal(issued.provisioningState, 'Succeeded', JSON.stringify(issued));
    const result = await curl({ host: 'bind.example.test', port: gw.httpsPort, caFile: rootFile });
    assert.equal(curlResult(result).status, 200, result.stderr);
  });
});

describe('certgate serve --acme-* flags', () => {
  test('the directory must be https, and --acme-ca-file / --acme-email need it (exit 2 before anything starts)', async () => {
    const plain = await certgate(['serve', '--data-dir', join(dir, 'never'), '--acme-directory', 'http://127.0.0.1:1/dir']);
    assert.equal(plain.code, 2, plain.stderr);
    assert.match(plain.stderr, /not an https URL/);
    const alone = await certgate(['serve', '--data-dir', join(dir, 'never'), '--acme-ca-file', rootFile]);
    assert.equal(alone.code, 2, alone.stderr);
    assert.match(alone.stderr, /need '--acme-directory <url>'/);
  });
});
