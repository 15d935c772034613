// The az-style ingress commands of issue 11 (access restrictions, CORS, sticky sessions, traffic,
// hostnames, the `ingress update` options), run as the real CLI against a running certgate. Each
// sends the PATCH az would send; where the management API refuses a value the ingress does not
// enforce yet (src/control/validation/ingress-members.ts), the command must fail with that 400, and
// once the member is enforced, succeed with the stored value: the test follows the table.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestGateway } from './support/gateway.ts';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import type { EchoApp } from './support/echo-app.ts';
import { curl, curlHttp, curlResult } from './support/clients.ts';
import { certgate as runCertgate, createDemoApp, type CliResult } from './support/cli.ts';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { exportPkcs12 } from '../src/pki/pkcs12.ts';
import { APP_INGRESS_MEMBERS } from '../src/control/validation/ingress-members.ts';

let fixture: ControlPlaneFixture | undefined;
let gw: TestGateway;
let echo: EchoApp;
let dir: string;
const APP = ['-n', 'shop', '-g', 'demo'];

function certgate(...args: string[]): Promise<CliResult> {
  return runCertgate(args, { env: { CERTGATE_CONFIG_DIR: join(dir, 'config') } });
}

async function ok(...args: string[]): Promise<unknown> {
  const result = await certgate(...args);
  assert.equal(result.code, 0, `certgate ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim() === '' ? undefined : JSON.parse(result.stdout);
}

/**
 * A command that writes `member` = `value`: refused by the API (exit 1, the ARM error naming the
 * JSON path) while the table refuses the value, else it succeeds and `check` sees its output.
 */
async function writes(member: string, value: unknown, args: string[], check: (output: unknown) => void | Promise<void>): Promise<void> {
  const result = await certgate(...args);
  const reason = APP_INGRESS_MEMBERS[member]?.refuse?.(value);
  if (reason !== undefined) {
    assert.equal(result.code, 1, `certgate ${args.join(' ')} is refused: ${result.stdout}`);
    assert.match(result.stderr, /^ERROR: \(InvalidParameter\) /);
    return;
  }
  assert.equal(result.code, 0, `certgate ${args.join(' ')}: ${result.stderr}`);
  await check(result.stdout.trim() === '' ? undefined : JSON.parse(result.stdout));
}

before(async () => {
  fixture = await startControlPlaneFixture('certgate-cli-ingress-');
  ({ dir, echo, gw } = fixture);
  await createDemoApp(ok, gw.dataDir, echo.port);
});

after(async () => {
  await fixture?.close();
});

describe('ingress update', () => {
  test('enum values in any casing, as az takes them (issue 18): Accept, HTTP, External', async () => {
    const ingress = (await ok('containerapp', 'ingress', 'update', ...APP, '--client-certificate-mode', 'Accept', '--transport', 'HTTP', '--type', 'External')) as Record<string, unknown>;
    assert.equal(ingress['clientCertificateMode'], 'accept');
    assert.equal(ingress['transport'], 'http');
    assert.equal(ingress['external'], true);
    const wrong = await certgate('containerapp', 'ingress', 'update', ...APP, '--client-certificate-mode', 'sometimes');
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /Allowed choices are ignore, accept, require/);
  });

  test('--target-port, --allow-insecure (alone means true, then false) and --target-host', async () => {
    const ingress = (await ok('containerapp', 'ingress', 'update', ...APP, '--target-port', String(echo.port), '--allow-insecure', '--target-host', '127.0.0.1')) as Record<string, unknown>;
    assert.equal(ingress['allowInsecure'], true);
    assert.equal(ingress['targetPort'], echo.port);
    const plain = () => curlHttp({ host: 'shop.env1.certgate.localhost', port: gw.httpPort });
    assert.equal(curlResult(await plain()).status, 200, 'served over plain HTTP');
    assert.equal(((await ok('containerapp', 'ingress', 'update', ...APP, '--allow-insecure', 'false')) as Record<string, unknown>)['allowInsecure'], false);
    assert.equal(curlResult(await plain()).status, 308, 'redirected to HTTPS');
  });

  test('--type internal, --transport http2 and --exposed-port are sent as az sends them', async () => {
    await writes('external', false, ['containerapp', 'ingress', 'update', ...APP, '--type', 'internal'], (ingress) => assert.equal((ingress as Record<string, unknown>)['external'], false));
    await writes('transport', 'http2', ['containerapp', 'ingress', 'update', ...APP, '--transport', 'http2'], (ingress) => assert.equal((ingress as Record<string, unknown>)['transport'], 'http2'));
    // exposedPort belongs to TCP apps: on this HTTP app the API refuses it, and the CLI says why.
    const exposed = await certgate('containerapp', 'ingress', 'update', ...APP, '--exposed-port', '5432');
    assert.equal(exposed.code, 1, exposed.stdout);
    assert.match(exposed.stderr, /^ERROR: \(InvalidParameter\) exposedPort .*transport 'tcp'/);
    // Back to what the other tests expect (where the writes above were accepted).
    await certgate('containerapp', 'ingress', 'update', ...APP, '--type', 'external', '--transport', 'auto');
  });
});

describe('access-restriction', () => {
  test('set (an Allow rule, action in any casing), list, set again replaces by name, remove', async () => {
    assert.deepEqual(await ok('containerapp', 'ingress', 'access-restriction', 'list', ...APP), []);
    const rule = { name: 'office', ipAddressRange: '127.0.0.0/8', action: 'Allow', description: 'loopback' };
    await writes('ipSecurityRestrictions', [rule], ['containerapp', 'ingress', 'access-restriction', 'set', ...APP, '--rule-name', 'office', '--ip-address', '127.0.0.0/8', '--action', 'allow', '--description', 'loopback'], async (rules) => {
      assert.deepEqual(rules, [rule]);
      assert.deepEqual(await ok('containerapp', 'ingress', 'access-restriction', 'list', ...APP), [rule]);
      const replaced = await ok('containerapp', 'ingress', 'access-restriction', 'set', ...APP, '--rule-name', 'office', '--ip-address', '127.0.0.1/32', '--action', 'Allow');
      assert.deepEqual(replaced, [{ name: 'office', ipAddressRange: '127.0.0.1/32', action: 'Allow' }]);
      assert.deepEqual(await ok('containerapp', 'ingress', 'access-restriction', 'remove', ...APP, '--rule-name', 'office'), []);
    });
  });

  test('removing a rule that does not exist is an error; --action is required', async () => {
    const missing = await certgate('containerapp', 'ingress', 'access-restriction', 'remove', ...APP, '--rule-name', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^ERROR: \(RuleNotFound\)/);
    assert.equal((await certgate('containerapp', 'ingress', 'access-restriction', 'set', ...APP, '--rule-name', 'x', '--ip-address', '10.0.0.0/8')).code, 2);
  });
});

describe('cors', () => {
  test('enable, show, update, disable', async () => {
    assert.equal(await ok('containerapp', 'ingress', 'cors', 'show', ...APP), undefined);
    const policy = { allowedOrigins: ['https://a.example'], allowedMethods: ['GET', 'POST'], maxAge: 600, allowCredentials: true };
    await writes('corsPolicy', policy, ['containerapp', 'ingress', 'cors', 'enable', ...APP, '--allowed-origins', 'https://a.example', '--allowed-methods', 'GET', 'POST', '--max-age', '600', '--allow-credentials', 'true'], async (shown) => {
      assert.deepEqual(shown, policy);
      assert.deepEqual(await ok('containerapp', 'ingress', 'cors', 'show', ...APP), policy);
      const updated = await ok('containerapp', 'ingress', 'cors', 'update', ...APP, '--allowed-headers', 'content-type', '--expose-headers', 'x-total');
      assert.deepEqual(updated, { ...policy, allowedHeaders: ['content-type'], exposeHeaders: ['x-total'] });
      // enable replaces the whole policy: members not given do not survive.
      assert.deepEqual(await ok('containerapp', 'ingress', 'cors', 'enable', ...APP, '--allowed-origins', 'https://b.example'), { allowedOrigins: ['https://b.example'] });
      await ok('containerapp', 'ingress', 'cors', 'disable', ...APP);
      assert.equal(await ok('containerapp', 'ingress', 'cors', 'show', ...APP), undefined);
    });
  });

  test('update without CORS enabled, and enable without --allowed-origins, are errors', async () => {
    const update = await certgate('containerapp', 'ingress', 'cors', 'update', ...APP, '--max-age', '5');
    assert.equal(update.code, 1);
    assert.match(update.stderr, /^ERROR: \(CorsDisabled\)/);
    assert.equal((await certgate('containerapp', 'ingress', 'cors', 'enable', ...APP)).code, 2);
  });
});

describe('sticky-sessions and traffic', () => {
  test('sticky-sessions set --affinity none (any casing) and show; sticky as az sends it', async () => {
    assert.deepEqual(await ok('containerapp', 'ingress', 'sticky-sessions', 'set', ...APP, '--affinity', 'None'), { affinity: 'none' });
    assert.deepEqual(await ok('containerapp', 'ingress', 'sticky-sessions', 'show', ...APP), { affinity: 'none' });
    await writes('stickySessions', { affinity: 'sticky' }, ['containerapp', 'ingress', 'sticky-sessions', 'set', ...APP, '--affinity', 'Sticky'], (shown) => assert.deepEqual(shown, { affinity: 'sticky' }));
    await certgate('containerapp', 'ingress', 'sticky-sessions', 'set', ...APP, '--affinity', 'none');
  });

  test('traffic set --revision-weight latest=100 and show; a split and labels are refused', async () => {
    assert.deepEqual(await ok('containerapp', 'ingress', 'traffic', 'set', ...APP, '--revision-weight', 'latest=100'), [{ latestRevision: true, weight: 100 }]);
    assert.deepEqual(await ok('containerapp', 'ingress', 'traffic', 'show', ...APP), [{ latestRevision: true, weight: 100 }]);
    const split = [{ revisionName: 'shop--v1', weight: 50 }, { latestRevision: true, weight: 50 }];
    await writes('traffic', split, ['containerapp', 'ingress', 'traffic', 'set', ...APP, '--revision-weight', 'shop--v1=50', 'latest=50'], (shown) => assert.deepEqual(shown, split));
    const labels = await certgate('containerapp', 'ingress', 'traffic', 'set', ...APP, '--label-weight', 'blue=100');
    assert.equal(labels.code, 1);
    assert.match(labels.stderr, /^ERROR: \(LabelsNotSupported\)/);
    const bad = await certgate('containerapp', 'ingress', 'traffic', 'set', ...APP, '--revision-weight', 'latest=150');
    assert.equal(bad.code, 2);
  });
});

describe('hostname', () => {
  test('add (unbound, not served), bind with a certificate by name (served by SNI), list, delete', async () => {
    const ca = await createCa({ commonName: 'Hostname CA' });
    const caFile = join(dir, 'hostname-ca.pem');
    writeFileSync(caFile, ca.certPem);
    const leaf = await issueCertificate({ issuer: ca, commonName: 'shop.example.test', kind: 'server', dnsNames: ['shop.example.test'] });
    const pfx = join(dir, 'shop-cert.pfx');
    writeFileSync(pfx, await exportPkcs12({ certPem: leaf.certPem, keyPem: leaf.keyPem, password: 'pw' }));
    await ok('containerapp', 'env', 'certificate', 'upload', '-g', 'demo', '-n', 'env1', '--certificate-file', pfx, '--password', 'pw');
    const custom = () => curl({ host: 'shop.example.test', port: gw.httpsPort, caFile });

    assert.deepEqual(await ok('containerapp', 'hostname', 'add', ...APP, '--hostname', 'shop.example.test'), [{ name: 'shop.example.test', bindingType: 'Disabled' }]);
    assert.notEqual(curlResult(await custom()).status, 200, 'an unbound hostname is not served');
    const again = await certgate('containerapp', 'hostname', 'add', ...APP, '--hostname', 'SHOP.example.test');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^ERROR: \(HostnameExists\)/);

    const bound = (await ok('containerapp', 'hostname', 'bind', ...APP, '--hostname', 'shop.example.test', '--certificate', 'shop-cert', '--environment', 'env1')) as { certificateId: string; bindingType: string }[];
    assert.equal(bound.length, 1);
    assert.equal(bound[0]!.bindingType, 'SniEnabled');
    assert.match(bound[0]!.certificateId, /\/managedEnvironments\/env1\/certificates\/shop-cert$/);
    const served = await custom();
    assert.equal(curlResult(served).status, 200, served.stderr);
    assert.deepEqual(await ok('containerapp', 'hostname', 'list', ...APP), bound);

    const notCovered = await certgate('containerapp', 'hostname', 'bind', ...APP, '--hostname', 'other.example.test', '--certificate', 'shop-cert');
    assert.equal(notCovered.code, 1);
    assert.match(notCovered.stderr, /^ERROR: \(InvalidParameter\).*does not cover/);

    assert.equal((await certgate('containerapp', 'hostname', 'delete', ...APP, '--hostname', 'shop.example.test')).code, 2, 'needs --yes without a terminal');
    assert.deepEqual(await ok('containerapp', 'hostname', 'delete', ...APP, '--hostname', 'shop.example.test', '--yes'), []);
    assert.notEqual(curlResult(await custom()).status, 200);
    const gone = await certgate('containerapp', 'hostname', 'delete', ...APP, '--hostname', 'shop.example.test', '--yes');
    assert.match(gone.stderr, /^ERROR: \(HostnameNotFound\)/);
  });
});
