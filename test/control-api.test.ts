// The management API's ARM semantics, validation and authentication, over real HTTPS, with the
// ingress enforcing what it stores.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestGateway } from './support/gateway.ts';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, createGroupAndEnvironment, type ArmClient } from './support/arm.ts';
import type { EchoApp } from './support/echo-app.ts';
import { curl, curlResult } from './support/clients.ts';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { exportPkcs12 } from '../src/pki/pkcs12.ts';

const V = 'api-version=2025-01-01';
let fixture: ControlPlaneFixture | undefined;
let gw: TestGateway;
let arm: ArmClient;
let echo: EchoApp;
let dir: string;
let caFile: string;
let ids: ControlPlaneFixture['ids'];
let sub: string;
let group: string;
let envId: string;

const appPath = (name: string, g = 'rg1') => `/subscriptions/${sub}/resourceGroups/${g}/providers/Microsoft.App/containerApps/${name}`;
const appBody = (ingress: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  location: 'local',
  properties: { managedEnvironmentId: envId, configuration: { ingress }, template: { containers: [{ name: 'main', image: 'example/app:1' }] }, ...extra },
});

before(async () => {
  fixture = await startControlPlaneFixture('certgate-api-');
  ({ dir, ids, echo, gw, caFile } = fixture);
  arm = await armClient(gw.credentials!, gw.caPem);
  sub = arm.subscription;
  ({ group, envId } = await createGroupAndEnvironment(arm, V));
});

after(async () => {
  await arm?.close();
  await fixture?.close();
});

describe('authentication', () => {
  test('the credentials file is mode 0600 and holds a working principal', () => {
    const path = join(gw.dataDir, 'admin-credentials.json');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).clientId, gw.credentials!.clientId);
  });

  test('no token, a malformed header, a forged or tampered token: 401 with WWW-Authenticate and an ARM error', async () => {
    const path = `/subscriptions?api-version=2022-12-01`;
    const tampered = `${arm.token.slice(0, -4)}AAAA`;
    for (const headers of [{} as Record<string, string>, { authorization: 'Basic abc' }, { authorization: `Bearer ${tampered}` }, { authorization: 'Bearer a.b.c' }]) {
      const result = await arm.raw('GET', path, undefined, headers);
      assert.equal(result.status, 401);
      assert.match(String(result.headers['www-authenticate']), /^Bearer authorization_uri="https:\/\/127\.0\.0\.1:\d+\/adfs"/);
      assert.match(result.json.error.code, /^(AuthenticationFailed|InvalidAuthenticationToken)$/);
    }
  });

  test('a wrong secret gets no token; the secret never appears in the logs', async () => {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: gw.credentials!.clientId, client_secret: 'wrong-secret', scope: 'x/.default' });
    const result = await arm.raw('POST', '/adfs/oauth2/token', form.toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(result.status, 401);
    assert.equal(result.json.error, 'invalid_client');
    const logs = JSON.stringify(gw.logs);
    assert.ok(!logs.includes(gw.credentials!.clientSecret), 'the secret is not logged');
    assert.ok(!logs.includes(arm.token), 'the token is not logged');
    assert.ok(gw.logs.some((line) => line['msg'] === 'management request'), 'requests are logged');
  });

  test('other grant types are refused', async () => {
    const result = await arm.raw('POST', '/adfs/oauth2/token', 'grant_type=password&username=a&password=b', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(result.status, 400);
    assert.equal(result.json.error, 'unsupported_grant_type');
  });
});

describe('api-version', () => {
  test('missing: 400 MissingApiVersionParameter', async () => {
    const result = await arm.call('GET', appPath('x'));
    assert.equal(result.status, 400);
    assert.equal(result.json.error.code, 'MissingApiVersionParameter');
  });
  test('unknown: 400 InvalidApiVersionParameter listing the supported ones', async () => {
    for (const version of ['2021-03-01', '2030-01-01', 'latest']) {
      const result = await arm.call('GET', `${appPath('x')}?api-version=${version}`);
      assert.equal(result.status, 400);
      assert.equal(result.json.error.code, 'InvalidApiVersionParameter');
      assert.match(result.json.error.message, /2022-10-01.*2025-01-01.*2026-07-01/);
    }
  });
  test('every version clients send is accepted', async () => {
    for (const version of ['2022-10-01', '2023-05-01', '2024-03-01', '2025-01-01', '2025-07-01', '2026-07-01', '2024-08-02-preview']) {
      assert.equal((await arm.call('GET', `${group}/providers/Microsoft.App/managedEnvironments/env1?api-version=${version}`)).status, 200, version);
    }
  });
});

describe('subscriptions, providers, resource groups', () => {
  test('subscriptions are Enabled and carry the tenant', async () => {
    const list = await arm.call('GET', '/subscriptions?api-version=2022-12-01');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.value.map((s: { subscriptionId: string; state: string; tenantId: string }) => [s.subscriptionId, s.state, s.tenantId]), [[sub, 'Enabled', gw.credentials!.tenantId]]);
    assert.equal((await arm.call('GET', `/subscriptions/${sub}?api-version=2022-12-01`)).json.state, 'Enabled');
    assert.equal((await arm.call('GET', `/subscriptions/00000000-0000-0000-0000-000000000000?api-version=2022-12-01`)).json.error.code, 'SubscriptionNotFound');
  });
  test('Microsoft.App is Registered', async () => {
    const provider = await arm.call('GET', `/subscriptions/${sub}/providers/Microsoft.App?api-version=2024-11-01`);
    assert.equal(provider.json.registrationState, 'Registered');
  });
  test('groups: create, replace, read, list, exists, delete with everything inside', async () => {
    const path = `/subscriptions/${sub}/resourceGroups/doomed?api-version=2021-04-01`;
    assert.equal((await arm.call('PUT', path, { location: 'local' })).status, 201);
    assert.equal((await arm.call('PUT', path, { location: 'local', tags: { a: 'b' } })).status, 200);
    assert.deepEqual((await arm.call('GET', path)).json.tags, { a: 'b' });
    assert.equal((await arm.call('HEAD', path)).status, 204);
    const names = (await arm.call('GET', `/subscriptions/${sub}/resourcegroups?api-version=2021-04-01`)).json.value.map((g: { name: string }) => g.name);
    assert.deepEqual(names.sort(), ['doomed', 'rg1']);
    const env = await arm.call('PUT', `/subscriptions/${sub}/resourceGroups/doomed/providers/Microsoft.App/managedEnvironments/gone?${V}`, { location: 'local', properties: {} });
    assert.equal(env.status, 201);
    assert.equal((await arm.call('DELETE', path)).status, 200);
    assert.equal((await arm.call('HEAD', path)).status, 404);
    assert.equal((await arm.call('GET', `${env.json.id}?${V}`)).json.error.code, 'ResourceGroupNotFound');
    assert.equal((await arm.call('DELETE', path)).status, 204);
  });
  test('a missing group: 404 ResourceGroupNotFound', async () => {
    const result = await arm.call('GET', `/subscriptions/${sub}/resourceGroups/nope/providers/Microsoft.App/containerApps/a?${V}`);
    assert.equal(result.status, 404);
    assert.equal(result.json.error.code, 'ResourceGroupNotFound');
  });
});

describe('container apps', () => {
  test('PUT creates (201) then replaces (200) and returns the full resource; every accepted ingress field round-trips', async () => {
    const ingress = {
      external: true,
      targetPort: echo.port,
      exposedPort: 0,
      transport: 'Auto',
      traffic: [{ latestRevision: true, weight: 100 }],
      allowInsecure: false,
      ipSecurityRestrictions: [],
      stickySessions: { affinity: 'none' },
      clientCertificateMode: 'Accept',
      corsPolicy: { allowedOrigins: ['https://a.example'], allowedMethods: ['GET'], allowedHeaders: ['x'], exposeHeaders: ['y'], maxAge: 60, allowCredentials: true },
      additionalPortMappings: [],
      targetHost: '127.0.0.1',
    };
    const created = await arm.call('PUT', `${appPath('roundtrip')}?${V}`, appBody(ingress));
    assert.equal(created.status, 201, created.text);
    const got = (await arm.call('GET', `${appPath('roundtrip')}?${V}`)).json;
    assert.deepEqual(got.properties.configuration.ingress, { ...ingress, transport: 'auto', clientCertificateMode: 'accept', fqdn: 'roundtrip.env1.certgate.localhost' });
    assert.equal(got.properties.provisioningState, 'Succeeded');
    assert.equal(got.properties.managedEnvironmentId, envId);
    assert.deepEqual(got.properties.template, { containers: [{ name: 'main', image: 'example/app:1' }] });
    assert.equal(got.type, 'Microsoft.App/containerApps');
    assert.match(got.systemData.createdAt, /^\d{4}-/);
    const replaced = await arm.call('PUT', `${appPath('roundtrip')}?${V}`, appBody({ targetPort: echo.port }));
    assert.equal(replaced.status, 200);
    assert.deepEqual(replaced.json.properties.configuration.ingress, { targetPort: echo.port, fqdn: 'roundtrip.env1.certgate.localhost' });
    assert.equal(replaced.json.systemData.createdAt, got.systemData.createdAt);
  });

  test('PATCH is a merge patch answered 200 with the full resource; the mode is enforced by the next connection', async () => {
    const host = 'patched.env1.certgate.localhost';
    assert.equal((await arm.call('PUT', `${appPath('patched')}?${V}`, appBody({ targetPort: echo.port, external: true }))).status, 201);
    assert.equal(curlResult(await curl({ host, port: gw.httpsPort, caFile })).status, 200);
    const patched = await arm.call('PATCH', `${appPath('patched')}?${V}`, { properties: { configuration: { ingress: { clientCertificateMode: 'REQUIRE' } } } });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.properties.configuration.ingress.clientCertificateMode, 'require');
    assert.equal(patched.json.properties.configuration.ingress.external, true, 'other fields kept');
    assert.equal(patched.json.properties.template.containers[0].image, 'example/app:1');
    const refused = await curl({ host, port: gw.httpsPort, caFile });
    assert.notEqual(refused.code, 0, 'the next connection without a certificate fails in the handshake');
    const withCert = await curl({ host, port: gw.httpsPort, caFile, cert: ids.self.certFile, key: ids.self.keyFile });
    assert.equal(curlResult(withCert).status, 200);
    assert.equal(echo.received.at(-1)?.headers['x-forwarded-client-cert'], ids.self.expected);
    // null deletes a member: back to ignore.
    const cleared = await arm.call('PATCH', `${appPath('patched')}?${V}`, { properties: { configuration: { ingress: { clientCertificateMode: null } } } });
    assert.equal(cleared.json.properties.configuration.ingress.clientCertificateMode, undefined);
    assert.equal(curlResult(await curl({ host, port: gw.httpsPort, caFile })).status, 200);
  });

  test('lists by group and by subscription, paged with nextLink', async () => {
    for (const name of ['list-a', 'list-b', 'list-c']) await arm.call('PUT', `${appPath(name)}?${V}`, appBody({ targetPort: echo.port }));
    const byGroup = await arm.call('GET', `${group}/providers/Microsoft.App/containerApps?${V}`);
    const names = byGroup.json.value.map((a: { name: string }) => a.name);
    assert.ok(['list-a', 'list-b', 'list-c'].every((n) => names.includes(n)));
    const bySubscription = await arm.call('GET', `/subscriptions/${sub}/providers/Microsoft.App/containerApps?${V}`);
    assert.deepEqual(bySubscription.json.value.map((a: { name: string }) => a.name).sort(), names.sort());
    const pages: string[] = [];
    let next: string | undefined = `${group}/providers/Microsoft.App/containerApps?${V}&$top=2`;
    while (next) {
      const page = await arm.call('GET', next.replace(arm.endpoint, ''));
      assert.ok(page.json.value.length <= 2);
      pages.push(...page.json.value.map((a: { name: string }) => a.name));
      next = page.json.nextLink;
      if (next) assert.ok(next.startsWith(arm.endpoint), 'nextLink is absolute');
    }
    assert.deepEqual(pages, names);
  });

  test('etag and If-Match: a stale etag gets 412 and changes nothing', async () => {
    const created = await arm.call('PUT', `${appPath('etag')}?${V}`, appBody({ targetPort: echo.port }));
    const etag = created.headers['etag'] as string;
    assert.equal(created.json.etag, etag);
    const ok = await arm.call('PATCH', `${appPath('etag')}?${V}`, { tags: { v: '1' } }, { 'if-match': etag });
    assert.equal(ok.status, 200);
    const stale = await arm.call('PATCH', `${appPath('etag')}?${V}`, { tags: { v: '2' } }, { 'if-match': etag });
    assert.equal(stale.status, 412);
    assert.equal(stale.json.error.code, 'PreconditionFailed');
    assert.deepEqual((await arm.call('GET', `${appPath('etag')}?${V}`)).json.tags, { v: '1' });
    assert.equal((await arm.call('PUT', `${appPath('etag')}?${V}`, appBody({ targetPort: 1 }), { 'if-none-match': '*' })).status, 412);
  });

  test('repeated slashes and lower-case fixed segments (as az sends them)', async () => {
    await arm.call('PUT', `${appPath('slashes')}?${V}`, appBody({ targetPort: echo.port }));
    const result = await arm.call('GET', `//subscriptions/${sub}/resourcegroups/rg1/providers/microsoft.app//containerapps/SLASHES?${V}`);
    assert.equal(result.status, 200);
    assert.equal(result.json.name, 'slashes');
  });

  test('DELETE 200, then 204 when absent; 404 ResourceNotFound with the ARM envelope', async () => {
    await arm.call('PUT', `${appPath('gone')}?${V}`, appBody({ targetPort: echo.port }));
    assert.equal((await arm.call('DELETE', `${appPath('gone')}?${V}`)).status, 200);
    assert.equal((await arm.call('DELETE', `${appPath('gone')}?${V}`)).status, 204);
    const missing = await arm.call('GET', `${appPath('gone')}?${V}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(Object.keys(missing.json.error), ['code', 'message']);
    assert.equal(missing.json.error.code, 'ResourceNotFound');
  });

  test('an environment with apps cannot be deleted', async () => {
    const result = await arm.call('DELETE', `${envId}?${V}`);
    assert.equal(result.status, 409);
    assert.equal(result.json.error.code, 'ManagedEnvironmentHasContainerApps');
  });
});

describe('invalid requests: status, ARM error, and nothing changed', () => {
  const cases: { label: string; status: number; code: string; target?: string; send: () => Promise<{ status: number; json: any; text: string }> }[] = [
    { label: 'a typo of clientCertificateMode', status: 400, code: 'InvalidRequestContent', target: 'properties.configuration.ingress.clientCertMode', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, { properties: { configuration: { ingress: { clientCertMode: 'require' } } } }) },
    { label: 'an unknown property elsewhere', status: 400, code: 'InvalidRequestContent', target: 'properties.configuration.ingres', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, { properties: { configuration: { ingres: {} } } }) },
    { label: 'a mode that does not exist', status: 400, code: 'InvalidRequestContent', target: 'properties.configuration.ingress.clientCertificateMode', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, { properties: { configuration: { ingress: { clientCertificateMode: 'required' } } } }) },
    { label: 'a wrong type', status: 400, code: 'InvalidRequestContent', target: 'properties.configuration.ingress.targetPort', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, { properties: { configuration: { ingress: { targetPort: '8080' } } } }) },
    { label: 'a port out of range', status: 400, code: 'InvalidRequestContent', target: 'properties.configuration.ingress.targetPort', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, { properties: { configuration: { ingress: { targetPort: 0 } } } }) },
    { label: 'require with transport tcp', status: 400, code: 'InvalidParameter', target: 'properties.configuration.ingress.clientCertificateMode', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, { properties: { configuration: { ingress: { transport: 'tcp', clientCertificateMode: 'require' } } } }) },
    { label: 'a custom domain naming a missing certificate', status: 400, code: 'InvalidParameter', target: 'properties.configuration.ingress.customDomains[0].certificateId', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, { properties: { configuration: { ingress: { customDomains: [{ name: 'x.example', bindingType: 'SniEnabled', certificateId: `${envId}/certificates/nope` }] } } } }) },
    { label: 'a changed location', status: 400, code: 'InvalidResourceLocation', target: 'location', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, { location: 'elsewhere' }) },
    { label: 'a changed name', status: 400, code: 'InvalidRequestContent', target: 'name', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, { name: 'other' }) },
    { label: 'a changed type', status: 400, code: 'InvalidRequestContent', target: 'type', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, { type: 'Microsoft.Web/sites' }) },
    { label: 'moving the app to another environment', status: 400, code: 'InvalidParameter', target: 'properties.managedEnvironmentId', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, { properties: { managedEnvironmentId: `${envId}-nope` } }) },
    { label: 'a new app in a missing environment', status: 400, code: 'InvalidParameter', target: 'properties.managedEnvironmentId', send: () => arm.call('PUT', `${appPath('orphan')}?${V}`, { location: 'local', properties: { managedEnvironmentId: `${envId}-nope` } }) },
    { label: 'malformed JSON', status: 400, code: 'InvalidRequestContent', send: () => arm.raw('PATCH', `${appPath('victim')}?${V}`, '{"properties": {', { authorization: `Bearer ${arm.token}`, 'content-type': 'application/json' }) },
    { label: 'a non-JSON body', status: 415, code: 'UnsupportedMediaType', send: () => arm.raw('PATCH', `${appPath('victim')}?${V}`, 'properties=1', { authorization: `Bearer ${arm.token}`, 'content-type': 'text/plain' }) },
    { label: 'a body over 4 MiB', status: 413, code: 'RequestEntityTooLarge', send: () => arm.raw('PATCH', `${appPath('victim')}?${V}`, JSON.stringify({ tags: { big: 'x'.repeat(4 * 1024 * 1024) } }), { authorization: `Bearer ${arm.token}`, 'content-type': 'application/json' }) },
    { label: 'a JSON array body', status: 400, code: 'InvalidRequestContent', send: () => arm.call('PATCH', `${appPath('victim')}?${V}`, [1]) },
    { label: 'a PUT without location', status: 400, code: 'InvalidRequestContent', target: 'location', send: () => arm.call('PUT', `${appPath('victim')}?${V}`, { properties: { managedEnvironmentId: envId } }) },
    { label: 'an invalid app name', status: 400, code: 'InvalidParameter', send: () => arm.call('PUT', `${appPath('Bad_Name')}?${V}`, appBody({ targetPort: 1 })) },
  ];
  let before: string;
  test('setup', async () => {
    const created = await arm.call('PUT', `${appPath('victim')}?${V}`, appBody({ targetPort: echo.port, clientCertificateMode: 'accept' }));
    assert.equal(created.status, 201);
    before = JSON.stringify((await arm.call('GET', `${appPath('victim')}?${V}`)).json);
  });
  for (const c of cases) {
    test(c.label, async () => {
      const result = await c.send();
      assert.equal(result.status, c.status, result.text);
      assert.equal(result.json?.error?.code, c.code, result.text);
      if (c.target) assert.equal(result.json.error.target, c.target);
      assert.equal(JSON.stringify((await arm.call('GET', `${appPath('victim')}?${V}`)).json), before, 'nothing changed');
    });
  }
});

describe('environment certificates and custom domains', () => {
  let pfx: Uint8Array;
  let customCa: string;
  before(async () => {
    const ca = await createCa({ commonName: 'Upload CA' });
    customCa = join(dir, 'upload-ca.pem');
    writeFileSync(customCa, ca.certPem);
    const leaf = await issueCertificate({ issuer: ca, commonName: 'api.example.test', kind: 'server', dnsNames: ['api.example.test'] });
    pfx = await exportPkcs12({ certPem: leaf.certPem, keyPem: leaf.keyPem, password: 'secret-pw' });
  });
  const certPath = () => `${envId}/certificates/api-cert?${V}`;

  test('a bad PKCS12 and a wrong password are distinct 400s, and nothing is stored', async () => {
    const wrong = await arm.call('PUT', certPath(), { location: 'local', properties: { value: Buffer.from(pfx).toString('base64'), password: 'nope' } });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error.code, 'InvalidCertificatePassword');
    const garbage = await arm.call('PUT', certPath(), { location: 'local', properties: { value: Buffer.from('not a pkcs12').toString('base64'), password: 'x' } });
    assert.equal(garbage.status, 400);
    assert.equal(garbage.json.error.code, 'InvalidCertificateValue');
    assert.equal((await arm.call('GET', certPath())).status, 404);
  });

  test('an upload returns the certificate facts, never the key, the PKCS12 or the password', async () => {
    const value = Buffer.from(pfx).toString('base64');
    const created = await arm.call('PUT', certPath(), { location: 'local', properties: { value, password: 'secret-pw' } });
    assert.equal(created.status, 201, created.text);
    for (const result of [created, await arm.call('GET', certPath()), await arm.call('GET', `${envId}/certificates?${V}`)]) {
      assert.ok(!result.text.includes(value.slice(0, 40)), 'no PKCS12');
      assert.ok(!result.text.includes('secret-pw'), 'no password');
      assert.ok(!result.text.includes('PRIVATE KEY'), 'no key');
    }
    const props = created.json.properties;
    assert.match(props.subjectName, /CN=api\.example\.test/);
    assert.match(props.issuer, /CN=Upload CA/);
    assert.match(props.thumbprint, /^[0-9A-F]{40}$/);
    assert.match(props.thumbprintSha256, /^[0-9a-f]{64}$/);
    assert.ok(Date.parse(props.expirationDate) > Date.now());
    assert.ok(Date.parse(props.issueDate) < Date.now());
  });

  test('a custom domain bound to the certificate is served by SNI under the app\'s policy', async () => {
    const certificateId = `${envId}/certificates/api-cert`;
    const created = await arm.call('PUT', `${appPath('custom')}?${V}`, appBody({ targetPort: echo.port, clientCertificateMode: 'require', customDomains: [{ name: 'api.example.test', bindingType: 'SniEnabled', certificateId }] }));
    assert.equal(created.status, 201, created.text);
    assert.notEqual((await curl({ host: 'api.example.test', port: gw.httpsPort, caFile: customCa })).code, 0);
    const served = await curl({ host: 'api.example.test', port: gw.httpsPort, caFile: customCa, cert: ids.chain.certFile, key: ids.chain.keyFile });
    assert.equal(curlResult(served).status, 200, served.stderr);
    assert.equal(echo.received.at(-1)?.headers['x-forwarded-client-cert'], ids.chain.expected);
    const notCovered = await arm.call('PUT', `${appPath('uncovered')}?${V}`, appBody({ targetPort: echo.port, customDomains: [{ name: 'other.example.test', bindingType: 'SniEnabled', certificateId }] }));
    assert.equal(notCovered.status, 400);
    assert.match(notCovered.json.error.message, /does not cover/);
    const taken = await arm.call('PUT', `${appPath('thief')}?${V}`, appBody({ targetPort: echo.port, customDomains: [{ name: 'api.example.test', bindingType: 'SniEnabled', certificateId }] }));
    assert.equal(taken.status, 409);
    assert.equal(taken.json.error.code, 'HostNameInUse');
    const inUse = await arm.call('DELETE', certPath());
    assert.equal(inUse.status, 409);
    assert.equal(inUse.json.error.code, 'CertificateInUse');
  });
});

test('20 concurrent PATCHes to different fields of one app all land', async () => {
  await arm.call('PUT', `${appPath('busy')}?${V}`, appBody({ targetPort: echo.port }));
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => arm.call('PATCH', `${appPath('busy')}?${V}`, { tags: { [`t${i}`]: String(i) } })),
  );
  assert.deepEqual(results.map((r) => r.status), Array(20).fill(200));
  const tags = (await arm.call('GET', `${appPath('busy')}?${V}`)).json.tags;
  assert.deepEqual(Object.keys(tags).sort(), Array.from({ length: 20 }, (_, i) => `t${i}`).sort());
});
