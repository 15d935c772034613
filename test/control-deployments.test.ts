// Microsoft.Resources/deployments over plain HTTPS: the body az sends (the template spliced in
// unquoted, with comments) is read on deployment paths only; the long-running pattern (201
// Accepted, an absolute Azure-AsyncOperation URL on the host the client used, Retry-After); what is
// refused (Complete mode, templateLink); deleting the record keeps the resources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useArmSession } from './support/control-fixture.ts';

const session = useArmSession('certgate-deployments-', 'api-version=2025-01-01');
const TEMPLATE = `{
  // a comment, as in a template file
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [ { "type": "Microsoft.App/managedEnvironments", "apiVersion": "2025-01-01", "name": "depenv", "location": "[resourceGroup().location]", "properties": {} } ],
  "outputs": { "domain": { "type": "string", "value": "[reference('depenv').defaultDomain]" } }
}`;
/** What az 2.74's JsonCTemplatePolicy sends: the JSON of the rest, with `, template:<file>}}` spliced in. */
const azBody = (template: string, properties: Record<string, unknown> = { mode: 'Incremental', parameters: {} }) => `${JSON.stringify({ properties }).slice(0, -2)}, template:${template}}}`;

const deployments = () => `${session.group}/providers/Microsoft.Resources/deployments`;

async function poll(url: string): Promise<{ status: string; error?: unknown }> {
  const path = new URL(url).pathname + new URL(url).search;
  for (let i = 0; i < 100; i++) {
    const status = await session.arm.call('GET', path);
    assert.equal(status.status, 200, status.text);
    if (status.json.status === 'Succeeded' || status.json.status === 'Failed') return status.json;
    assert.equal(status.headers['retry-after'], '1');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail('the deployment did not finish');
}

test("PUT with az's spliced JSONC body: 201 Accepted, Azure-AsyncOperation on the client's host, then Succeeded with outputs", async () => {
  const put = await session.arm.raw('PUT', `${deployments()}/dep1?api-version=2024-03-01`, azBody(TEMPLATE), { authorization: `Bearer ${session.arm.token}`, 'content-type': 'application/json' });
  assert.equal(put.status, 201, put.text);
  assert.equal(put.json.properties.provisioningState, 'Accepted');
  const asyncUrl = String(put.headers['azure-asyncoperation']);
  assert.ok(asyncUrl.startsWith(`${session.arm.endpoint}${deployments()}/dep1/operationStatuses/`), asyncUrl);
  assert.equal((await poll(asyncUrl)).status, 'Succeeded');
  const got = await session.arm.call('GET', `${deployments()}/dep1?api-version=2024-03-01`);
  assert.equal(got.json.properties.provisioningState, 'Succeeded');
  assert.match(got.json.properties.outputs.domain.value, /^depenv\./);
  const unknownStatus = await session.arm.call('GET', `${deployments()}/dep1/operationStatuses/nope?api-version=2024-03-01`);
  assert.equal(unknownStatus.status, 404);
});

test('the spliced (non-JSON) body is refused anywhere but a deployment', async () => {
  const app = await session.arm.raw('PUT', `${session.group}/providers/Microsoft.App/containerApps/x?api-version=2025-01-01`, `{location: 'local', properties: {}}`, { authorization: `Bearer ${session.arm.token}`, 'content-type': 'application/json' });
  assert.equal(app.status, 400);
  assert.equal(app.json.error.code, 'InvalidRequestContent');
});

test('Complete mode, templateLink and rollback are refused, naming the member; nothing is recorded', async () => {
  const complete = await session.arm.raw('PUT', `${deployments()}/dep2?api-version=2024-03-01`, azBody(TEMPLATE, { mode: 'Complete' }), { authorization: `Bearer ${session.arm.token}`, 'content-type': 'application/json' });
  assert.equal(complete.status, 400);
  assert.deepEqual([complete.json.error.code, complete.json.error.target], ['InvalidParameter', 'properties.mode']);
  const link = await session.arm.call('PUT', `${deployments()}/dep2?api-version=2024-03-01`, { properties: { mode: 'Incremental', templateLink: { uri: 'https://example.invalid/t.json' } } });
  assert.deepEqual([link.status, link.json.error.target], [400, 'properties.templateLink']);
  const rollback = await session.arm.call('PUT', `${deployments()}/dep2?api-version=2024-03-01`, { properties: { mode: 'Incremental', template: JSON.parse(TEMPLATE.replace(/\/\/.*\n/, '')), onErrorDeployment: { type: 'LastSuccessful' } } });
  assert.deepEqual([rollback.status, rollback.json.error.target], [400, 'properties.onErrorDeployment']);
  assert.equal((await session.arm.call('GET', `${deployments()}/dep2?api-version=2024-03-01`)).json.error.code, 'DeploymentNotFound');
});

test('DELETE removes the deployment record, not what it deployed', async () => {
  assert.equal((await session.arm.call('DELETE', `${deployments()}/dep1?api-version=2024-03-01`)).status, 200);
  assert.equal((await session.arm.call('GET', `${deployments()}/dep1?api-version=2024-03-01`)).status, 404);
  assert.equal((await session.arm.call('GET', `${session.group}/providers/Microsoft.App/managedEnvironments/depenv?api-version=2025-01-01`)).status, 200);
});
