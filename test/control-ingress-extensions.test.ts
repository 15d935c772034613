// certgate's ingress extensions through the management API: `properties.certgate.stripHeaders` on
// an environment and `properties.configuration.ingress.hsts` on an app are validated (400 naming
// the path), stored, and enforced by the ingress once the write is acknowledged.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, type ArmClient } from './support/arm.ts';
import { curl, curlResult, parseIncluded, sClient } from './support/clients.ts';

const V = 'api-version=2025-01-01';
let fixture: ControlPlaneFixture;
let arm: ArmClient;
let group: string;

before(async () => {
  fixture = await startControlPlaneFixture('certgate-extensions-');
  arm = await armClient(fixture.gw.credentials!, fixture.gw.caPem);
  group = `/subscriptions/${arm.subscription}/resourceGroups/rg1`;
  assert.equal((await arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' })).status, 201);
});

after(async () => {
  await arm?.close();
  await fixture?.close();
});

const envPath = () => `${group}/providers/Microsoft.App/managedEnvironments/env1?${V}`;
const appPath = () => `${group}/providers/Microsoft.App/containerApps/hsts?${V}`;

test('invalid extension members are 400s naming the path, and change nothing', async () => {
  const badEnv = await arm.call('PUT', envPath(), { location: 'local', properties: { certgate: { stripHeaders: ['X Tenant'] } } });
  assert.equal(badEnv.status, 400, badEnv.text);
  assert.match(badEnv.text, /properties\.certgate\.stripHeaders\[0\]/);
  assert.equal((await arm.call('GET', envPath())).status, 404);
});

test('stripHeaders and hsts are stored and enforced', async () => {
  const env = await arm.call('PUT', envPath(), { location: 'local', properties: { certgate: { stripHeaders: ['X-Tenant-Id'] } } });
  assert.equal(env.status, 201, env.text);
  assert.deepEqual(env.json.properties.certgate, { stripHeaders: ['X-Tenant-Id'] });
  const body = (hsts: unknown) => ({
    location: 'local',
    properties: { managedEnvironmentId: env.json.id, configuration: { ingress: { external: true, targetPort: fixture.echo.port, hsts } } },
  });
  const bad = await arm.call('PUT', appPath(), body({ maxAge: 600, preload: true, includeSubDomains: true }));
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /properties\.configuration\.ingress\.hsts\.maxAge/);
  const app = await arm.call('PUT', appPath(), body({ maxAge: 86_400 }));
  assert.ok(app.status === 200 || app.status === 201, app.text);
  const host = `hsts.${env.json.properties.defaultDomain}`;
  const result = await curl({ host, port: fixture.gw.httpsPort, caFile: fixture.caFile, headers: ['x_tenant_id: other'], extra: ['-i'] });
  const response = parseIncluded(curlResult(result).body);
  assert.equal(response.status, 200, result.stderr);
  assert.deepEqual(response.headers['strict-transport-security'], ['max-age=86400']);
  assert.equal(fixture.echo.received.at(-1)?.headers['x-tenant-id'], undefined);
  assert.equal(fixture.echo.received.at(-1)?.rawHeaders.some((name) => /tenant/i.test(name)), false);
});

test('the management API offers TLS 1.2 AEAD suites only', async () => {
  const port = Number(new URL(arm.endpoint).port);
  const refused = await sClient({ port, servername: 'localhost', tls: '1.2', extra: ['-cipher', 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:AES128-SHA'] });
  assert.notEqual(refused.code, 0, refused.stdout);
  const accepted = await sClient({ port, servername: 'localhost', tls: '1.2', extra: ['-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256'], request: 'Q\n' });
  assert.match(accepted.stdout, /Cipher is ECDHE-(ECDSA|RSA)-AES128-GCM-SHA256/);
});
