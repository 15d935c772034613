// The real Azure CLI (Debian's `azure-cli` package, az 2.45, installed by .ci/run) against
// certgate's management API, as docs/azure-clients.md tells users to run it: register certgate as a
// cloud, log in with the service principal from admin-credentials.json, find the app's id with
// `az resource show`, switch it to `require` with the documented `az rest --method patch`, and see
// the ingress refuse a client without a certificate in the TLS handshake.
//
// az 2.45 predates `az containerapp` (2.53+); the two requests `az containerapp show` makes
// (provider registration, then the app) are checked with plain HTTPS calls at the end.
//
// Each az command takes about a second: this file runs ten of them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { TestGateway } from './support/gateway.ts';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, createSeedApp, type ArmClient } from './support/arm.ts';
import type { EchoApp } from './support/echo-app.ts';
import { curl, curlResult } from './support/clients.ts';
import { P12_PASSWORD } from './support/vectors.ts';

const GROUP = 'az-rg';
const ENVIRONMENT = 'azenv';
const APP = 'azapp';
/** The body docs/azure-clients.md gives (and az sends it re-serialised, with spaces after ':' and ','). */
const DOC_BODY = '{"properties":{"configuration":{"ingress":{"clientCertificateMode":"require"}}}}';

let fixture: ControlPlaneFixture | undefined;
let gw: TestGateway;
let arm: ArmClient;
let echo: EchoApp;
let dir: string;
let caFile: string;
let endpoint: string;
let subscription: string;
let appId: string;
let fqdn: string;
let ids: ControlPlaneFixture['ids'];

function azPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v az'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

interface AzResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One az command with its own config dir, certgate's CA trusted, no telemetry; at most 60 s. */
function az(...args: string[]): Promise<AzResult> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: dir,
    LANG: 'C.UTF-8',
    AZURE_CONFIG_DIR: join(dir, 'azure'),
    REQUESTS_CA_BUNDLE: caFile,
    AZURE_CORE_COLLECT_TELEMETRY: 'false',
    AZURE_CORE_NO_COLOR: 'true',
    AZURE_CORE_SURVEY_MESSAGE: 'false',
  };
  return new Promise((resolve) => {
    execFile('az', args, { env, timeout: 60_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function ok(result: AzResult, what: string): string {
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}):\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

before(async () => {
  assert.ok(azPath(), 'the Azure CLI (az) is not installed: on Debian, `apt-get install azure-cli` (.ci/run does)');
  fixture = await startControlPlaneFixture('certgate-az-');
  ({ dir, ids, echo, gw, caFile } = fixture);
  endpoint = gw.credentials!.endpoint;
  subscription = gw.credentials!.subscriptionId;
  // The app the seed flow changes, created over plain HTTPS (az has nothing to do with that part).
  arm = await armClient(gw.credentials!, gw.caPem);
  ({ appId, fqdn } = await createSeedApp(arm, { group: GROUP, environment: ENVIRONMENT, app: APP }, echo.port));
});

after(async () => {
  await arm?.close();
  await fixture?.close();
});

describe('az 2.45 (Debian azure-cli) against certgate', { concurrency: false }, () => {
  test('az cloud register + az cloud set: reads certgate\'s /metadata/endpoints', async () => {
    ok(await az('cloud', 'register', '-n', 'certgate', '--endpoint-resource-manager', `${endpoint}/`), 'az cloud register');
    ok(await az('cloud', 'set', '-n', 'certgate'), 'az cloud set');
    const metadata = gw.logs.filter((line) => line['msg'] === 'management request' && line['path'] === '/metadata/endpoints');
    assert.ok(metadata.length >= 1, 'az read the cloud metadata from certgate');
  });

  test('az login --service-principal with the credentials file', async () => {
    const { clientId, clientSecret, tenantId } = gw.credentials!;
    const out = ok(await az('login', '--service-principal', '-u', clientId, '-p', clientSecret, '--tenant', tenantId, '-o', 'json'), 'az login');
    const accounts = JSON.parse(out) as { id: string; state: string; cloudName: string; isDefault: boolean; user: { name: string; type: string } }[];
    assert.equal(accounts.length, 1);
    assert.deepEqual(
      { id: accounts[0]!.id, state: accounts[0]!.state, cloudName: accounts[0]!.cloudName, isDefault: accounts[0]!.isDefault, user: accounts[0]!.user },
      { id: subscription, state: 'Enabled', cloudName: 'certgate', isDefault: true, user: { name: clientId, type: 'servicePrincipal' } },
    );
  });

  test('az resource show prints the app id (by group/name/type and by --ids)', async () => {
    const byName = ok(
      await az('resource', 'show', '-g', GROUP, '-n', APP, '--resource-type', 'Microsoft.App/containerApps', '--api-version', '2025-01-01', '--query', 'id', '-o', 'tsv'),
      'az resource show -g -n',
    );
    assert.equal(byName.trim(), appId);
    // Without --api-version az first reads the provider's registration to pick one.
    const byId = ok(await az('resource', 'show', '--ids', appId, '--query', 'id', '-o', 'tsv'), 'az resource show --ids');
    assert.equal(byId.trim(), appId);
  });

  test('the documented az rest --method patch switches the app to require; the handshake then refuses a client without a certificate', async () => {
    const open = await curl({ host: fqdn, port: gw.httpsPort, caFile });
    assert.equal(open.code, 0, open.stderr);
    assert.equal(curlResult(open).status, 200);

    const patched = ok(await az('rest', '--method', 'patch', '--url', `${endpoint}/${appId}?api-version=2025-01-01`, '--body', DOC_BODY), 'az rest --method patch');
    const body = JSON.parse(patched);
    assert.equal(body.id, appId);
    assert.equal(body.properties.configuration.ingress.clientCertificateMode, 'require');
    assert.equal(body.properties.configuration.ingress.targetPort, echo.port, 'a merge patch: the rest of ingress is kept');
    assert.equal(body.properties.provisioningState, 'Succeeded');

    const mode = ok(
      await az('rest', '--method', 'get', '--url', `${endpoint}/${appId}?api-version=2025-01-01`, '--query', 'properties.configuration.ingress.clientCertificateMode', '-o', 'tsv'),
      'az rest --method get',
    );
    assert.equal(mode.trim(), 'require');

    const received = echo.received.length;
    const refused = await curl({ host: fqdn, port: gw.httpsPort, caFile });
    assert.notEqual(refused.code, 0, 'the handshake fails without a client certificate');
    // The lingering close (src/ingress/listener/lingering-close.ts) keeps the TLS 1.3 alert 116 from being lost to a reset.
    assert.match(refused.stderr, /alert certificate required/);
    assert.equal(echo.received.length, received, 'nothing reached the app');

    const accepted = await curl({ host: fqdn, port: gw.httpsPort, caFile, cert: ids.self.p12File, certType: 'P12', password: P12_PASSWORD });
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.equal(curlResult(accepted).status, 200);
    assert.equal(echo.received.at(-1)?.headers['x-forwarded-client-cert'], ids.self.expected);
  });

  test('errors: az exits non-zero and prints the ARM error code and message', async () => {
    const missing = `/subscriptions/${subscription}/resourceGroups/${GROUP}/providers/Microsoft.App/containerApps/nope`;
    // az rest (2.45) prints `ERROR: <reason>(<body>)`.
    const notFound = await az('rest', '--method', 'get', '--url', `${endpoint}${missing}?api-version=2025-01-01`);
    assert.notEqual(notFound.code, 0);
    assert.match(notFound.stderr, /^ERROR: Not Found\(\{"error":\{"code":"ResourceNotFound","message":"The Resource 'Microsoft\.App\/containerApps\/nope' under resource group 'az-rg' was not found\."\}\}\)/m);
    const invalid = await az('rest', '--method', 'patch', '--url', `${endpoint}/${appId}?api-version=2025-01-01`, '--body', '{"properties":{"configuration":{"ingress":{"clientCertificateMode":7}}}}');
    assert.notEqual(invalid.code, 0);
    assert.match(invalid.stderr, /^ERROR: Bad Request\(\{"error":\{"code":"InvalidRequestContent","message":"[^"]*clientCertificateMode[^"]*"/m);
    // Typed commands (az resource, and az containerapp on newer az) print `ERROR: (Code) message`.
    const show = await az('resource', 'show', '-g', GROUP, '-n', 'nope', '--resource-type', 'Microsoft.App/containerApps', '--api-version', '2025-01-01');
    assert.notEqual(show.code, 0);
    assert.match(show.stderr, /^ERROR: \(ResourceNotFound\) The Resource 'Microsoft\.App\/containerApps\/nope' under resource group 'az-rg' was not found\./m);
  });
});

describe('az 2.45: az deployment group create', { concurrency: false }, () => {
  test("the seed's template deploys (az 2.45 sends the template file spliced in, comments and all)", async () => {
    const template = join(import.meta.dirname, 'fixtures', 'deployments', 'seed.json');
    const state = ok(await az('deployment', 'group', 'create', '-g', GROUP, '-n', 'seed', '--template-file', template, '--parameters', 'appName=tplapp', `targetPort=${echo.port}`, '--query', 'properties.provisioningState', '-o', 'tsv'), 'az deployment group create');
    assert.equal(state.trim(), 'Succeeded');
    const app = await arm.call('GET', `/subscriptions/${subscription}/resourceGroups/${GROUP}/providers/Microsoft.App/containerApps/tplapp?api-version=2025-01-01`);
    assert.equal(app.json.properties.configuration.ingress.clientCertificateMode, 'require');
  });
});

describe('what `az containerapp show` (az 2.53+) needs, as plain requests', () => {
  test('GET the Microsoft.App provider at api-version 2024-11-01: registrationState Registered', async () => {
    const provider = await arm.call('GET', `/subscriptions/${subscription}/providers/Microsoft.App?api-version=2024-11-01`);
    assert.equal(provider.status, 200, provider.text);
    assert.equal(provider.json.namespace, 'Microsoft.App');
    assert.equal(provider.json.registrationState, 'Registered');
    const containerApps = (provider.json.resourceTypes as { resourceType: string; apiVersions: string[] }[]).find((type) => type.resourceType === 'containerApps');
    assert.ok(containerApps?.apiVersions.includes('2025-01-01'));
  });

  test('GET the app at api-version 2025-01-01 (the path as az 2.74 builds it): id for --query id -o tsv', async () => {
    const app = await arm.call('GET', `/subscriptions/${subscription}/resourceGroups/${GROUP}/providers/Microsoft.App/containerApps/${APP}?api-version=2025-01-01`);
    assert.equal(app.status, 200, app.text);
    assert.equal(app.json.id, appId);
    assert.equal(app.json.type, 'Microsoft.App/containerApps');
    const missing = await arm.call('GET', `/subscriptions/${subscription}/resourceGroups/${GROUP}/providers/Microsoft.App/containerApps/nope?api-version=2025-01-01`);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, 'ResourceNotFound');
    assert.equal(typeof missing.json.error.message, 'string');
  });
});
