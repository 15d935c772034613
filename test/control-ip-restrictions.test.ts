// ipSecurityRestrictions through the management API: a list the ingress could not enforce as
// written (Allow mixed with Deny, a range that is no CIDR) is a 400 naming the member, and changes
// nothing; a valid one is answered only once the ingress enforces it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { armClient, type ArmClient } from './support/arm.ts';
import { curl, curlResult } from './support/clients.ts';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';

const V = 'api-version=2025-01-01';
let fixture: ControlPlaneFixture;
let arm: ArmClient;
let envId: string;
let appPath: string;

before(async () => {
  fixture = await startControlPlaneFixture('certgate-iprules-');
  arm = await armClient(fixture.gw.credentials!, fixture.gw.caPem);
  const group = `/subscriptions/${arm.subscription}/resourceGroups/rg1`;
  assert.equal((await arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' })).status, 201);
  const env = await arm.call('PUT', `${group}/providers/Microsoft.App/managedEnvironments/env1?${V}`, { location: 'local', properties: {} });
  envId = env.json.id;
  appPath = `${group}/providers/Microsoft.App/containerApps/guarded?${V}`;
  const created = await arm.call('PUT', appPath, { location: 'local', properties: { managedEnvironmentId: envId, configuration: { ingress: { external: true, targetPort: fixture.echo.port } } } });
  assert.equal(created.status, 201, created.text);
});

after(async () => {
  await arm?.close();
  await fixture?.close();
});

const patch = (rules: unknown[]) => arm.call('PATCH', appPath, { properties: { configuration: { ingress: { ipSecurityRestrictions: rules } } } });

test('mixed Allow and Deny rules: 400 naming the first rule that differs, nothing changed', async () => {
  const before = JSON.stringify((await arm.call('GET', appPath)).json);
  const result = await patch([
    { name: 'a', ipAddressRange: '127.0.0.2/32', action: 'Allow' },
    { name: 'b', ipAddressRange: '10.0.0.0/8', action: 'Deny' },
  ]);
  assert.equal(result.status, 400, result.text);
  assert.equal(result.json.error.code, 'InvalidParameter');
  assert.equal(result.json.error.target, 'properties.configuration.ingress.ipSecurityRestrictions[1].action');
  assert.match(result.json.error.message, /all Allow or all Deny/);
  assert.equal(JSON.stringify((await arm.call('GET', appPath)).json), before);
});

test('a range that is no address or CIDR: 400 naming it, nothing changed', async () => {
  const before = JSON.stringify((await arm.call('GET', appPath)).json);
  for (const range of ['10.0.0.0/33', 'example.com', '10.0.0', '::1/129', '']) {
    const result = await patch([{ name: 'a', ipAddressRange: range, action: 'Deny' }]);
    assert.equal(result.status, 400, `${range}: ${result.text}`);
    assert.equal(result.json.error.target, 'properties.configuration.ingress.ipSecurityRestrictions[0].ipAddressRange');
  }
  assert.equal(JSON.stringify((await arm.call('GET', appPath)).json), before);
});

test('an accepted Allow list is enforced when the write returns: 127.0.0.2 served, 127.0.0.3 refused', async () => {
  const result = await patch([{ name: 'two', ipAddressRange: '127.0.0.2', action: 'Allow' }]);
  assert.equal(result.status, 200, result.text);
  const host = 'guarded.env1.certgate.localhost';
  const inside = await curl({ host, port: fixture.gw.httpsPort, caFile: fixture.caFile, extra: ['--interface', '127.0.0.2'] });
  assert.equal(curlResult(inside).status, 200, inside.stderr);
  const outside = await curl({ host, port: fixture.gw.httpsPort, caFile: fixture.caFile, extra: ['--interface', '127.0.0.3'] });
  assert.match(outside.stderr, /alert access denied/);
});
