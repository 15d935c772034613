// A write is acknowledged only if the ingress enforces it (issue 11 point 7, issue 12's first bug):
// a legacy certificate (RC2) is converted at upload so the ingress can load it, and
// a revision the ingress cannot apply for the written resource answers an ARM error while the
// previous routes keep serving; the next good write succeeds.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestGateway } from './support/gateway.ts';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, createGroupAndEnvironment, type ArmClient } from './support/arm.ts';
import { curl, curlResult, run } from './support/clients.ts';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { certificateDocument, decodeCertificateSecret, encodeCertificateSecret } from '../src/model/documents.ts';

const V = 'api-version=2025-01-01';
let fixture: ControlPlaneFixture | undefined;
let gw: TestGateway;
let arm: ArmClient;
let envId: string;
let appsPath: string;
let legacyPfx: Buffer;
let modernPfx: Buffer;
let customCa: string;
const PASSWORD = 'legacy-pw';

const appBody = (ingress: Record<string, unknown>) => ({
  location: 'local',
  properties: { managedEnvironmentId: envId, configuration: { ingress }, template: { containers: [{ name: 'main', image: 'example/app:1' }] } },
});

before(async () => {
  fixture = await startControlPlaneFixture('certgate-enforced-');
  gw = fixture.gw;
  arm = await armClient(gw.credentials!, gw.caPem);
  const { group, envId: id } = await createGroupAndEnvironment(arm, V);
  envId = id;
  appsPath = `${group}/providers/Microsoft.App/containerApps`;
  // A real legacy file, as `openssl pkcs12 -export -legacy` makes it: RC2-40 certificates.
  const ca = await createCa({ commonName: 'Legacy CA' });
  customCa = join(fixture.dir, 'legacy-ca.pem');
  writeFileSync(customCa, ca.certPem);
  const leaf = await issueCertificate({ issuer: ca, commonName: 'legacy.example.test', kind: 'server', dnsNames: ['legacy.example.test'] });
  writeFileSync(join(fixture.dir, 'leaf.pem'), leaf.certPem);
  writeFileSync(join(fixture.dir, 'leaf.key'), leaf.keyPem);
  const exported = (out: string, extra: string[]) =>
    run('openssl', ['pkcs12', '-export', ...extra, '-in', join(fixture!.dir, 'leaf.pem'), '-inkey', join(fixture!.dir, 'leaf.key'), '-out', join(fixture!.dir, out), '-passout', `pass:${PASSWORD}`]);
  const legacy = await exported('old.p12', ['-legacy', '-certpbe', 'PBE-SHA1-RC2-40']);
  assert.equal(legacy.code, 0, legacy.stderr);
  legacyPfx = readFileSync(join(fixture.dir, 'old.p12'));
  assert.equal((await exported('modern.p12', [])).code, 0);
  modernPfx = readFileSync(join(fixture.dir, 'modern.p12'));
});

after(async () => {
  await arm?.close();
  await fixture?.close();
});

describe('legacy PKCS12 uploads', () => {
  test('a legacy RC2-40 PKCS12 (openssl -export -legacy) is accepted and stored converted to AES-256 with a SHA-256 MAC; the ingress serves it', async () => {
    const path = `${envId}/certificates/legacy-upload?${V}`;
    const created = await arm.call('PUT', path, { location: 'local', properties: { value: legacyPfx.toString('base64'), password: PASSWORD } });
    assert.equal(created.status, 201, created.text);
    assert.match(created.json.properties.subjectName, /CN=legacy\.example\.test/);
    assert.equal(created.json.properties.value, undefined, 'the file is never returned');
    // What is kept is a modern file: openssl (without -legacy) reads it and names its algorithms.
    const stored = (await gw.gateway.store.list({ type: 'Microsoft.App/managedEnvironments/certificates' })).find((doc) => doc.name === 'legacy-upload')!;
    const { pfx, password } = decodeCertificateSecret((await gw.gateway.store.getSecret(stored.id))!);
    assert.equal(password, PASSWORD, 'the password stays the one the operator gave');
    const storedPath = join(fixture!.dir, 'stored.p12');
    writeFileSync(storedPath, pfx);
    const info = await run('openssl', ['pkcs12', '-in', storedPath, '-info', '-noout', '-passin', `pass:${PASSWORD}`]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stderr, /MAC: sha256/);
    assert.match(info.stderr, /PBES2, PBKDF2, AES-256-CBC/);
    assert.doesNotMatch(info.stderr, /RC2/);
    // And the ingress serves it: a custom domain bound to the uploaded certificate, verified by curl.
    const created2 = await arm.call('PUT', `${appsPath}/legacy-served?${V}`, appBody({ external: true, targetPort: fixture!.echo.port, customDomains: [{ name: 'legacy.example.test', bindingType: 'SniEnabled', certificateId: stored.id }] }));
    assert.equal(created2.status, 201, created2.text);
    const served = curlResult(await curl({ host: 'legacy.example.test', port: gw.httpsPort, caFile: customCa }));
    assert.equal(served.status, 200, JSON.stringify(served));
    assert.equal((await arm.call('DELETE', `${appsPath}/legacy-served?${V}`)).status < 300, true);
  });

  test('a legacy file with a wrong password is a 400 naming properties.password; nothing stored', async () => {
    const path = `${envId}/certificates/legacy-wrong?${V}`;
    const refused = await arm.call('PUT', path, { location: 'local', properties: { value: legacyPfx.toString('base64'), password: 'wrong' } });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json.error.code, 'InvalidCertificatePassword');
    assert.equal(refused.json.error.target, 'properties.password');
    assert.equal((await arm.call('GET', path)).status, 404);
  });

  test("an environment's DNS suffix with a legacy (RC2-40) wildcard PKCS12: accepted, and its apps served with it", async () => {
    const dir = fixture!.dir;
    const ca = await createCa({ commonName: 'Legacy Wildcard CA' });
    const wildcard = await issueCertificate({ issuer: ca, commonName: '*.legacy-suffix.example.test', kind: 'server', dnsNames: ['*.legacy-suffix.example.test'] });
    writeFileSync(join(dir, 'wildcard.pem'), wildcard.certPem);
    writeFileSync(join(dir, 'wildcard.key'), wildcard.keyPem);
    writeFileSync(join(dir, 'wildcard-ca.pem'), ca.certPem);
    const made = await run('openssl', ['pkcs12', '-export', '-legacy', '-in', join(dir, 'wildcard.pem'), '-inkey', join(dir, 'wildcard.key'), '-out', join(dir, 'wildcard-old.p12'), '-passout', `pass:${PASSWORD}`]);
    assert.equal(made.code, 0, made.stderr);
    const value = readFileSync(join(dir, 'wildcard-old.p12')).toString('base64');
    const patched = await arm.call('PATCH', `${envId}?${V}`, { properties: { customDomainConfiguration: { dnsSuffix: 'legacy-suffix.example.test', certificateValue: value, certificatePassword: PASSWORD } } });
    assert.ok(patched.status === 200 || patched.status === 202, patched.text);
    const app = await arm.call('PUT', `${appsPath}/suffixed?${V}`, appBody({ external: true, targetPort: fixture!.echo.port }));
    assert.equal(app.status, 201, app.text);
    const served = curlResult(await curl({ host: 'suffixed.legacy-suffix.example.test', port: gw.httpsPort, caFile: join(dir, 'wildcard-ca.pem') }));
    assert.equal(served.status, 200, JSON.stringify(served));
    assert.ok((await arm.call('DELETE', `${appsPath}/suffixed?${V}`)).status < 300);
    const cleared = await arm.call('PATCH', `${envId}?${V}`, { properties: { customDomainConfiguration: null } });
    assert.ok(cleared.status < 300, cleared.text);
  });

  test('the conversion the message gives makes a file the upload accepts', async () => {
    const dir = fixture!.dir;
    const first = await run('openssl', ['pkcs12', '-legacy', '-in', join(dir, 'old.p12'), '-nodes', '-out', join(dir, 'old.pem'), '-passin', `pass:${PASSWORD}`]);
    assert.equal(first.code, 0, first.stderr);
    const second = await run('openssl', ['pkcs12', '-export', '-in', join(dir, 'old.pem'), '-out', join(dir, 'new.p12'), '-passout', `pass:${PASSWORD}`]);
    assert.equal(second.code, 0, second.stderr);
    const value = readFileSync(join(dir, 'new.p12')).toString('base64');
    const accepted = await arm.call('PUT', `${envId}/certificates/converted?${V}`, { location: 'local', properties: { value, password: PASSWORD } });
    assert.equal(accepted.status, 201, accepted.text);
  });
});

describe('a revision the ingress cannot apply', () => {
  test('binding a domain to a certificate the ingress cannot load is an ARM error; the old routes serve; the next good write recovers', async () => {
    const echo = fixture!.echo;
    // A certificate that reached the store without the upload's checks (an older certgate, a
    // restored backup): the ingress cannot load it.
    const { resource: bad } = await gw.gateway.store.put(
      certificateDocument({ environmentId: envId, name: 'stored-legacy', properties: { subjectAlternativeNames: ['legacy.example.test'], certificateType: 'ServerSSLCertificate' } }),
      { secret: encodeCertificateSecret({ pfx: legacyPfx, password: PASSWORD }) },
    );
    const appPath = `${appsPath}/shop?${V}`;
    const created = await arm.call('PUT', appPath, appBody({ targetPort: echo.port }));
    assert.equal(created.status, 201, created.text);
    const host = created.json.properties.configuration.ingress.fqdn as string;
    const served = async () => curlResult(await curl({ host, port: gw.httpsPort, caFile: fixture!.caFile }));
    assert.equal((await served()).status, 200);

    const bound = await arm.call('PATCH', appPath, { properties: { configuration: { ingress: { customDomains: [{ name: 'legacy.example.test', bindingType: 'SniEnabled', certificateId: bad.id }] } } } });
    assert.equal(bound.status, 400, bound.text);
    assert.equal(bound.json.error.code, 'ConfigurationNotEnforced');
    assert.match(bound.json.error.message, /'shop'/);
    assert.match(bound.json.error.message, /legacy\.example\.test cannot be used/);
    assert.equal(bound.json.error.details[0].code, 'certificate_unusable');
    // Every read says so too, as ARM does for a failed deployment.
    const shown = (await arm.call('GET', appPath)).json;
    assert.equal(shown.properties.provisioningState, 'Failed');
    assert.match(shown.properties.deploymentErrors, /legacy\.example\.test cannot be used/);
    // The app's other routes keep serving; the domain is not served with a certificate it does not have.
    assert.equal((await served()).status, 200);
    assert.notEqual((await curl({ host: 'legacy.example.test', port: gw.httpsPort, caFile: customCa })).code, 0);
    // A write that does not concern the broken binding is acknowledged as before.
    const other = await arm.call('PUT', `${appsPath}/other?${V}`, appBody({ targetPort: echo.port }));
    assert.equal(other.status, 201, other.text);

    // The next good write recovers: the same certificate, uploaded in a form the ingress loads.
    const uploaded = await arm.call('PUT', `${envId}/certificates/legacy-fixed?${V}`, { location: 'local', properties: { value: modernPfx.toString('base64'), password: PASSWORD } });
    assert.equal(uploaded.status, 201, uploaded.text);
    const rebound = await arm.call('PATCH', appPath, { properties: { configuration: { ingress: { customDomains: [{ name: 'legacy.example.test', bindingType: 'SniEnabled', certificateId: uploaded.json.id }] } } } });
    assert.equal(rebound.status, 200, rebound.text);
    assert.equal(rebound.json.properties.provisioningState, 'Succeeded');
    assert.equal(rebound.json.properties.deploymentErrors, undefined);
    const custom = await curl({ host: 'legacy.example.test', port: gw.httpsPort, caFile: customCa });
    assert.equal(curlResult(custom).status, 200, custom.stderr);
    assert.equal((await served()).status, 200);
  });

  test('a revision the ingress cannot build at all is a 500 while the previous snapshot serves; it is retried by itself, and the next write succeeds', async () => {
    const echo = fixture!.echo;
    const appPath = `${appsPath}/steady?${V}`;
    const created = await arm.call('PUT', appPath, appBody({ targetPort: echo.port }));
    assert.equal(created.status, 201, created.text);
    const host = created.json.properties.configuration.ingress.fqdn as string;
    const served = async () => curlResult(await curl({ host, port: gw.httpsPort, caFile: fixture!.caFile })).status;
    assert.equal(await served(), 200);
    // The gateway cannot write the new environment's wildcard key (a directory is in its place,
    // which stops root too): building the snapshot fails as a whole.
    const blocker = join(gw.dataDir, 'server-certs', 'wildcard.broken.certgate.localhost.key');
    mkdirSync(blocker, { recursive: true });
    writeFileSync(join(blocker, 'keep'), '');
    const envPath = `${envId.replace(/\/env1$/, '/broken')}?${V}`;
    const failed = await arm.call('PUT', envPath, { location: 'local', properties: {} });
    assert.equal(failed.status, 500, failed.text);
    assert.equal(failed.json.error.code, 'IngressApplyFailed');
    assert.match(failed.json.error.message, /keeps serving the previous configuration/);
    assert.equal(await served(), 200, 'the previous snapshot keeps serving');
    rmSync(blocker, { recursive: true, force: true });
    // The gateway tries the failed revision again by itself (after 1 s, then less often).
    const deadline = Date.now() + 10_000;
    while (gw.gateway.appliedRevision < (await gw.gateway.store.revision()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(gw.gateway.appliedRevision, await gw.gateway.store.revision(), 'the failed revision was applied without another write');
    const retried = await arm.call('PATCH', envPath, { tags: { retry: '1' } });
    assert.equal(retried.status, 200, retried.text);
    const inBroken = await arm.call('PUT', `${appsPath}/fixed?${V}`, { location: 'local', properties: { managedEnvironmentId: retried.json.id, configuration: { ingress: { targetPort: echo.port } } } });
    assert.equal(inBroken.status, 201, inBroken.text);
    assert.equal(curlResult(await curl({ host: 'fixed.broken.certgate.localhost', port: gw.httpsPort, caFile: fixture!.caFile })).status, 200);
    assert.equal(await served(), 200);
  });
});
