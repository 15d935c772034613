// A current Azure CLI (az 2.74, Debian trixie's azure-cli, run from the chroot of
// test/support/az-chroot.sh) against certgate, as docs/azure-clients.md tells users to run it:
// `az cloud register` with only --endpoint-resource-manager, `az login --service-principal`, then the
// seed's commands verbatim: `az containerapp show … --query id --output tsv`, `az rest --method patch`
// with the seed's body, and the handshake refuses a client without a certificate.
//
// Each az 2.74 command takes 2 to 4 s on this machine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, createSeedApp, type ArmClient } from './support/arm.ts';
import { curl, curlResult } from './support/clients.ts';
import { azCurrent, ensureAzChroot, type AzResult } from './support/az-current.ts';
import { P12_PASSWORD } from './support/vectors.ts';

const GROUP = 'demo';
const ENVIRONMENT = 'myenv';
const APP = 'myapp';
/** The seed's body, verbatim. */
const SEED_BODY = '{"properties":{"configuration":{"ingress":{"clientCertificateMode":"require"}}}}';

let fixture: ControlPlaneFixture;
let arm: ArmClient;
let endpoint: string;
let subscription: string;
let appId: string;
let fqdn: string;

const az = (...args: string[]) => azCurrent(fixture.dir, ...args);

function ok(result: AzResult, what: string): string {
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}):\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

before(async () => {
  ensureAzChroot();
  fixture = await startControlPlaneFixture('certgate-az274-');
  endpoint = fixture.gw.credentials!.endpoint;
  subscription = fixture.gw.credentials!.subscriptionId;
  arm = await armClient(fixture.gw.credentials!, fixture.gw.caPem);
  ({ appId, fqdn } = await createSeedApp(arm, { group: GROUP, environment: ENVIRONMENT, app: APP }, fixture.echo.port));
});

after(async () => {
  await arm?.close();
  await fixture?.close();
});

describe('az 2.74 (Debian trixie azure-cli) against certgate', { concurrency: false }, () => {
  test('az version is a current az (2.53 or later, with az containerapp built in)', async () => {
    const version = JSON.parse(ok(await az('version', '--output', 'json'), 'az version'))['azure-cli'] as string;
    const [major, minor] = version.split('.').map(Number);
    assert.ok(major! > 2 || (major === 2 && minor! >= 53), version);
  });

  test('az cloud register with only --endpoint-resource-manager, az cloud set, az login --service-principal', async () => {
    ok(await az('cloud', 'register', '-n', 'certgate', '--endpoint-resource-manager', `${endpoint}/`), 'az cloud register');
    ok(await az('cloud', 'set', '-n', 'certgate'), 'az cloud set');
    const cloud = JSON.parse(ok(await az('cloud', 'show', '-n', 'certgate', '-o', 'json'), 'az cloud show'));
    assert.equal(cloud.endpoints.activeDirectory, `${endpoint}/adfs`);
    assert.equal(cloud.endpoints.resourceManager, `${endpoint}/`);
    const { clientId, clientSecret, tenantId } = fixture.gw.credentials!;
    const accounts = JSON.parse(ok(await az('login', '--service-principal', '-u', clientId, '-p', clientSecret, '--tenant', tenantId, '-o', 'json'), 'az login'));
    assert.equal(accounts.length, 1);
    assert.deepEqual(
      { id: accounts[0].id, state: accounts[0].state, cloudName: accounts[0].cloudName, user: accounts[0].user },
      { id: subscription, state: 'Enabled', cloudName: 'certgate', user: { name: clientId, type: 'servicePrincipal' } },
    );
    // The token az got is for certgate's own audience, and certgate accepts it.
    const token = JSON.parse(ok(await az('account', 'get-access-token', '-o', 'json'), 'az account get-access-token'));
    assert.equal(token.subscription, subscription);
  });

  test("the seed's flow verbatim: containerapp show --query id, rest --method patch, then a handshake without a certificate is refused", async () => {
    const open = await curl({ host: fqdn, port: fixture.gw.httpsPort, caFile: fixture.caFile });
    assert.equal(curlResult(open).status, 200, open.stderr);

    const id = ok(await az('containerapp', 'show', '--name', APP, '--resource-group', GROUP, '--query', 'id', '--output', 'tsv'), 'az containerapp show').trim();
    assert.equal(id, appId);
    const patched = JSON.parse(ok(await az('rest', '--method', 'patch', '--url', `${endpoint}/${id}?api-version=2025-01-01`, '--body', SEED_BODY), 'az rest --method patch'));
    assert.equal(patched.properties.configuration.ingress.clientCertificateMode, 'require');
    assert.equal(patched.properties.configuration.ingress.targetPort, fixture.echo.port, 'a merge patch: the rest of ingress is kept');

    const received = fixture.echo.received.length;
    const refused = await curl({ host: fqdn, port: fixture.gw.httpsPort, caFile: fixture.caFile });
    assert.notEqual(refused.code, 0, 'the handshake fails without a client certificate');
    assert.match(refused.stderr, /alert certificate required/);
    assert.equal(fixture.echo.received.length, received, 'nothing reached the app');
    const accepted = await curl({ host: fqdn, port: fixture.gw.httpsPort, caFile: fixture.caFile, cert: fixture.ids.self.p12File, certType: 'P12', password: P12_PASSWORD });
    assert.equal(curlResult(accepted).status, 200, accepted.stderr);
  });

  test('a missing app: az containerapp show exits 1 with the ARM error', async () => {
    const missing = await az('containerapp', 'show', '--name', 'nope', '--resource-group', GROUP);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /ResourceNotFound|was not found/);
  });
});
