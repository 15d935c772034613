import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planDeployment, TemplateError } from './template.ts';

const scope = { subscriptionId: 's', tenantId: 't', group: { id: '/subscriptions/s/resourceGroups/g', name: 'g', location: 'local' } };
const TYPES = ['Microsoft.App/managedEnvironments', 'Microsoft.App/containerApps', 'Microsoft.App/managedEnvironments/certificates'];
const env = (name: string, extra: Record<string, unknown> = {}) => ({ type: 'Microsoft.App/managedEnvironments', apiVersion: '2025-01-01', name, location: 'local', properties: {}, ...extra });
const plan = (template: Record<string, unknown>, parameters: Record<string, unknown> = {}) => planDeployment({ contentVersion: '1.0.0.0', ...template }, parameters, scope, TYPES);
const failure = (template: Record<string, unknown>, parameters: Record<string, unknown> = {}) => {
  try {
    plan(template, parameters);
  } catch (error) {
    assert.ok(error instanceof TemplateError, String(error));
    return error.message;
  }
  assert.fail('no error');
};

test('order follows dependsOn (by id, name or copy loop) and implicit reference(); conditions drop resources', () => {
  const result = plan({
    resources: [
      { type: 'Microsoft.App/containerApps', apiVersion: '2025-01-01', name: 'a', location: 'local', dependsOn: ['e'], properties: { x: "[reference('e/cert').thumbprint]" } },
      { ...env('e2'), condition: false },
      { type: 'Microsoft.App/managedEnvironments/certificates', apiVersion: '2025-01-01', name: 'e/cert', location: 'local', dependsOn: ["[resourceId('Microsoft.App/managedEnvironments', 'e')]"], properties: {} },
      env('e'),
    ],
  });
  assert.deepEqual(result.resources.map((r) => r.name), ['e', 'e/cert', 'a']);
  assert.equal(result.resources[1]!.id, '/subscriptions/s/resourceGroups/g/providers/Microsoft.App/managedEnvironments/e/certificates/cert');
  assert.deepEqual(result.resources[2]!.dependsOn.length, 2, 'explicit e, implicit e/cert');
  assert.deepEqual(result.body(result.resources[2]!, (id) => ({ thumbprint: `tp of ${id}` })).properties, { x: 'tp of /subscriptions/s/resourceGroups/g/providers/Microsoft.App/managedEnvironments/e/certificates/cert' });
});

test('copy loops (resource, property, variable) and copyIndex', () => {
  const result = plan({
    parameters: { n: { type: 'int', defaultValue: 2 } },
    variables: { copy: [{ name: 'ports', count: 2, input: "[copyIndex('ports', 8000)]" }] },
    resources: [{ ...env("[concat('e', copyIndex(1))]"), copy: { name: 'envs', count: "[parameters('n')]" }, properties: { copy: [{ name: 'items', count: 2, input: "[concat(string(copyIndex('items')), '-', string(variables('ports')[copyIndex('items')]))]" }] } }],
  });
  assert.deepEqual(result.resources.map((r) => r.name), ['e1', 'e2']);
  assert.deepEqual(result.body(result.resources[0]!, () => undefined).properties, { items: ['0-8000', '1-8001'] });
});

test('parameters: types, allowed values, defaults, unknown and missing ones; secure values are not recorded', () => {
  const template = { parameters: { name: { type: 'string', allowedValues: ['a', 'b'] }, secret: { type: 'securestring', defaultValue: 'hush' } }, resources: [] };
  assert.deepEqual(plan(template, { name: { value: 'a' } }).parameters, { name: { type: 'string', value: 'a' }, secret: { type: 'securestring' } });
  assert.match(failure(template, { name: { value: 'c' } }), /^parameters\.name: .*allowedValues/);
  assert.match(failure(template, {}), /^parameters\.name: The value of the parameter 'name' is not provided/);
  assert.match(failure(template, { name: { value: 'a' }, other: { value: 1 } }), /^properties\.parameters\.other: .*does not declare it/);
  assert.match(failure(template, { name: { value: 3 } }), /must be of type string/);
  assert.match(failure(template, { name: { reference: { keyVault: {} } } }), /Key Vault references are not supported/);
});

test('what certgate does not evaluate is an error naming it and its place', () => {
  assert.match(failure({ functions: [], resources: [] }), /^functions: 'functions' is not supported by certgate/);
  assert.match(failure({ resources: [{ ...env('e'), resources: [] }] }), /^resources\[0\]\.resources: Nested resources are not supported/);
  assert.match(failure({ resources: [{ ...env('e'), type: 'Microsoft.Storage/storageAccounts' }] }), /^resources\[0\]\.type: The resource type 'Microsoft\.Storage\/storageAccounts' is not deployed by certgate/);
  assert.match(failure({ resources: [{ ...env('e'), scope: 'x' }] }), /^resources\[0\]\.scope:/);
  assert.match(failure({ resources: [{ ...env('e'), dependsOn: ['nope'] }] }), /^resources\[0\]\.dependsOn\[0\]: 'nope' is not a resource/);
  assert.match(failure({ resources: [{ ...env('a'), dependsOn: ['b'] }, { ...env('b'), dependsOn: ['a'] }] }), /Circular dependency: a -> b -> a/);
  assert.match(failure({ resources: [{ ...env('e'), copy: { name: 'c', count: 801 } }] }), /^resources\[0\]\.copy\.count: The copy count must be an integer from 0 to 800/);
  assert.match(failure({ resources: [{ ...env('e'), name: "[newGuid()]" }] }), /^resources\[0\]\.name: The template function 'newGuid' is not supported.*at character 2/);
  assert.match(failure({ variables: { v: "[reference('x')]" }, resources: [{ ...env("[variables('v')]") }] }), /^variables\.v: The function 'reference' cannot be used in variables/);
});
