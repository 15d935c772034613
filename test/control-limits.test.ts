// Size and count bounds of management-API documents, over real HTTPS: every body over a bound is a
// 400 (413 for the body size) with an ARM error naming the JSON path, and changes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, type ArmClient, type ArmResult } from './support/arm.ts';
import { LIMITS } from '../src/control/validation/limits.ts';

const V = 'api-version=2025-01-01';
let fixture: ControlPlaneFixture | undefined;
let arm: ArmClient;
let group: string;
let envId: string;
const appPath = (name: string) => `${group}/providers/Microsoft.App/containerApps/${name}?${V}`;
const appBody = (extra: Record<string, unknown> = {}) => ({
  location: 'local',
  properties: { managedEnvironmentId: envId, configuration: { ingress: { targetPort: fixture!.echo.port } }, template: { containers: [{ name: 'main', image: 'example/app:1' }] } },
  ...extra,
});
const tags = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`tag${i}`, `value${i}`]));
const rawJson = (method: string, path: string, text: string) => arm.raw(method, path, text, { authorization: `Bearer ${arm.token}`, 'content-type': 'application/json' });

before(async () => {
  fixture = await startControlPlaneFixture('certgate-limits-');
  arm = await armClient(fixture.gw.credentials!, fixture.gw.caPem);
  group = `/subscriptions/${arm.subscription}/resourceGroups/limits`;
  assert.equal((await arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' })).status, 201);
  const env = await arm.call('PUT', `${group}/providers/Microsoft.App/managedEnvironments/env1?${V}`, { location: 'local', properties: {} });
  assert.equal(env.status, 201, env.text);
  envId = env.json.id;
  assert.equal((await arm.call('PUT', appPath('victim'), appBody({ tags: tags(30) }))).status, 201);
});

after(async () => {
  await arm?.close();
  await fixture?.close();
});

function badRequest(result: ArmResult, target: string | undefined, message: RegExp, status = 400) {
  assert.equal(result.status, status, result.text);
  assert.equal(result.json?.error?.code, status === 413 ? 'RequestEntityTooLarge' : 'InvalidRequestContent', result.text);
  if (target !== undefined) assert.equal(result.json.error.target, target, result.text);
  assert.match(result.json.error.message, message);
}

/** Runs `send`, which must be refused, and checks the victim app and the store are as they were. */
async function refusedAndUnchanged(send: () => Promise<ArmResult>, target: string | undefined, message: RegExp, status = 400) {
  const store = fixture!.gw.gateway.store;
  const before = JSON.stringify((await arm.call('GET', appPath('victim'))).json);
  const revision = await store.revision();
  badRequest(await send(), target, message, status);
  assert.equal(JSON.stringify((await arm.call('GET', appPath('victim'))).json), before, 'the app is unchanged');
  assert.equal(await store.revision(), revision, 'nothing was written');
}

test('50 tags are accepted; 51 are a 400 on PUT, on PATCH (counting the stored ones) and on a resource group', async () => {
  const fifty = await arm.call('PUT', appPath('fifty'), appBody({ tags: tags(50) }));
  assert.equal(fifty.status, 201, fifty.text);
  await refusedAndUnchanged(() => arm.call('PUT', appPath('victim'), appBody({ tags: tags(51) })), 'tags', /has 51 tags; at most 50/);
  await refusedAndUnchanged(() => arm.call('PUT', appPath('victim'), appBody({ Tags: tags(51) })), 'tags', /has 51 tags/);
  // 30 stored + 21 new: the merged document has 51.
  await refusedAndUnchanged(() => arm.call('PATCH', appPath('victim'), { tags: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`new${i}`, 'x'])) }), 'tags', /has 51 tags/);
  await refusedAndUnchanged(() => arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local', tags: tags(51) }), 'tags', /has 51 tags/);
  assert.equal((await arm.call('GET', appPath('absent'))).status, 404);
  await refusedAndUnchanged(() => arm.call('PUT', appPath('absent'), appBody({ tags: tags(51) })), 'tags', /51 tags/);
  assert.equal((await arm.call('GET', appPath('absent'))).status, 404, 'a refused PUT creates nothing');
});

test('tag names over 512 and values over 256 characters are a 400', async () => {
  await refusedAndUnchanged(() => arm.call('PATCH', appPath('victim'), { tags: { ['n'.repeat(513)]: 'v' } }), undefined, /tag name 513 characters long; at most 512/);
  await refusedAndUnchanged(() => arm.call('PATCH', appPath('victim'), { tags: { long: 'v'.repeat(257) } }), 'tags.long', /tag value 257 characters long; at most 256/);
  assert.equal((await arm.call('PATCH', appPath('victim'), { tags: { ['n'.repeat(512)]: 'v'.repeat(256) } })).status, 200);
});

test('a body nested 100,000 deep is a 400 naming the path, not a 500', async () => {
  const depth = 100_000;
  const text = `{"properties":{"configuration":{"dapr":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}}`;
  await refusedAndUnchanged(() => rawJson('PATCH', appPath('victim'), text), undefined, new RegExp(`nested deeper than ${LIMITS.depth} levels`));
  const arrays = `{"properties":{"template":{"scale":${'['.repeat(depth)}${']'.repeat(depth)}}}}`;
  await refusedAndUnchanged(() => rawJson('PUT', appPath('victim'), arrays), undefined, /nested deeper/);
  const result = await rawJson('PATCH', appPath('victim'), text);
  assert.match(result.json.error.target, /^properties\.configuration\.dapr(\.a)+$/);
});

test('a body over the size limit is a 413 and changes nothing', async () => {
  const big = JSON.stringify({ properties: { configuration: { dapr: { blob: Array.from({ length: 40 }, () => 'x'.repeat(30_000)) } } } });
  assert.ok(big.length > LIMITS.bodyBytes);
  await refusedAndUnchanged(() => rawJson('PATCH', appPath('victim'), big), undefined, /larger than 1048576 bytes/, 413);
});

test('a string over the length limit is a 400 naming its path', async () => {
  const body = appBody();
  (body.properties.template.containers[0] as Record<string, unknown>)['image'] = 'x'.repeat(LIMITS.stringLength + 1);
  await refusedAndUnchanged(() => arm.call('PUT', appPath('victim'), body), 'properties.template.containers[0].image', /characters long; at most 32768/);
});

test('arrays over their bound are a 400 naming the path (customDomains, ipSecurityRestrictions, traffic, corsPolicy, containers)', async () => {
  const ingress = (member: Record<string, unknown>) => ({ properties: { configuration: { ingress: member } } });
  const many = (count: number, item: (i: number) => unknown) => Array.from({ length: count }, (_, i) => item(i));
  await refusedAndUnchanged(() => arm.call('PATCH', appPath('victim'), ingress({ customDomains: many(101, (i) => ({ name: `d${i}.example` })) })), 'properties.configuration.ingress.customDomains', /101 items; at most 100/);
  await refusedAndUnchanged(
    () => arm.call('PATCH', appPath('victim'), ingress({ ipSecurityRestrictions: many(101, (i) => ({ name: `r${i}`, ipAddressRange: '10.0.0.0/8', action: 'Allow' })) })),
    'properties.configuration.ingress.ipSecurityRestrictions',
    /101 items/,
  );
  await refusedAndUnchanged(() => arm.call('PATCH', appPath('victim'), ingress({ traffic: many(101, () => ({ weight: 0, latestRevision: true })) })), 'properties.configuration.ingress.traffic', /101 items/);
  await refusedAndUnchanged(() => arm.call('PATCH', appPath('victim'), ingress({ corsPolicy: { allowedOrigins: many(101, (i) => `https://o${i}.example`) } })), 'properties.configuration.ingress.corsPolicy.allowedOrigins', /101 items/);
  // Member names are case-insensitive: the bound applies to any spelling.
  const { template: _template, ...properties } = appBody().properties;
  await refusedAndUnchanged(
    () => arm.call('PUT', appPath('victim'), { location: 'local', Properties: { ...properties, Template: { Containers: many(101, (i) => ({ name: `c${i}`, image: 'x' })) } } }),
    'properties.template.containers',
    /101 items/,
  );
});

test('a stored document cannot grow past its bound by PATCHes that are each small enough', async () => {
  const chunk = () => Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'x'.repeat(30_000)]));
  const first = await arm.call('PATCH', appPath('victim'), { properties: { configuration: { dapr: { a: chunk() } } } });
  assert.equal(first.status, 200, first.text);
  await refusedAndUnchanged(() => arm.call('PATCH', appPath('victim'), { properties: { configuration: { dapr: { b: chunk() } } } }), undefined, /bytes stored; at most 1048576/);
  assert.equal((await arm.call('PATCH', appPath('victim'), { properties: { configuration: { dapr: null } } })).status, 200);
});

test('a certificate name over 260 characters is a 400', async () => {
  const result = await arm.call('PUT', `${envId}/certificates/${'c'.repeat(261)}?${V}`, { location: 'local', properties: { value: 'AAAA', password: '' } });
  assert.equal(result.status, 400, result.text);
  assert.match(result.json.error.message, /261 characters long; at most 260/);
});
