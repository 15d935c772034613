// `certgate containerapp env certificate upload --certificate-type …` and `containerapp ingress
// verification …`, run as the real CLI against a running certgate, then checked with curl.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestGateway } from './support/gateway.ts';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import type { EchoApp } from './support/echo-app.ts';
import { curl, curlResult } from './support/clients.ts';
import { cliWithConfig, createDemoApp } from './support/cli.ts';
import { makeTestPki, type TestPki } from './support/pki.ts';
import { opensslCrl } from './support/openssl-crl.ts';

let fixture: ControlPlaneFixture | undefined;
let gw: TestGateway;
let echo: EchoApp;
let dir: string;
let pki: TestPki;
const APP = ['-n', 'shop', '-g', 'demo'];

const { certgate, ok } = cliWithConfig(() => join(dir, 'config'));

before(async () => {
  fixture = await startControlPlaneFixture('certgate-cli-verification-');
  ({ dir, echo, gw } = fixture);
  pki = await makeTestPki(join(dir, 'pki'));
  await createDemoApp(ok, gw.dataDir, echo.port);
});

after(async () => {
  await fixture?.close();
});

test('upload trust material, set a policy, see it enforced, remove it', async () => {
  const root = await ok('containerapp', 'env', 'certificate', 'upload', '-g', 'demo', '-n', 'env1', '--certificate-file', pki.root.certPath, '--certificate-type', 'ClientCertificateTrustAnchor');
  assert.equal(root.name, 'root');
  assert.equal(root.properties.certificateType, 'ClientCertificateTrustAnchor');
  const leaf = await certgate('containerapp', 'env', 'certificate', 'upload', '-g', 'demo', '-n', 'env1', '--certificate-file', pki.clientDirect.certPath, '--certificate-type', 'ClientCertificateTrustAnchor');
  assert.equal(leaf.code, 1);
  assert.match(leaf.stderr, /^ERROR: \(InvalidCertificateValue\) .*is not a CA certificate/);
  const crlFile = join(dir, 'root-crl.crl');
  writeFileSync(crlFile, await opensslCrl(pki.root.certPath, pki.root.keyPath, [pki.clientDirect.issued.certPem]));
  await ok('containerapp', 'env', 'certificate', 'upload', '-g', 'demo', '-n', 'env1', '--certificate-file', crlFile, '--certificate-type', 'ClientCertificateRevocationList');
  const clash = await certgate('containerapp', 'env', 'certificate', 'upload', '-g', 'demo', '-n', 'env1', '--certificate-file', crlFile, '--certificate-name', 'root', '--certificate-type', 'ClientCertificateRevocationList');
  assert.match(clash.stderr, /^ERROR: \(InvalidParameter\) The certificate 'root' is a ClientCertificateTrustAnchor; its certificateType cannot change/);
  const types = await ok('containerapp', 'env', 'certificate', 'list', '-g', 'demo', '-n', 'env1', '--query', '[].properties.certificateType');
  assert.deepEqual(types.sort(), ['ClientCertificateRevocationList', 'ClientCertificateTrustAnchor']);

  const noMode = await certgate('containerapp', 'ingress', 'verification', 'set', ...APP, '--trust-anchors', 'root');
  assert.equal(noMode.code, 1);
  assert.match(noMode.stderr, /clientCertificateMode 'accept' or 'require'/);
  await ok('containerapp', 'ingress', 'update', ...APP, '--client-certificate-mode', 'require');
  const policy = await ok('containerapp', 'ingress', 'verification', 'set', ...APP, '--trust-anchors', 'root', '--crls', 'root-crl', '--allow-sans', 'uri:spiffe://nobody/*');
  assert.match(policy.clientCertificateTrustAnchors[0], /\/managedEnvironments\/env1\/certificates\/root$/);
  assert.deepEqual(policy.clientCertificateAllow, { sans: ['uri:spiffe://nobody/*'] });
  const host = (await ok('containerapp', 'show', ...APP, '--query', 'properties.configuration.ingress.fqdn')) as string;
  const caFile = join(dir, 'gw-ca.pem');
  writeFileSync(caFile, gw.caPem);
  const as = (id: { certPath: string; keyPath: string }) => curl({ host, port: gw.httpsPort, caFile, cert: id.certPath, key: id.keyPath });
  assert.match(curlResult(await as(pki.client)).body, /SAN_NOT_ALLOWED/);
  // Replacing the policy drops the old allow-list.
  const replaced = await ok('containerapp', 'ingress', 'verification', 'set', ...APP, '--trust-anchors', 'root', '--crls', 'root-crl');
  assert.equal(replaced.clientCertificateAllow, undefined);
  assert.equal(curlResult(await curl({ host, port: gw.httpsPort, caFile, cert: pki.client.chainPath, key: pki.client.keyPath })).status, 200);
  assert.match(curlResult(await as(pki.clientDirect)).body, /REVOKED \(revoked\)/);
  assert.deepEqual(Object.keys(await ok('containerapp', 'ingress', 'verification', 'show', ...APP)).sort(), ['clientCertificateRevocationLists', 'clientCertificateTrustAnchors']);
  const online = await ok('containerapp', 'ingress', 'verification', 'set', ...APP, '--trust-anchors', 'root', '--online-revocation', 'Crl', '--revocation-mode', 'SoftFail');
  assert.equal(online.clientCertificateOnlineRevocation, 'Crl');
  assert.equal(online.clientCertificateRevocationMode, 'SoftFail');
  assert.equal(online.clientCertificateRevocationLists, undefined);
  assert.equal(curlResult(await as(pki.clientDirect)).status, 200, 'no distribution point: status unknown, and SoftFail serves');
  // Members the CLI sets no flag for (set through the API) are shown, and removed with the rest:
  // naming anchors without anchors would be refused, so a remove that left it would fail.
  const { id } = await ok('containerapp', 'show', ...APP);
  const body = join(dir, 'verification-extra.json');
  writeFileSync(body, JSON.stringify({ properties: { configuration: { ingress: { clientCertificateNameAnchors: true, clientCertificateExemptPaths: ['/healthz'] } } } }));
  await ok('rest', '--method', 'patch', '--url', `${id}?api-version=2025-01-01`, '--body', `@${body}`);
  const shown = await ok('containerapp', 'ingress', 'verification', 'show', ...APP);
  assert.deepEqual([shown.clientCertificateNameAnchors, shown.clientCertificateExemptPaths], [true, ['/healthz']]);
  await ok('containerapp', 'ingress', 'verification', 'remove', ...APP);
  assert.deepEqual(await ok('containerapp', 'ingress', 'verification', 'show', ...APP), {});
  assert.equal(curlResult(await as(pki.clientDirect)).status, 200, 'ACA behaviour again: whatever was sent is forwarded');
});
