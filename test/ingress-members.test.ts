// No ingress member is accepted and ignored (issue 11, Acceptance): every member of an app's
// `configuration.ingress` and of an environment's `ingressConfiguration` in the schemas has an entry
// in src/control/validation/ingress-members.ts and a row in docs/ingress.md's `## Ingress settings`,
// and every value refused there is answered 400 with its JSON path by the real management API,
// storing nothing. A member added to a schema without an entry fails here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENVIRONMENT_SCHEMA, INGRESS_SCHEMA } from '../src/control/validation/schemas.ts';
import { APP_INGRESS_MEMBERS, ENVIRONMENT_INGRESS_MEMBERS, type IngressMember } from '../src/control/validation/ingress-members.ts';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, createGroupAndEnvironment, type ArmClient } from './support/arm.ts';
import { ROOT } from './support/cli.ts';

type Schema = { type?: string; properties?: Record<string, Schema>; additionalProperties?: unknown };

/** The members of an object schema, which must be closed (no member outside the list). */
function membersOf(schema: Schema | undefined, where: string): string[] {
  assert.equal(schema?.type, 'object', `${where} is an object schema, not "any"`);
  assert.equal(schema?.additionalProperties, false, `${where} refuses members it does not list`);
  return Object.keys(schema?.properties ?? {});
}

const appMembers = membersOf(INGRESS_SCHEMA as Schema, 'properties.configuration.ingress');
const environmentSchema = (ENVIRONMENT_SCHEMA as Schema).properties?.['properties']?.properties?.['ingressConfiguration'];
const environmentMembers = membersOf(environmentSchema, 'properties.ingressConfiguration');
const tables: [string, string[], Readonly<Record<string, IngressMember>>, string][] = [
  ['properties.configuration.ingress', appMembers, APP_INGRESS_MEMBERS, ''],
  ['properties.ingressConfiguration', environmentMembers, ENVIRONMENT_INGRESS_MEMBERS, 'ingressConfiguration.'],
];

/** docs/ingress.md's `## Ingress settings` rows: first cell (the member, backticks optional) → the other cells. */
function docsRows(): Map<string, string[]> {
  const doc = readFileSync(join(ROOT, 'docs', 'ingress.md'), 'utf8');
  const start = doc.indexOf('\n## Ingress settings\n');
  assert.ok(start >= 0, 'docs/ingress.md has a section "## Ingress settings"');
  const section = doc.slice(start + 1).split(/\n## /)[0]!;
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const match = /^\| *`?([A-Za-z.]+)`? *\|(.*)\|$/.exec(line);
    if (match && match[1] !== 'member') rows.set(match[1]!, match[2]!.split('|').map((cell) => cell.trim()));
  }
  return rows;
}

describe('the schema walk', () => {
  for (const [path, members, table, prefix] of tables) {
    test(`every member of ${path} has an entry, and every entry is a member`, () => {
      assert.deepEqual([...members].sort(), Object.keys(table).sort());
    });

    test(`every entry of ${path} is covered: status, description, a test that exists and proves it`, () => {
      for (const [name, entry] of Object.entries(table)) {
        assert.ok(['enforced', 'refused', 'read-only'].includes(entry.status), `${name}: status`);
        assert.ok(entry.does.length > 0 && !entry.does.includes('\n'), `${name}: a one-line description`);
        const file = join(ROOT, entry.test);
        assert.ok(existsSync(file), `${name}: ${entry.test} exists`);
        if (entry.status === 'refused') {
          // This file sends each refused example through the API (below).
          assert.equal(entry.test, 'test/ingress-members.test.ts', `${name}: refused values are proved here`);
          assert.ok(entry.refuse && entry.refusedExample !== undefined, `${name}: a refusal and an example`);
          assert.equal(typeof entry.refuse(entry.refusedExample), 'string', `${name}: the example is refused`);
        } else {
          assert.equal(entry.refuse, undefined, `${name}: an ${entry.status} member refuses nothing`);
          assert.match(readFileSync(file, 'utf8'), new RegExp(`\\b${name}\\b`), `${name}: ${entry.test} exercises it`);
        }
      }
    });

    test(`every member of ${path} has its row in docs/ingress.md with the same status and test`, () => {
      const rows = docsRows();
      for (const [name, entry] of Object.entries(table)) {
        const row = rows.get(`${prefix}${name}`);
        assert.ok(row, `docs/ingress.md lists \`${prefix}${name}\``);
        // "what certgate does" starts with the status: "enforced: ...", "refused: ...", "read-only: ...".
        assert.ok(row[0]?.startsWith(`${entry.status}:`), `${prefix}${name}: the docs say "${entry.status}:" first (${row[0]})`);
        assert.ok(row.some((cell) => cell.includes(entry.test)), `${prefix}${name}: the docs name ${entry.test}`);
      }
    });
  }

  test('the docs table lists no member the schemas do not have', () => {
    const known = new Set(tables.flatMap(([, members, , prefix]) => members.map((member) => `${prefix}${member}`)));
    for (const name of docsRows().keys()) assert.ok(known.has(name), `${name} is a schema member`);
  });
});

describe('refused values through the management API: 400 with the JSON path, nothing stored', () => {
  const V = 'api-version=2025-07-01';
  let fixture: ControlPlaneFixture | undefined;
  let arm: ArmClient;
  let group: string;
  let envId: string;
  before(async () => {
    fixture = await startControlPlaneFixture('certgate-members-');
    arm = await armClient(fixture.gw.credentials!, fixture.gw.caPem);
    ({ group, envId } = await createGroupAndEnvironment(arm, V));
  });
  after(async () => {
    await arm?.close();
    await fixture?.close();
  });
  const appBody = (ingress: Record<string, unknown>) => ({ location: 'local', properties: { managedEnvironmentId: envId, configuration: { ingress } } });

  for (const [name, entry] of Object.entries(APP_INGRESS_MEMBERS).filter(([, entry]) => entry.status === 'refused')) {
    test(`ingress.${name}: ${JSON.stringify(entry.refusedExample)}`, async () => {
      const path = `${group}/providers/Microsoft.App/containerApps/refused-${name.toLowerCase()}?${V}`;
      const refused = await arm.call('PUT', path, appBody({ targetPort: 8080, [name]: entry.refusedExample }));
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.json.error.code, 'InvalidParameter');
      // The member itself, or the entry of it at fault (traffic[1], stickySessions.affinity).
      assert.match(refused.json.error.target, new RegExp(`^properties\\.configuration\\.ingress\\.${name}\\b`));
      // The message says why certgate cannot apply it (the table's reason, or the precise check's).
      assert.match(refused.json.error.message, /refused rather than stored|not supported|certgate/);
      assert.equal((await arm.call('GET', path)).status, 404);
    });
  }

  for (const [name, entry] of Object.entries(ENVIRONMENT_INGRESS_MEMBERS).filter(([, entry]) => entry.status === 'refused')) {
    test(`ingressConfiguration.${name}: ${JSON.stringify(entry.refusedExample)}`, async () => {
      const path = `${group}/providers/Microsoft.App/managedEnvironments/refused-${name.toLowerCase()}?${V}`;
      const refused = await arm.call('PUT', path, { location: 'local', properties: { ingressConfiguration: { [name]: entry.refusedExample } } });
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.json.error.target, `properties.ingressConfiguration.${name}`);
      assert.equal((await arm.call('GET', path)).status, 404);
    });
  }

  // Once the schema has it, the table covers it (above) and this case no longer applies.
  test('what az sends by default is accepted: external, transport auto, the latest revision at 100%, no affinity', async () => {
    const path = `${group}/providers/Microsoft.App/containerApps/az-default?${V}`;
    const ingress = { external: true, targetPort: 8080, transport: 'Auto', exposedPort: 0, traffic: [{ latestRevision: true, weight: 100 }], stickySessions: { affinity: 'none' }, ipSecurityRestrictions: [], additionalPortMappings: [] };
    const created = await arm.call('PUT', path, appBody(ingress));
    assert.equal(created.status, 201, created.text);
  });
});
