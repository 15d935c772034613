// No environment setting is accepted and ignored (red team, HIGH): every member of a managed
// environment's `properties` in the schema has an entry in src/control/validation/environment-members.ts
// and a row in docs/management-api.md's `## Environment settings`; every refused value is answered 400
// with its JSON path by the real management API, storing nothing; what az sends by default is
// accepted, and its secrets are never returned.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENVIRONMENT_SCHEMA } from '../src/control/validation/schemas.ts';
import { ENVIRONMENT_MEMBERS } from '../src/control/validation/environment-members.ts';
import { useArmSession } from './support/control-fixture.ts';
import { curl, curlResult } from './support/clients.ts';
import { ROOT } from './support/cli.ts';

type Schema = { type?: string; properties?: Record<string, Schema>; additionalProperties?: unknown };
const propertiesSchema = (ENVIRONMENT_SCHEMA as Schema).properties?.['properties'];

function docsRows(): Map<string, string[]> {
  const doc = readFileSync(join(ROOT, 'docs', 'management-api.md'), 'utf8');
  const start = doc.indexOf('\n## Environment settings\n');
  assert.ok(start >= 0, 'docs/management-api.md has a section "## Environment settings"');
  const rows = new Map<string, string[]>();
  for (const line of doc.slice(start + 1).split(/\n## /)[0]!.split('\n')) {
    const match = /^\| *`?([A-Za-z.]+)`? *\|(.*)\|$/.exec(line);
    if (match && match[1] !== 'member') rows.set(match[1]!, match[2]!.split('|').map((cell) => cell.trim()));
  }
  return rows;
}

describe('the environment schema walk', () => {
  test('properties is a closed object schema; every member has an entry, and every entry is a member', () => {
    assert.equal(propertiesSchema?.additionalProperties, false);
    assert.deepEqual(Object.keys(propertiesSchema?.properties ?? {}).sort(), Object.keys(ENVIRONMENT_MEMBERS).sort());
  });

  test('every entry has its row in docs/management-api.md, starting with its status; no extra rows', () => {
    const rows = docsRows();
    for (const [name, entry] of Object.entries(ENVIRONMENT_MEMBERS)) {
      const row = rows.get(name);
      assert.ok(row, `docs/management-api.md lists \`${name}\``);
      assert.ok(row[0]?.startsWith(`${entry.status}:`), `${name}: the docs say "${entry.status}:" first (${row[0]})`);
      // An enforced member may refuse what it does not enforce (customDomainConfiguration's Key Vault reference).
      if (entry.status === 'refused' || (entry.status === 'enforced' && entry.refuse)) assert.ok(entry.refuse?.(entry.refusedExample), `${name}: the example is refused`);
      else assert.equal(entry.refuse, undefined, `${name}: a ${entry.status} member refuses nothing`);
    }
    for (const name of rows.keys()) assert.ok(name in ENVIRONMENT_MEMBERS, `${name} is a schema member`);
  });
});

describe('environment settings through the management API', () => {
  const V = 'api-version=2025-07-01';
  const session = useArmSession('certgate-env-members-', V);
  const envPath = (name: string) => `${session.group}/providers/Microsoft.App/managedEnvironments/${name}?${V}`;

  for (const [name, entry] of Object.entries(ENVIRONMENT_MEMBERS).filter(([, entry]) => entry.refuse !== undefined)) {
    test(`${name}: ${JSON.stringify(entry.refusedExample)} is 400 InvalidParameter with its path, nothing stored`, async () => {
      const path = envPath(`refused-${name.toLowerCase()}`);
      const refused = await session.arm.call('PUT', path, { location: 'local', properties: { [name]: entry.refusedExample } });
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.json.error.code, 'InvalidParameter');
      assert.equal(refused.json.error.target, `properties.${name}${entry.refuse!(entry.refusedExample)!.at}`);
      assert.match(refused.json.error.message, /refused rather than stored/);
      assert.equal((await session.arm.call('GET', path)).status, 404);
    });
  }

  test('the red-team body: an internal environment without public access is refused, and an existing one cannot be patched to it', async () => {
    const attack = { vnetConfiguration: { internal: true }, publicNetworkAccess: 'Disabled', peerAuthentication: { mtls: { enabled: true } }, peerTrafficConfiguration: { encryption: { enabled: true } }, zoneRedundant: true };
    const refused = await session.arm.call('PUT', envPath('private'), { location: 'local', properties: attack });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json.error.target, 'properties.vnetConfiguration.internal');
    for (const [member, value, target] of [
      ['vnetConfiguration', { internal: true }, 'vnetConfiguration.internal'],
      ['vnetConfiguration', { infrastructureSubnetId: '/subscriptions/x/subnets/s' }, 'vnetConfiguration.infrastructureSubnetId'],
      ['publicNetworkAccess', 'disabled', 'publicNetworkAccess'],
      ['peerAuthentication', { mtls: { enabled: true } }, 'peerAuthentication.mtls.enabled'],
      ['peerTrafficConfiguration', { encryption: { enabled: true } }, 'peerTrafficConfiguration.encryption.enabled'],
      ['customDomainConfiguration', { certificateValue: 'MII', certificatePassword: 'x' }, 'customDomainConfiguration.dnsSuffix'],
      ['customDomainConfiguration', { dnsSuffix: 'apps.example.com' }, 'customDomainConfiguration.certificateValue'],
    ] as const) {
      const patched = await session.arm.call('PATCH', `${session.envId}?${V}`, { properties: { [member]: value } });
      assert.equal(patched.status, 400, patched.text);
      assert.equal(patched.json.error.target, `properties.${target}`);
    }
    const env = (await session.arm.call('GET', `${session.envId}?${V}`)).json;
    assert.equal(env.properties.vnetConfiguration, undefined);
    assert.equal(env.properties.publicNetworkAccess, undefined);
    // The external listener still serves the environment's external apps, as the docs say.
    const app = await session.arm.call('PUT', `${session.group}/providers/Microsoft.App/containerApps/outside?${V}`, { location: 'local', properties: { managedEnvironmentId: session.envId, configuration: { ingress: { external: true, targetPort: session.fixture.echo.port } } } });
    assert.equal(app.status, 201, app.text);
    assert.equal(curlResult(await curl({ host: `outside.${env.properties.defaultDomain}`, port: session.fixture.gw.httpsPort, caFile: session.fixture.caFile })).status, 200);
  });

  test("az's default body is accepted (stored only), and no secret is returned by PUT, GET or LIST", async () => {
    const sharedKey = 'c2hhcmVkLWtleS1vZi10aGUtd29ya3NwYWNl';
    const daprKey = '11111111-2222-3333-4444-555555555555';
    const daprConnection = 'InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=https://x.example/';
    const body = {
      location: 'local',
      properties: {
        appLogsConfiguration: { destination: 'log-analytics', logAnalyticsConfiguration: { customerId: 'workspace-1', sharedKey } },
        zoneRedundant: false,
        workloadProfiles: [{ name: 'Consumption', workloadProfileType: 'Consumption' }],
        vnetConfiguration: { internal: false },
        publicNetworkAccess: 'Enabled',
        peerAuthentication: { mtls: { enabled: false } },
        peerTrafficConfiguration: { encryption: { enabled: false } },
        daprAIInstrumentationKey: daprKey,
        daprAIConnectionString: daprConnection,
        infrastructureResourceGroup: 'ME_env',
      },
    };
    const created = await session.arm.call('PUT', envPath('azdefault'), body);
    assert.equal(created.status, 201, created.text);
    const got = await session.arm.call('GET', envPath('azdefault'));
    const listed = await session.arm.call('GET', `${session.group}/providers/Microsoft.App/managedEnvironments?${V}`);
    const bySubscription = await session.arm.call('GET', `/subscriptions/${session.arm.subscription}/providers/Microsoft.App/managedEnvironments?${V}`);
    for (const text of [created.text, got.text, listed.text, bySubscription.text]) {
      assert.ok(!text.includes(sharedKey) && !text.includes(daprKey) && !text.includes('IngestionEndpoint'), `no secret in ${text.slice(0, 200)}`);
    }
    assert.deepEqual(got.json.properties.appLogsConfiguration, { destination: 'log-analytics', logAnalyticsConfiguration: { customerId: 'workspace-1' } });
    assert.equal(got.json.properties.zoneRedundant, false);
    assert.equal(got.json.properties.daprAIInstrumentationKey, undefined);
  });
});
