// Host names through the management API and the ingress: one rule for what a custom domain may be
// (so an accepted one can be reached), and one list of the names an app is served at (so the
// control plane's conflict check and the ingress's routes agree).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, createGroupAndEnvironment, type ArmClient } from './support/arm.ts';
import { curl, curlResult } from './support/clients.ts';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { exportPkcs12 } from '../src/pki/pkcs12.ts';

const V = 'api-version=2025-01-01';
let fixture: ControlPlaneFixture | undefined;
let arm: ArmClient;
let envId: string;
let defaultDomain: string;
let certificateId: string;
let customCa: string;

const appPath = (name: string) => `/subscriptions/${arm.subscription}/resourceGroups/rg1/providers/Microsoft.App/containerApps/${name}`;
const appBody = (ingress: Record<string, unknown>) => ({
  location: 'local',
  properties: { managedEnvironmentId: envId, configuration: { ingress: { targetPort: fixture!.echo.port, ...ingress } }, template: { containers: [{ name: 'main', image: 'example/app:1' }] } },
});

before(async () => {
  fixture = await startControlPlaneFixture('certgate-hostnames-');
  arm = await armClient(fixture.gw.credentials!, fixture.gw.caPem);
  ({ envId } = await createGroupAndEnvironment(arm, V));
  defaultDomain = (await arm.call('GET', `${envId}?${V}`)).json.properties.defaultDomain;
  const ca = await createCa({ commonName: 'Hostnames CA' });
  customCa = join(fixture.dir, 'hostnames-ca.pem');
  writeFileSync(customCa, ca.certPem);
  // The certificate covers the malformed name too, so only the host-name rule can refuse it.
  const leaf = await issueCertificate({ issuer: ca, commonName: 'shop.example.test', kind: 'server', dnsNames: ['shop.example.test', 'shop-.example.test'] });
  const pfx = await exportPkcs12({ certPem: leaf.certPem, keyPem: leaf.keyPem, password: 'pw' });
  const uploaded = await arm.call('PUT', `${envId}/certificates/shop-cert?${V}`, { location: 'local', properties: { value: Buffer.from(pfx).toString('base64'), password: 'pw' } });
  assert.equal(uploaded.status, 201, uploaded.text);
  certificateId = uploaded.json.id;
});

after(async () => {
  await arm?.close();
  await fixture?.close();
});

test('a custom domain with a label ending in a hyphen is refused at write time (400 naming the path), and nothing is stored', async () => {
  // The ClientHello reader refuses such a name, so a route for it could never be reached.
  const result = await arm.call('PUT', `${appPath('hyphen')}?${V}`, appBody({ customDomains: [{ name: 'shop-.example.test', bindingType: 'SniEnabled', certificateId }] }));
  assert.equal(result.status, 400, result.text);
  assert.equal(result.json.error.code, 'InvalidParameter');
  assert.equal(result.json.error.target, 'properties.configuration.ingress.customDomains[0].name');
  assert.match(result.json.error.message, /shop-\.example\.test.*not a valid custom domain name/);
  assert.equal((await arm.call('GET', `${appPath('hyphen')}?${V}`)).status, 404);
});

test("a Disabled custom domain claims no name: another app may bind it and is served; the first app's bind is then refused", async () => {
  const holder = await arm.call('PUT', `${appPath('holder')}?${V}`, appBody({ customDomains: [{ name: 'shop.example.test', bindingType: 'Disabled' }] }));
  assert.equal(holder.status, 201, holder.text);
  assert.notEqual(curlResult(await curl({ host: 'shop.example.test', port: fixture!.gw.httpsPort, caFile: customCa })).status, 200, 'a Disabled domain is not served');
  const taker = await arm.call('PUT', `${appPath('taker')}?${V}`, appBody({ customDomains: [{ name: 'shop.example.test', bindingType: 'SniEnabled', certificateId }] }));
  assert.equal(taker.status, 201, taker.text);
  const served = await curl({ host: 'shop.example.test', port: fixture!.gw.httpsPort, caFile: customCa, path: '/taker' });
  assert.equal(curlResult(served).status, 200, served.stderr);
  const bind = await arm.call('PATCH', `${appPath('holder')}?${V}`, { properties: { configuration: { ingress: { customDomains: [{ name: 'shop.example.test', bindingType: 'SniEnabled', certificateId }] } } } });
  assert.equal(bind.status, 409, bind.text);
  assert.equal(bind.json.error.code, 'HostNameInUse');
  assert.equal(bind.json.error.target, 'properties.configuration.ingress.customDomains[0].name');
});

test("a Disabled custom domain naming another app's default name does not stop that app from being created and served", async () => {
  const squat = await arm.call('PUT', `${appPath('squat')}?${V}`, appBody({ customDomains: [{ name: `later.${defaultDomain}`, bindingType: 'Disabled' }] }));
  assert.equal(squat.status, 201, squat.text);
  const later = await arm.call('PUT', `${appPath('later')}?${V}`, appBody({}));
  assert.equal(later.status, 201, later.text);
  const served = await curl({ host: `later.${defaultDomain}`, port: fixture!.gw.httpsPort, caFile: fixture!.caFile });
  assert.equal(curlResult(served).status, 200, served.stderr);
});
