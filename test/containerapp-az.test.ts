// `az containerapp` commands of a current az (2.74, from the chroot of test/support/az-chroot.sh)
// against certgate, each checked at the ingress where it changes what is served: ingress
// show/update/disable/enable, access restrictions, CORS, environment certificates and host names.
// What certgate cannot honour (revisions, scaling) is an ARM error, and changes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, createSeedApp, type ArmClient } from './support/arm.ts';
import { curl, curlResult, run } from './support/clients.ts';
import { azCurrent, ensureAzChroot, loginCurrentAz, type AzResult } from './support/az-current.ts';

const GROUP = 'demo';
const ENVIRONMENT = 'myenv';
const APP = 'myapp';
const CUSTOM = 'www.example.test';

let fixture: ControlPlaneFixture;
let arm: ArmClient;
let appId: string;
let fqdn: string;

const az = (...args: string[]) => azCurrent(fixture.dir, ...args);
const app = ['-n', APP, '-g', GROUP];

function json(result: AzResult, what: string): any {
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}):\n${result.stderr}${result.stdout}`);
  return result.stdout.trim() === '' ? undefined : JSON.parse(result.stdout);
}

const status = async (host = fqdn, caFile = fixture.caFile, extra: string[] = []) => {
  const result = await curl({ host, port: fixture.gw.httpsPort, caFile, extra });
  return result.code === 0 ? curlResult(result).status : `curl exit ${result.code}: ${result.stderr.trim()}`;
};

before(async () => {
  ensureAzChroot();
  fixture = await startControlPlaneFixture('certgate-azca-');
  arm = await armClient(fixture.gw.credentials!, fixture.gw.caPem);
  ({ appId, fqdn } = await createSeedApp(arm, { group: GROUP, environment: ENVIRONMENT, app: APP }, fixture.echo.port));
  await loginCurrentAz(fixture.dir, fixture.gw.credentials!);
});

after(async () => {
  await arm?.close();
  await fixture?.close();
});

describe('az containerapp (az 2.74) against certgate', { concurrency: false }, () => {
  test('show, list, env show, env list', async () => {
    assert.equal(json(await az('containerapp', 'show', ...app, '-o', 'json'), 'show').id, appId);
    assert.deepEqual(json(await az('containerapp', 'list', '-g', GROUP, '--query', '[].name', '-o', 'json'), 'list'), [APP]);
    assert.deepEqual(json(await az('containerapp', 'list', '--query', '[].name', '-o', 'json'), 'list (subscription)'), [APP]);
    assert.match(json(await az('containerapp', 'env', 'show', '-n', ENVIRONMENT, '-g', GROUP, '-o', 'json'), 'env show').properties.defaultDomain, /certgate/);
    assert.deepEqual(json(await az('containerapp', 'env', 'list', '-g', GROUP, '--query', '[].name', '-o', 'json'), 'env list'), [ENVIRONMENT]);
  });

  test('ingress show, update (--transport, --target-port, --allow-insecure, --type), disable, enable: served as changed', async () => {
    const shown = json(await az('containerapp', 'ingress', 'show', ...app, '-o', 'json'), 'ingress show');
    assert.deepEqual({ external: shown.external, targetPort: shown.targetPort, fqdn: shown.fqdn }, { external: true, targetPort: fixture.echo.port, fqdn });
    const port = String(fixture.echo.port);
    const updated = json(await az('containerapp', 'ingress', 'update', ...app, '--transport', 'http', '--target-port', port, '--allow-insecure', 'true', '-o', 'json'), 'ingress update');
    assert.deepEqual({ transport: updated.transport, allowInsecure: updated.allowInsecure }, { transport: 'http', allowInsecure: true });
    // allowInsecure: plain HTTP is proxied instead of redirected.
    const plain = await run('curl', ['-sS', '--max-time', '15', '-o', '/dev/null', '-w', '%{http_code}', '--resolve', `${fqdn}:${fixture.gw.httpPort}:127.0.0.1`, `http://${fqdn}:${fixture.gw.httpPort}/`]);
    assert.equal(plain.stdout, '200', plain.stderr);

    assert.equal(json(await az('containerapp', 'ingress', 'update', ...app, '--type', 'internal', '-o', 'json'), 'ingress update --type internal').external, false);
    assert.notEqual(await status(), 200, 'an internal app is not served on the external listener');
    json(await az('containerapp', 'ingress', 'disable', ...app, '-o', 'json'), 'ingress disable');
    assert.equal(json(await az('containerapp', 'show', ...app, '-o', 'json'), 'show').properties.configuration.ingress ?? null, null, 'no ingress');
    assert.notEqual(await status(), 200, 'not served without ingress');
    const enabled = json(await az('containerapp', 'ingress', 'enable', ...app, '--type', 'external', '--target-port', port, '--transport', 'auto', '-o', 'json'), 'ingress enable');
    assert.equal(enabled.external, true);
    assert.equal(await status(), 200);
  });

  test('ingress access-restriction set/list/remove: a Deny rule for the client refuses it, removing it lets it in', async () => {
    const rules = json(await az('containerapp', 'ingress', 'access-restriction', 'set', ...app, '--rule-name', 'loopback', '--ip-address', '127.0.0.1/32', '--action', 'Deny', '-o', 'json'), 'access-restriction set');
    assert.deepEqual(rules.map((rule: { name: string }) => rule.name), ['loopback']);
    assert.notEqual(await status(), 200, 'refused by the Deny rule');
    assert.deepEqual(json(await az('containerapp', 'ingress', 'access-restriction', 'list', ...app, '--query', '[].ipAddressRange', '-o', 'json'), 'list'), ['127.0.0.1/32']);
    json(await az('containerapp', 'ingress', 'access-restriction', 'remove', ...app, '--rule-name', 'loopback', '-o', 'json'), 'access-restriction remove');
    assert.equal(await status(), 200);
  });

  test('ingress cors enable/show/disable: the preflight is answered for the allowed origin', async () => {
    json(await az('containerapp', 'ingress', 'cors', 'enable', ...app, '--allowed-origins', 'https://a.example', '--allowed-methods', 'GET', 'POST', '-o', 'json'), 'cors enable');
    assert.deepEqual(json(await az('containerapp', 'ingress', 'cors', 'show', ...app, '-o', 'json'), 'cors show').allowedOrigins, ['https://a.example']);
    const preflight = await curl({ host: fqdn, port: fixture.gw.httpsPort, caFile: fixture.caFile, extra: ['-X', 'OPTIONS', '-i', '-H', 'Origin: https://a.example', '-H', 'Access-Control-Request-Method: POST'] });
    assert.match(preflight.stdout, /access-control-allow-origin: https:\/\/a\.example/i);
    json(await az('containerapp', 'ingress', 'cors', 'disable', ...app, '-o', 'json'), 'cors disable');
    const after = await curl({ host: fqdn, port: fixture.gw.httpsPort, caFile: fixture.caFile, extra: ['-X', 'OPTIONS', '-i', '-H', 'Origin: https://a.example', '-H', 'Access-Control-Request-Method: POST'] });
    assert.doesNotMatch(after.stdout, /access-control-allow-origin/i);
  });

  test('env certificate upload/list, hostname add/bind/list: the custom domain is served with the certificate; hostname delete, env certificate delete', async () => {
    const key = join(fixture.dir, 'www.key');
    const pem = join(fixture.dir, 'www.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', pem, '-subj', `/CN=${CUSTOM}`, '-addext', `subjectAltName=DNS:${CUSTOM}`, '-days', '30'], { stdio: 'ignore' });
    execFileSync('openssl', ['pkcs12', '-export', '-in', pem, '-inkey', key, '-out', join(fixture.dir, 'www.pfx'), '-passout', 'pass:secret'], { stdio: 'ignore' });
    const thumbprint = execFileSync('openssl', ['x509', '-in', pem, '-noout', '-fingerprint', '-sha1'], { encoding: 'utf8' }).split('=')[1]!.replaceAll(':', '').trim();

    const uploaded = json(await az('containerapp', 'env', 'certificate', 'upload', '-n', ENVIRONMENT, '-g', GROUP, '--certificate-file', '/work/www.pfx', '--password', 'secret', '--certificate-name', 'www', '-o', 'json'), 'env certificate upload');
    assert.equal(uploaded.properties.thumbprint, thumbprint);
    assert.equal(uploaded.properties.password, undefined, 'the password is never returned');
    // az lists the managed certificates and the uploaded ones.
    assert.deepEqual(json(await az('containerapp', 'env', 'certificate', 'list', '-n', ENVIRONMENT, '-g', GROUP, '--query', '[].name', '-o', 'json'), 'env certificate list'), ['www']);
    assert.deepEqual(json(await az('containerapp', 'env', 'certificate', 'list', '-n', ENVIRONMENT, '-g', GROUP, '--thumbprint', thumbprint, '--query', '[].name', '-o', 'json'), 'env certificate list --thumbprint'), ['www']);

    json(await az('containerapp', 'hostname', 'add', ...app, '--hostname', CUSTOM, '-o', 'json'), 'hostname add');
    const bound = json(await az('containerapp', 'hostname', 'bind', ...app, '--hostname', CUSTOM, '--environment', ENVIRONMENT, '--certificate', 'www', '-o', 'json'), 'hostname bind');
    assert.deepEqual(bound.map((domain: { name: string; bindingType: string }) => [domain.name, domain.bindingType]), [[CUSTOM, 'SniEnabled']]);
    assert.deepEqual(json(await az('containerapp', 'hostname', 'list', ...app, '--query', '[].name', '-o', 'json'), 'hostname list'), [CUSTOM]);
    assert.equal(await status(CUSTOM, pem), 200, 'served under the custom domain with the uploaded certificate');

    json(await az('containerapp', 'hostname', 'delete', ...app, '--hostname', CUSTOM, '--yes', '-o', 'json'), 'hostname delete');
    assert.notEqual(await status(CUSTOM, pem), 200);
    json(await az('containerapp', 'env', 'certificate', 'delete', '-n', ENVIRONMENT, '-g', GROUP, '--certificate', 'www', '--yes'), 'env certificate delete');
    assert.equal(uploaded.name, 'www');
    const left = await arm.call('GET', `/subscriptions/${arm.subscription}/resourceGroups/${GROUP}/providers/Microsoft.App/managedEnvironments/${ENVIRONMENT}/certificates?api-version=2025-01-01`);
    assert.deepEqual(left.json.value, []);
  });

  test('what certgate cannot honour is an ARM error, never a silent success: revisions, scaling, images', async () => {
    const before = await arm.call('GET', `${appId}?api-version=2025-01-01`);
    const revisions = await az('containerapp', 'revision', 'list', ...app);
    assert.notEqual(revisions.code, 0);
    assert.match(revisions.stderr, /\(OperationNotSupported\) certgate runs no containers/);
    const scale = await az('containerapp', 'update', ...app, '--min-replicas', '2', '--max-replicas', '3');
    assert.notEqual(scale.code, 0);
    assert.match(scale.stderr, /\(OperationNotSupported\) certgate runs no containers: a change to 'properties\.template\.scale/);
    const logs = await az('containerapp', 'logs', 'show', ...app);
    assert.notEqual(logs.code, 0);
    assert.match(logs.stderr, /OperationNotSupported/);
    const afterwards = await arm.call('GET', `${appId}?api-version=2025-01-01`);
    assert.deepEqual(afterwards.json.properties.template, before.json.properties.template, 'nothing changed');
    assert.equal(afterwards.json.etag, before.json.etag);
  });
});
