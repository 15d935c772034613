// The official Azure SDK for JS against certgate's management API, unmodified: `@azure/identity`'s
// ClientSecretCredential logs in at certgate's ADFS-style endpoints (MSAL underneath), and
// `@azure/arm-appcontainers` (its default api-version, the `endpoint` option, real HTTPS trusting
// certgate's CA through the pipeline's `agent` option) creates an environment and an app, reads and
// lists them, switches the app to `require` by PATCH and deletes both. The mode change is then
// checked where it matters: curl without a client certificate is refused in the TLS handshake.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { join } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { ContainerAppsAPIClient, type ContainerApp } from '@azure/arm-appcontainers';
import type { TestGateway } from './support/gateway.ts';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, type ArmClient } from './support/arm.ts';
import type { EchoApp } from './support/echo-app.ts';
import { curl, curlResult } from './support/clients.ts';
import { createCa } from '../src/pki/issue.ts';

const GROUP = 'sdk-rg';
const ENVIRONMENT = 'sdkenv';
const APP = 'sdkapp';

let fixture: ControlPlaneFixture | undefined;
let gw: TestGateway;
let arm: ArmClient;
let echo: EchoApp;
let dir: string;
let caFile: string;
let agent: https.Agent;
let credential: ClientSecretCredential;
let client: ContainerAppsAPIClient;
let ids: ControlPlaneFixture['ids'];
const sent: { method: string; url: string; status: number }[] = [];

before(async () => {
  fixture = await startControlPlaneFixture('certgate-sdk-');
  ({ dir, ids, echo, gw, caFile } = fixture);
  const credentials = gw.credentials!;
  // The SDK has no resource-group operations (that is @azure/arm-resources): make the group directly.
  arm = await armClient(credentials, gw.caPem);
  const group = await arm.call('PUT', `/subscriptions/${credentials.subscriptionId}/resourcegroups/${GROUP}?api-version=2021-04-01`, { location: 'local' });
  assert.equal(group.status, 201, group.text);

  // Trust certgate's CA for this process's SDK traffic only (NODE_EXTRA_CA_CERTS would do the same,
  // but only when set before the process starts).
  agent = new https.Agent({ ca: gw.caPem, keepAlive: true });
  credential = new ClientSecretCredential('adfs', credentials.clientId, credentials.clientSecret, {
    authorityHost: credentials.endpoint,
    disableInstanceDiscovery: true,
    agent,
  });
  client = new ContainerAppsAPIClient(credential, credentials.subscriptionId, {
    endpoint: credentials.endpoint,
    agent,
    // Observes only: what the SDK sent and what it got.
    additionalPolicies: [
      {
        position: 'perCall',
        policy: {
          name: 'certgate-test-recorder',
          async sendRequest(request, next) {
            const response = await next(request);
            sent.push({ method: request.method, url: request.url, status: response.status });
            return response;
          },
        },
      },
    ],
  });
});

after(async () => {
  agent?.destroy();
  await arm?.close();
  await fixture?.close();
});

/** The management requests certgate logged (method, path, status), for asserting what the SDK sent. */
function managementRequests(): { method: string; path: string; status: number }[] {
  return gw.logs
    .filter((line) => line['msg'] === 'management request')
    .map((line) => ({ method: String(line['method']), path: String(line['path']), status: Number(line['status']) }));
}

test('ClientSecretCredential (MSAL, tenant "adfs", authorityHost = the endpoint) gets a token from certgate', async () => {
  const before = managementRequests().length;
  const token = await credential.getToken(`${gw.credentials!.endpoint}/.default`);
  assert.ok(token, 'a token');
  assert.match(token.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.ok(token.expiresOnTimestamp > Date.now() + 30 * 60_000, 'valid for most of an hour');
  const oauth = managementRequests().slice(before);
  assert.deepEqual(
    oauth.map((request) => `${request.method} ${request.path} ${request.status}`),
    ['GET /adfs/.well-known/openid-configuration 200', 'POST /adfs/oauth2/token 200'],
  );
});

test('the SDK creates, reads, lists, patches and deletes; the PATCH to require is enforced in the handshake', async () => {
  const { subscriptionId, endpoint } = gw.credentials!;
  const before = managementRequests().length;

  // Create: 201 with provisioningState Succeeded finishes the LRO without polling.
  const environment = await client.managedEnvironments.createOrUpdate(GROUP, ENVIRONMENT, { location: 'local' });
  assert.equal(environment.provisioningState, 'Succeeded');
  assert.equal(environment.name, ENVIRONMENT);
  assert.equal(environment.defaultDomain, `${ENVIRONMENT}.certgate.localhost`);
  const envId = `/subscriptions/${subscriptionId}/resourceGroups/${GROUP}/providers/Microsoft.App/managedEnvironments/${ENVIRONMENT}`;
  assert.equal(environment.id, envId);

  const created = await client.containerApps.createOrUpdate(GROUP, APP, {
    location: 'local',
    managedEnvironmentId: environment.id,
    configuration: { ingress: { external: true, targetPort: echo.port, transport: 'auto', clientCertificateMode: 'ignore' } },
  });
  const appId = `/subscriptions/${subscriptionId}/resourceGroups/${GROUP}/providers/Microsoft.App/containerApps/${APP}`;
  assert.equal(created.id, appId);
  assert.equal(created.provisioningState, 'Succeeded');
  const fqdn = created.configuration?.ingress?.fqdn;
  assert.equal(fqdn, `${APP}.${environment.defaultDomain}`);

  // Get, and list at both scopes (paged iterators).
  const got = await client.containerApps.get(GROUP, APP);
  assert.equal(got.id, appId);
  assert.equal(got.managedEnvironmentId, envId);
  assert.equal(got.configuration?.ingress?.clientCertificateMode, 'ignore');
  const inGroup: ContainerApp[] = [];
  for await (const app of client.containerApps.listByResourceGroup(GROUP)) inGroup.push(app);
  assert.deepEqual(inGroup.map((app) => app.id), [appId]);
  const inSubscription: ContainerApp[] = [];
  for await (const app of client.containerApps.listBySubscription()) inSubscription.push(app);
  assert.deepEqual(inSubscription.map((app) => app.id), [appId]);
  const environments: string[] = [];
  for await (const env of client.managedEnvironments.listBySubscription()) environments.push(env.id!);
  assert.deepEqual(environments, [envId]);

  // Served without a certificate while the mode is ignore.
  const open = await curl({ host: fqdn!, port: gw.httpsPort, caFile });
  assert.equal(open.code, 0, open.stderr);
  assert.equal(curlResult(open).status, 200);

  // PATCH (JSON Merge Patch; the SDK's type makes location required). Answered only once enforced.
  const updated = await client.containerApps.update(GROUP, APP, {
    location: 'local',
    configuration: { ingress: { clientCertificateMode: 'require' } },
  });
  assert.equal(updated.configuration?.ingress?.clientCertificateMode, 'require');
  assert.equal(updated.configuration?.ingress?.targetPort, echo.port, 'the merge patch kept the other ingress settings');
  assert.equal((await client.containerApps.get(GROUP, APP)).configuration?.ingress?.clientCertificateMode, 'require');

  const received = echo.received.length;
  const refused = await curl({ host: fqdn!, port: gw.httpsPort, caFile });
  assert.notEqual(refused.code, 0, 'the handshake fails without a client certificate');
  // The lingering close (src/ingress/listener/lingering-close.ts) keeps the TLS 1.3 alert 116 from being lost to a reset.
  assert.match(refused.stderr, /alert certificate required/);
  assert.equal(echo.received.length, received, 'nothing reached the app');
  const withCertificate = await curl({ host: fqdn!, port: gw.httpsPort, caFile, cert: ids.self.p12File, certType: 'P12', password: 'test' });
  assert.equal(withCertificate.code, 0, withCertificate.stderr);
  assert.equal(curlResult(withCertificate).status, 200);
  assert.equal(echo.received.at(-1)?.headers['x-forwarded-client-cert'], ids.self.expected);

  // Delete (200, then 204 for what is already gone); the LRO finishes without polling.
  await client.containerApps.delete(GROUP, APP);
  await assert.rejects(client.containerApps.get(GROUP, APP), (error: Error & { statusCode?: number; code?: string }) => {
    assert.equal(error.statusCode, 404);
    assert.equal(error.code, 'ResourceNotFound');
    return true;
  });
  await client.containerApps.delete(GROUP, APP);
  await client.managedEnvironments.delete(GROUP, ENVIRONMENT);
  const remaining: ContainerApp[] = [];
  for await (const app of client.containerApps.listBySubscription()) remaining.push(app);
  assert.deepEqual(remaining, []);

  // What went over the wire: every request to certgate's endpoint with the SDK's default api-version,
  // no polling requests (each LRO is one request).
  assert.deepEqual(
    sent.map((request) => `${request.method} ${request.status}`),
    [
      'PUT 201', 'PUT 201', 'GET 200', 'GET 200', 'GET 200', 'GET 200', 'PATCH 200', 'GET 200',
      'DELETE 200', 'GET 404', 'DELETE 204', 'DELETE 200', 'GET 200',
    ],
  );
  for (const request of sent) {
    const url = new URL(request.url);
    assert.equal(url.origin, endpoint);
    assert.ok(url.pathname.startsWith(`/subscriptions/${subscriptionId}/`), url.pathname);
    assert.equal(url.searchParams.get('api-version'), '2026-07-01');
  }
  // certgate saw the same, besides the token requests: the SDK asks for the scope
  // https://management.azure.com/.default whatever the endpoint, so MSAL fetched a second token
  // (certgate issues it for that audience). Error answers (the GET 404) are logged too.
  const logged = managementRequests().slice(before);
  const oauth = logged.filter((request) => request.path.startsWith('/adfs/')).map((request) => `${request.method} ${request.path} ${request.status}`);
  assert.ok(oauth.includes('POST /adfs/oauth2/token 200'), oauth.join('\n'));
  assert.ok(oauth.every((line) => line === 'POST /adfs/oauth2/token 200' || line === 'GET /adfs/.well-known/openid-configuration 200'), oauth.join('\n'));
  assert.equal(logged.filter((request) => !request.path.startsWith('/adfs/')).length, sent.length);
});

test("certgate's verification members through the unmodified SDK: a PATCH keeps them; a read-modify-PUT drops them (measured)", async () => {
  const { subscriptionId } = gw.credentials!;
  const environment = await client.managedEnvironments.createOrUpdate(GROUP, 'sdkverify', { location: 'local' });
  const root = await createCa({ commonName: 'SDK devices root' });
  const anchor = await arm.call('PUT', `${environment.id}/certificates/root?api-version=2025-01-01`, {
    location: 'local',
    properties: { certificateType: 'ClientCertificateTrustAnchor', value: Buffer.from(root.certPem).toString('base64') },
  });
  assert.equal(anchor.status, 201, anchor.text);
  const anchorId = (JSON.parse(anchor.text) as { id: string }).id;
  const appPath = `/subscriptions/${subscriptionId}/resourceGroups/${GROUP}/providers/Microsoft.App/containerApps/sdkverify`;
  const put = await arm.call('PUT', `${appPath}?api-version=2025-01-01`, {
    location: 'local',
    properties: { managedEnvironmentId: environment.id, configuration: { ingress: { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [anchorId] } } },
  });
  assert.equal(put.status, 201, put.text);
  const got = await client.containerApps.get(GROUP, 'sdkverify');
  assert.equal(got.configuration?.ingress?.clientCertificateMode, 'require');
  // The SDK reads the app; the PATCH it sends names only what it changes, so the extension stays.
  await client.containerApps.update(GROUP, 'sdkverify', { location: 'local', configuration: { ingress: { allowInsecure: false } } });
  const after = JSON.parse((await arm.call('GET', `${appPath}?api-version=2025-01-01`)).text) as { properties: { configuration: { ingress: Record<string, unknown> } } };
  assert.deepEqual(after.properties.configuration.ingress['clientCertificateTrustAnchors'], [anchorId]);
  // A read-modify-PUT: the SDK's models drop members they do not know, so the PUT it sends has no
  // verification and replaces the app's (documented in docs/management-api.md: use PATCH). This
  // asserts the measured behaviour, so a change in the SDK or in certgate is noticed.
  const read = await client.containerApps.get(GROUP, 'sdkverify');
  assert.equal((read.configuration?.ingress as Record<string, unknown> | undefined)?.['clientCertificateTrustAnchors'], undefined, 'the SDK does not surface the extension');
  await client.containerApps.createOrUpdate(GROUP, 'sdkverify', read);
  const afterPut = JSON.parse((await arm.call('GET', `${appPath}?api-version=2025-01-01`)).text) as { properties: { configuration: { ingress: Record<string, unknown> } } };
  assert.equal(afterPut.properties.configuration.ingress['clientCertificateTrustAnchors'], undefined);
  await client.containerApps.delete(GROUP, 'sdkverify');
  await arm.call('DELETE', `${environment.id}/certificates/root?api-version=2025-01-01`);
  await client.managedEnvironments.delete(GROUP, 'sdkverify');
});
