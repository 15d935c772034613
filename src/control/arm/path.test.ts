import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArmPath, splitRequestTarget } from './path.ts';

test('repeated slashes collapse and the query is kept apart', () => {
  const target = splitRequestTarget('//subscriptions//s1/resourceGroups/rg/?api-version=2025-01-01&x=a%2Bb');
  assert.equal(target.path, '/subscriptions/s1/resourceGroups/rg');
  assert.equal(target.query.get('api-version'), '2025-01-01');
  assert.equal(target.query.get('x'), 'a+b');
});

test('fixed segments match in any casing; names keep theirs', () => {
  assert.deepEqual(parseArmPath('/SUBSCRIPTIONS/S1/resourcegroups/My-RG/providers/microsoft.app/CONTAINERAPPS/App1'), {
    kind: 'resource', subscription: 'S1', group: 'My-RG', resourceType: 'containerApps', name: 'App1',
  });
  assert.deepEqual(parseArmPath(splitRequestTarget('/subscriptions/s/resourcegroups/rg/providers/Microsoft.App//containerApps/a').path), {
    kind: 'resource', subscription: 's', group: 'rg', resourceType: 'containerApps', name: 'a',
  });
});

test('every served shape', () => {
  const base = '/subscriptions/s/resourceGroups/g/providers/Microsoft.App';
  assert.deepEqual(parseArmPath('/metadata/endpoints'), { kind: 'metadata' });
  assert.deepEqual(parseArmPath('/subscriptions'), { kind: 'subscriptions' });
  assert.deepEqual(parseArmPath('/subscriptions/s'), { kind: 'subscription', subscription: 's' });
  assert.deepEqual(parseArmPath('/subscriptions/s/providers'), { kind: 'providers', subscription: 's' });
  assert.deepEqual(parseArmPath('/subscriptions/s/providers/Microsoft.App'), { kind: 'provider', subscription: 's', namespace: 'Microsoft.App' });
  assert.deepEqual(parseArmPath('/subscriptions/s/providers/Microsoft.App/containerApps'), { kind: 'collection', subscription: 's', group: undefined, resourceType: 'containerApps' });
  assert.deepEqual(parseArmPath('/subscriptions/s/resourceGroups'), { kind: 'groups', subscription: 's' });
  assert.deepEqual(parseArmPath('/subscriptions/s/resourceGroups/g'), { kind: 'group', subscription: 's', group: 'g' });
  assert.deepEqual(parseArmPath(`${base}/managedEnvironments`), { kind: 'collection', subscription: 's', group: 'g', resourceType: 'managedEnvironments' });
  assert.deepEqual(parseArmPath(`${base}/managedEnvironments/e/certificates`), { kind: 'certificates', subscription: 's', group: 'g', environment: 'e' });
  assert.deepEqual(parseArmPath(`${base}/managedEnvironments/e/certificates/c`), { kind: 'certificate', subscription: 's', group: 'g', environment: 'e', name: 'c' });
  // What az containerapp asks besides the resources (hostname bind, certificate upload), and what it cannot have (revisions).
  assert.deepEqual(parseArmPath(`${base}/containerApps/a/listCustomHostNameAnalysis`), { kind: 'hostnameAnalysis', subscription: 's', group: 'g', name: 'a' });
  assert.deepEqual(parseArmPath(`${base}/managedEnvironments/e/checkNameAvailability`), { kind: 'environmentNameCheck', subscription: 's', group: 'g', environment: 'e' });
  assert.deepEqual(parseArmPath(`${base}/containerApps/a/revisions/r/replicas`), { kind: 'appRuntime', subscription: 's', group: 'g', name: 'a', segment: 'revisions' });
});

test('anything else is no route', () => {
  for (const path of ['/', '/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/x', '/subscriptions/s/foo', '/subscriptions/s/resourceGroups/g/providers/Microsoft.App/containerApps/a/unknown', '/subscriptions/s/resourceGroups/g/providers/Microsoft.App/containerApps/a/certificates/c', '/subscriptions/%E0%A4%A']) {
    assert.equal(parseArmPath(path), undefined, path);
  }
});
