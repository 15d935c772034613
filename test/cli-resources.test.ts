// The az-style resource commands, run as the real CLI against a running certgate.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { join } from 'node:path';
import type { TestGateway } from './support/gateway.ts';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import type { EchoApp } from './support/echo-app.ts';
import { curl, curlResult, run } from './support/clients.ts';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { exportPkcs12 } from '../src/pki/pkcs12.ts';
import { certgate as runCertgate } from './support/cli.ts';

let fixture: ControlPlaneFixture | undefined;
let gw: TestGateway;
let echo: EchoApp;
let dir: string;
let caFile: string;
let ids: ControlPlaneFixture['ids'];

function certgate(...args: string[]) {
  return runCertgate(args, { env: { CERTGATE_CONFIG_DIR: join(dir, 'config') } });
}

async function ok(...args: string[]): Promise<string> {
  const result = await certgate(...args);
  assert.equal(result.code, 0, `certgate ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

before(async () => {
  fixture = await startControlPlaneFixture('certgate-cli-');
  ({ dir, ids, echo, gw, caFile } = fixture);
});

after(async () => {
  await fixture?.close();
});

describe('login', () => {
  test('before login, commands say how to log in', async () => {
    const result = await certgate('group', 'list');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERROR: \(NotLoggedIn\) Please run 'certgate login'/);
  });

  test('login --data-dir stores a 0600 profile and prints the subscriptions as az does', async () => {
    const subscriptions = JSON.parse(await ok('login', '--data-dir', gw.dataDir));
    assert.deepEqual(subscriptions.map((s: { id: string; isDefault: boolean; state: string; user: { type: string } }) => [s.id, s.isDefault, s.state, s.user.type]), [
      [gw.credentials!.subscriptionId, true, 'Enabled', 'servicePrincipal'],
    ]);
    assert.equal(statSync(join(dir, 'config', 'profile.json')).mode & 0o777, 0o600);
  });

  test('login with a wrong secret fails with one line and exit 1', async () => {
    const result = await certgate('login', '--endpoint', gw.control!.endpoint, '--client-id', gw.credentials!.clientId, '--client-secret', 'wrong', '--ca', caFile, '--config-dir-unused-check');
    assert.equal(result.code, 2, 'an unknown option is a usage error');
    const wrong = await certgate('login', '--endpoint', gw.control!.endpoint, '--client-id', gw.credentials!.clientId, '--client-secret', 'wrong', '--ca', caFile);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr.trim().split('\n').length, 1);
    assert.match(wrong.stderr, /^ERROR: \(invalid_client\) Login failed/);
    // The good profile is still in place.
    await ok('group', 'list');
  });
});

describe('resources', () => {
  test('group, environment and app, with --query and --output tsv', async () => {
    assert.equal((await ok('group', 'create', '--name', 'demo', '--location', 'local', '--query', 'name', '-o', 'tsv')).trim(), 'demo');
    assert.equal((await ok('containerapp', 'env', 'create', '-n', 'env1', '-g', 'demo', '--query', 'properties.defaultDomain', '-o', 'tsv')).trim(), 'env1.certgate.localhost');
    const fqdn = await ok('containerapp', 'create', '-n', 'shop', '-g', 'demo', '--environment', 'env1', '--ingress', 'external', '--target-port', String(echo.port), '--query', 'properties.configuration.ingress.fqdn', '-o', 'tsv');
    assert.equal(fqdn.trim(), 'shop.env1.certgate.localhost');
    const id = (await ok('containerapp', 'show', '--name', 'shop', '--resource-group', 'demo', '--query', 'id', '--output', 'tsv')).trim();
    assert.equal(id, `/subscriptions/${gw.credentials!.subscriptionId}/resourceGroups/demo/providers/Microsoft.App/containerApps/shop`);
    assert.deepEqual((await ok('containerapp', 'list', '-g', 'demo', '--query', '[].name', '-o', 'tsv')).trim().split('\n'), ['shop']);
    assert.deepEqual((await ok('containerapp', 'list', '--environment', 'env1', '--query', '[].name', '-o', 'tsv')).trim().split('\n'), ['shop']);
    assert.equal(curlResult(await curl({ host: 'shop.env1.certgate.localhost', port: gw.httpsPort, caFile })).status, 200);
  });

  test('containerapp ingress update --client-certificate-mode require is enforced at once', async () => {
    const mode = await ok('containerapp', 'ingress', 'update', '-n', 'shop', '-g', 'demo', '--client-certificate-mode', 'require', '--query', 'clientCertificateMode', '-o', 'tsv');
    assert.equal(mode.trim(), 'require');
    assert.notEqual((await curl({ host: 'shop.env1.certgate.localhost', port: gw.httpsPort, caFile })).code, 0);
    const withCert = await curl({ host: 'shop.env1.certgate.localhost', port: gw.httpsPort, caFile, cert: ids.self.p12File, certType: 'P12', password: 'test' });
    assert.equal(curlResult(withCert).status, 200);
    const table = await ok('containerapp', 'ingress', 'show', '-n', 'shop', '-g', 'demo', '-o', 'table');
    assert.match(table, /ClientCertificateMode/);
    assert.match(table, /require/);
  });

  test('ingress enable and disable', async () => {
    await ok('containerapp', 'create', '-n', 'plain', '-g', 'demo', '--environment', 'env1');
    const shown = await certgate('containerapp', 'ingress', 'show', '-n', 'plain', '-g', 'demo');
    assert.equal(shown.code, 1);
    assert.match(shown.stderr, /ERROR: \(IngressDisabled\)/);
    const enabled = JSON.parse(await ok('containerapp', 'ingress', 'enable', '-n', 'plain', '-g', 'demo', '--type', 'external', '--target-port', String(echo.port), '--client-certificate-mode', 'accept', '--allow-insecure'));
    assert.equal(enabled.clientCertificateMode, 'accept');
    assert.equal(enabled.allowInsecure, true);
    await ok('containerapp', 'ingress', 'disable', '-n', 'plain', '-g', 'demo');
    assert.equal((await certgate('containerapp', 'ingress', 'show', '-n', 'plain', '-g', 'demo')).code, 1);
  });

  test('a legacy PKCS12 (openssl pkcs12 -export -legacy, RC2-40) uploads through the CLI as it is', async () => {
    const ca = await createCa({ commonName: 'Old CA' });
    const leaf = await issueCertificate({ issuer: ca, commonName: 'old.example.test', kind: 'server', dnsNames: ['old.example.test'] });
    writeFileSync(join(dir, 'old.pem'), leaf.certPem);
    writeFileSync(join(dir, 'old.key'), leaf.keyPem);
    const made = await run('openssl', ['pkcs12', '-export', '-legacy', '-in', join(dir, 'old.pem'), '-inkey', join(dir, 'old.key'), '-passout', 'pass:pw', '-out', join(dir, 'old-legacy.pfx')]);
    assert.equal(made.code, 0, made.stderr);
    const uploaded = JSON.parse(await ok('containerapp', 'env', 'certificate', 'upload', '-g', 'demo', '-n', 'env1', '--certificate-file', join(dir, 'old-legacy.pfx'), '--password', 'pw'));
    assert.match(uploaded.properties.subjectName, /CN=old\.example\.test/);
    await ok('containerapp', 'env', 'certificate', 'delete', '-g', 'demo', '-n', 'env1', '--certificate', uploaded.name, '--yes');
  });

  test('env create and update with --custom-domain-dns-suffix and its wildcard certificate: apps served at <app>.<suffix>', async () => {
    const ca = await createCa({ commonName: 'CLI suffix CA' });
    const issue = () => issueCertificate({ issuer: ca, commonName: '*.cli.example.test', kind: 'server', dnsNames: ['*.cli.example.test'] });
    const [first, renewed] = await Promise.all([issue(), issue()]);
    const firstPfx = join(dir, 'cli-wildcard.pfx');
    const renewedPfx = join(dir, 'cli-wildcard-renewed.pfx');
    writeFileSync(firstPfx, await exportPkcs12({ ...first, password: 'suffix-pw' }));
    writeFileSync(renewedPfx, await exportPkcs12({ ...renewed, password: 'suffix-pw-2' }));
    const suffixCa = join(dir, 'cli-suffix-ca.pem');
    writeFileSync(suffixCa, ca.certPem);
    const half = await certgate('containerapp', 'env', 'create', '-n', 'suffixed', '-g', 'demo', '--custom-domain-dns-suffix', 'cli.example.test');
    assert.equal(half.code, 1);
    assert.match(half.stderr, /must be given together/);
    const wrong = await certgate('containerapp', 'env', 'create', '-n', 'suffixed', '-g', 'demo', '--custom-domain-dns-suffix', 'cli.example.test', '--custom-domain-certificate-file', firstPfx, '--custom-domain-certificate-password', 'nope');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^ERROR: \(InvalidCertificatePassword\)/);
    const created = JSON.parse(await ok('containerapp', 'env', 'create', '-n', 'suffixed', '-g', 'demo', '--custom-domain-dns-suffix', 'cli.example.test', '--custom-domain-certificate-file', firstPfx, '--custom-domain-certificate-password', 'suffix-pw'));
    assert.equal(created.properties.customDomainConfiguration.dnsSuffix, 'cli.example.test');
    assert.doesNotMatch(JSON.stringify(created), /suffix-pw|certificateValue/);
    const fqdn = await ok('containerapp', 'create', '-n', 'web', '-g', 'demo', '--environment', 'suffixed', '--ingress', 'external', '--target-port', String(echo.port), '--query', 'properties.configuration.ingress.fqdn', '-o', 'tsv');
    assert.equal(fqdn.trim(), 'web.cli.example.test');
    assert.equal(curlResult(await curl({ host: 'web.cli.example.test', port: gw.httpsPort, caFile: suffixCa })).status, 200);
    const thumbprint = await ok('containerapp', 'env', 'update', '-n', 'suffixed', '-g', 'demo', '--custom-domain-certificate-file', renewedPfx, '--custom-domain-certificate-password', 'suffix-pw-2', '--query', 'properties.customDomainConfiguration.thumbprint', '-o', 'tsv');
    assert.equal(thumbprint.trim(), new X509Certificate(renewed.certPem).fingerprint.replaceAll(':', ''), 'the renewed certificate replaced the first');
    const renewedServed = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername: 'web.cli.example.test', ca: ca.certPem }, () => {
        resolve(socket.getPeerX509Certificate()!.fingerprint.replaceAll(':', ''));
        socket.destroy();
      });
      socket.on('error', reject);
    });
    assert.equal(renewedServed, thumbprint.trim(), 'new connections get the renewed certificate');
    assert.equal(curlResult(await curl({ host: 'web.cli.example.test', port: gw.httpsPort, caFile: suffixCa })).status, 200);
    await ok('containerapp', 'delete', '-n', 'web', '-g', 'demo', '--yes');
  });

  test('environment certificate upload, list and delete', async () => {
    const ca = await createCa({ commonName: 'CLI CA' });
    const leaf = await issueCertificate({ issuer: ca, commonName: 'cli.example.test', kind: 'server', dnsNames: ['cli.example.test'] });
    const pfx = join(dir, 'cli-example.pfx');
    writeFileSync(pfx, await exportPkcs12({ certPem: leaf.certPem, keyPem: leaf.keyPem, password: 'pw' }));
    const wrong = await certgate('containerapp', 'env', 'certificate', 'upload', '-g', 'demo', '-n', 'env1', '--certificate-file', pfx, '--password', 'nope');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^ERROR: \(InvalidCertificatePassword\)/);
    const uploaded = JSON.parse(await ok('containerapp', 'env', 'certificate', 'upload', '-g', 'demo', '-n', 'env1', '--certificate-file', pfx, '--password', 'pw'));
    assert.equal(uploaded.name, 'cli-example');
    assert.match(uploaded.properties.subjectName, /CN=cli\.example\.test/);
    assert.equal((await ok('containerapp', 'env', 'certificate', 'list', '-g', 'demo', '-n', 'env1', '--query', '[].name', '-o', 'tsv')).trim(), 'cli-example');
    await ok('containerapp', 'env', 'certificate', 'delete', '-g', 'demo', '-n', 'env1', '--certificate', 'cli-example', '--yes');
    assert.equal((await ok('containerapp', 'env', 'certificate', 'list', '-g', 'demo', '-n', 'env1', '-o', 'tsv')).trim(), '');
  });

  test('errors: ARM errors as az prints them, with az exit codes', async () => {
    const missing = await certgate('containerapp', 'show', '-n', 'nope', '-g', 'demo');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /^ERROR: \(ResourceNotFound\) The Resource 'Microsoft\.App\/containerApps\/nope' under resource group 'demo' was not found\./);
    const usage = await certgate('containerapp', 'show', '-n', 'x');
    assert.equal(usage.code, 2);
    const deleting = await certgate('containerapp', 'delete', '-n', 'shop', '-g', 'demo');
    assert.equal(deleting.code, 2, 'without a terminal, deleting needs --yes');
    assert.match(deleting.stderr, /pass --yes/);
  });
});

describe('rest', () => {
  test('a path relative to the endpoint, with --uri-parameters', async () => {
    const ids = await ok('rest', '--url', '/subscriptions', '--uri-parameters', 'api-version=2022-12-01', '--query', 'value[].subscriptionId', '-o', 'tsv');
    assert.equal(ids.trim(), gw.credentials!.subscriptionId);
  });

  test('a management.azure.com URL goes to the endpoint, with a note on stderr; --body @file', async () => {
    const appId = (await ok('containerapp', 'show', '-n', 'shop', '-g', 'demo', '--query', 'id', '-o', 'tsv')).trim();
    const body = join(dir, 'patch.json');
    writeFileSync(body, '{"properties": {"configuration": {"ingress": {"clientCertificateMode": "accept"}}}}');
    const result = await certgate('rest', '--method', 'patch', '--url', `https://management.azure.com${appId}?api-version=2025-01-01`, '--body', `@${body}`, '--query', 'properties.configuration.ingress.clientCertificateMode', '-o', 'tsv');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'accept');
    assert.match(result.stderr, /WARNING: https:\/\/management\.azure\.com is Azure's; sending the request to https:\/\/127\.0\.0\.1:\d+ instead\./);
  });

  test('an error status is an error, with the response', async () => {
    const result = await certgate('rest', '--method', 'patch', '--url', `/subscriptions/${gw.credentials!.subscriptionId}/resourceGroups/demo/providers/Microsoft.App/containerApps/shop?api-version=2025-01-01`, '--body', '{"properties":{"configuration":{"ingress":{"clientCertMode":"require"}}}}');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERROR: Bad Request\(\{"error":\{"code":"InvalidRequestContent".*clientCertificateMode/);
  });

  test('--skip-authorization-header sends none (and the endpoint refuses)', async () => {
    const result = await certgate('rest', '--url', '/subscriptions?api-version=2022-12-01', '--skip-authorization-header');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Unauthorized.*AuthenticationFailed/);
  });

  test('a URL off the endpoint gets no token, and the note says how to send one (no --resource: certgate has none)', async () => {
    const seen: (string | undefined)[] = [];
    const other = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}/thing`;
      const result = await certgate('rest', '--url', url, '--query', 'ok', '-o', 'tsv');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), 'true');
      assert.deepEqual(seen, [undefined], 'no Authorization header left for another service');
      assert.match(result.stderr, /WARNING: http:\/\/127\.0\.0\.1:\d+ is not the management endpoint .*--headers Authorization=/);
      assert.doesNotMatch(result.stderr, /--resource/);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  test('--headers are sent', async () => {
    const appId = (await ok('containerapp', 'show', '-n', 'shop', '-g', 'demo', '--query', 'id', '-o', 'tsv')).trim();
    const result = await certgate('rest', '--method', 'patch', '--url', `${appId}?api-version=2025-01-01`, '--headers', 'If-Match="stale"', '--body', '{"tags":{"a":"b"}}');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Precondition Failed/);
  });
});

test('logout forgets the profile', async () => {
  await ok('logout');
  assert.equal((await certgate('group', 'list')).code, 1);
});
