// `az deployment group create` (az 2.74, from the chroot of test/support/az-chroot.sh) against
// certgate's Microsoft.Resources/deployments: validate, PUT, the Azure-AsyncOperation polling, the
// final GET. The templates are in test/fixtures/deployments (seed.json has a comment, which az
// sends as it is). Each deployment takes 3 to 5 s.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, type ArmClient } from './support/arm.ts';
import { curl, curlResult, run } from './support/clients.ts';
import { azCurrent, ensureAzChroot, loginCurrentAz, type AzResult } from './support/az-current.ts';
import { P12_PASSWORD } from './support/vectors.ts';

const TEMPLATES = join(import.meta.dirname, 'fixtures', 'deployments');
const GROUP = 'tpl';

let fixture: ControlPlaneFixture;
let arm: ArmClient;
let group: string;

const az = (...args: string[]) => azCurrent(fixture.dir, ...args);

function json(result: AzResult, what: string): any {
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}):\n${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout);
}

before(async () => {
  ensureAzChroot();
  fixture = await startControlPlaneFixture('certgate-azdep-');
  for (const file of readdirSync(TEMPLATES)) copyFileSync(join(TEMPLATES, file), join(fixture.dir, file));
  arm = await armClient(fixture.gw.credentials!, fixture.gw.caPem);
  group = `/subscriptions/${arm.subscription}/resourceGroups/${GROUP}`;
  assert.equal((await arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' })).status, 201);
  await loginCurrentAz(fixture.dir, fixture.gw.credentials!);
});

after(async () => {
  await arm?.close();
  await fixture?.close();
});

const get = (path: string) => arm.call('GET', `${group}/providers/${path}?api-version=2025-01-01`);

describe('az deployment group create (az 2.74) against certgate', { concurrency: false }, () => {
  test("the seed's template (clientCertificateMode require): deployed, enforced, outputs, operations", async () => {
    const port = String(fixture.echo.port);
    const deployment = json(await az('deployment', 'group', 'create', '-g', GROUP, '-n', 'seed', '--template-file', '/work/seed.json', '--parameters', 'appName=tplapp', `targetPort=${port}`, '-o', 'json'), 'deployment group create');
    assert.equal(deployment.properties.provisioningState, 'Succeeded');
    const fqdn = deployment.properties.outputs.fqdn.value;
    assert.equal(fqdn, 'tplapp.tplenv.certgate.localhost');
    const app = await get('Microsoft.App/containerApps/tplapp');
    assert.equal(app.json.properties.configuration.ingress.clientCertificateMode, 'require');
    assert.deepEqual(app.json.properties.template.containers.map((c: { name: string }) => c.name), ['main']);

    const refused = await curl({ host: fqdn, port: fixture.gw.httpsPort, caFile: fixture.caFile });
    assert.match(refused.stderr, /alert certificate required/, 'the handshake refuses a client without a certificate');
    const accepted = await curl({ host: fqdn, port: fixture.gw.httpsPort, caFile: fixture.caFile, cert: fixture.ids.self.p12File, certType: 'P12', password: P12_PASSWORD });
    assert.equal(curlResult(accepted).status, 200, accepted.stderr);

    const operations = json(await az('deployment', 'operation', 'group', 'list', '-g', GROUP, '-n', 'seed', '-o', 'json'), 'deployment operation group list');
    assert.deepEqual(operations.map((op: any) => [op.properties.targetResource.resourceName, op.properties.provisioningState]), [['tplenv', 'Succeeded'], ['tplapp', 'Succeeded']]);
    assert.equal(json(await az('deployment', 'group', 'show', '-g', GROUP, '-n', 'seed', '-o', 'json'), 'show').properties.provisioningState, 'Succeeded');
    // Deploying the same template again changes nothing and succeeds (incremental, idempotent).
    const again = json(await az('deployment', 'group', 'create', '-g', GROUP, '-n', 'seed', '--template-file', '/work/seed.json', '--parameters', 'appName=tplapp', `targetPort=${port}`, '-o', 'json'), 'redeploy');
    assert.equal(again.properties.provisioningState, 'Succeeded');
  });

  test('parameters, variables, a copy loop, a condition and dependsOn (the environment is declared last)', async () => {
    const deployment = json(await az('deployment', 'group', 'create', '-g', GROUP, '-n', 'loop', '--template-file', '/work/loop.json', '--parameters', 'prefix=lp', 'count=3', `targetPort=${fixture.echo.port}`, '-o', 'json'), 'deployment group create');
    assert.equal(deployment.properties.provisioningState, 'Succeeded');
    assert.equal(deployment.properties.outputs.first.value, 'lp' + 'app0.lpenv.certgate.localhost');
    const apps = await arm.call('GET', `${group}/providers/Microsoft.App/containerApps?api-version=2025-01-01`);
    const names = apps.json.value.map((app: { name: string }) => app.name).filter((name: string) => name.startsWith('lp')).sort();
    assert.deepEqual(names, ['lpapp0', 'lpapp1', 'lpapp2'], 'three copies; the condition left lpextra out');
    const second = apps.json.value.find((app: { name: string }) => app.name === 'lpapp1');
    assert.equal(second.properties.configuration.ingress.clientCertificateMode, 'accept', 'the default value');
    assert.match(second.tags.tag, /^[a-z2-7]{13}$/);
    const operations = json(await az('deployment', 'operation', 'group', 'list', '-g', GROUP, '-n', 'loop', '-o', 'json'), 'operations');
    assert.equal(operations[0].properties.targetResource.resourceName, 'lpenv', 'the environment first (dependsOn)');
    const served = await curl({ host: 'lpapp2.lpenv.certgate.localhost', port: fixture.gw.httpsPort, caFile: fixture.caFile });
    assert.equal(curlResult(served).status, 200, served.stderr);

    const bad = await az('deployment', 'group', 'create', '-g', GROUP, '-n', 'loop2', '--template-file', '/work/loop.json', '--parameters', 'prefix=lq', 'mode=sometimes', `targetPort=${fixture.echo.port}`);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /InvalidTemplate.*parameters\.mode: The value of 'mode' is not one of the allowedValues/);
  });

  test('an environment certificate from securestring parameters, bound to a custom domain; no secret in the deployment record', async () => {
    const key = join(fixture.dir, 'dep.key');
    const pem = join(fixture.dir, 'dep.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', pem, '-subj', '/CN=dep.example.test', '-addext', 'subjectAltName=DNS:dep.example.test', '-days', '30']);
    await run('openssl', ['pkcs12', '-export', '-in', pem, '-inkey', key, '-out', join(fixture.dir, 'dep.pfx'), '-passout', 'pass:s3cret-pw']);
    const pfx = readFileSync(join(fixture.dir, 'dep.pfx')).toString('base64');
    writeFileSync(join(fixture.dir, 'certificate.parameters.json'), JSON.stringify({ parameters: { pfx: { value: pfx }, password: { value: 's3cret-pw' } } }));
    const deployment = json(await az('deployment', 'group', 'create', '-g', GROUP, '-n', 'cert', '--template-file', '/work/certificate.json', '--parameters', '@/work/certificate.parameters.json', 'hostName=dep.example.test', `targetPort=${fixture.echo.port}`, '-o', 'json'), 'deployment group create');
    assert.equal(deployment.properties.provisioningState, 'Succeeded');
    assert.match(deployment.properties.outputs.thumbprint.value, /^[0-9A-F]{40}$/);
    const served = await curl({ host: 'dep.example.test', port: fixture.gw.httpsPort, caFile: pem });
    assert.equal(curlResult(served).status, 200, served.stderr);
    const record = await arm.call('GET', `${group}/providers/Microsoft.Resources/deployments/cert?api-version=2024-03-01`);
    assert.doesNotMatch(record.text, /s3cret-pw/);
    assert.ok(!record.text.includes(pfx.slice(0, 64)), 'the PKCS12 is not in the record');
    assert.deepEqual(record.json.properties.parameters.password, { type: 'securestring' });
  });

  test('an unknown function: a clear error naming it and its place; nothing is deployed', async () => {
    const result = await az('deployment', 'group', 'create', '-g', GROUP, '-n', 'unknown', '--template-file', '/work/unknown-function.json');
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /InvalidTemplate.*resources\[0\]\.name: The template function 'listKeys' is not supported by certgate/);
    const validated = await az('deployment', 'group', 'validate', '-g', GROUP, '--template-file', '/work/unknown-function.json');
    assert.notEqual(validated.code, 0);
    assert.match(validated.stderr, /listKeys/);
    const names = json(await az('deployment', 'group', 'list', '-g', GROUP, '--query', '[].name', '-o', 'json'), 'deployment group list');
    assert.ok(names.includes('seed') && !names.includes('unknown'), 'validation failed before any deployment was recorded');
  });

  test('the second resource is invalid: the deployment fails naming it, the first stays (incremental)', async () => {
    const result = await az('deployment', 'group', 'create', '-g', GROUP, '-n', 'partial', '--template-file', '/work/second-invalid.json');
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /DeploymentFailed.*the resource 'badapp' \(Microsoft\.App\/containerApps, resources\[1\]\) failed: InvalidRequestContent: [^"]*clientCertificateMode/);
    assert.equal((await get('Microsoft.App/managedEnvironments/keepenv')).status, 200, 'the first resource stays');
    assert.equal((await get('Microsoft.App/containerApps/badapp')).status, 404);
    const operations = json(await az('deployment', 'operation', 'group', 'list', '-g', GROUP, '-n', 'partial', '-o', 'json'), 'operations');
    assert.deepEqual(operations.map((op: any) => [op.properties.targetResource.resourceName, op.properties.provisioningState]), [['keepenv', 'Succeeded'], ['badapp', 'Failed']]);
    assert.equal(json(await az('deployment', 'group', 'show', '-g', GROUP, '-n', 'partial', '-o', 'json'), 'show').properties.provisioningState, 'Failed');
  });
});
