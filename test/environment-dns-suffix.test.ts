// An environment's own DNS suffix (ACA's customDomainConfiguration): its uploaded wildcard
// certificate is checked at write time (bad PKCS12, wrong password, not covering *.<suffix>: 400
// naming the JSON path, nothing changes) and then serves `<app>.<suffix>` for every app of the
// environment; curl verifies it with the CA that issued it. The PKCS12 and password are never
// returned or logged.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { exportPkcs12 } from '../src/pki/pkcs12.ts';
import { useArmSession } from './support/control-fixture.ts';
import { curl, curlResult } from './support/clients.ts';

const V = 'api-version=2025-01-01';
const SUFFIX = 'apps.example.test';
const PASSWORD = 'wildcard-secret-7f3a';
const session = useArmSession('certgate-dns-suffix-', V);

let wildcard: string;
let notCovering: string;
let issuingCaFile: string;
let dir: string;

const envPath = (name: string) => `${session.group}/providers/Microsoft.App/managedEnvironments/${name}?${V}`;
const appPath = (name: string) => `${session.group}/providers/Microsoft.App/containerApps/${name}?${V}`;
const configuration = (certificateValue: string, certificatePassword = PASSWORD, dnsSuffix = SUFFIX) => ({ customDomainConfiguration: { dnsSuffix, certificateValue, certificatePassword } });

before(async () => {
  const ca = await createCa({ commonName: 'example.test issuing CA' });
  const [leaf, other] = await Promise.all([
    issueCertificate({ issuer: ca, commonName: `*.${SUFFIX}`, kind: 'server', dnsNames: [`*.${SUFFIX}`] }),
    issueCertificate({ issuer: ca, commonName: '*.other.test', kind: 'server', dnsNames: ['*.other.test', SUFFIX] }),
  ]);
  wildcard = Buffer.from(await exportPkcs12({ ...leaf, password: PASSWORD })).toString('base64');
  notCovering = Buffer.from(await exportPkcs12({ ...other, password: PASSWORD })).toString('base64');
  dir = mkdtempSync(join(tmpdir(), 'certgate-dns-suffix-ca-'));
  issuingCaFile = join(dir, 'issuing-ca.pem');
  writeFileSync(issuingCaFile, ca.certPem);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** curl verifying the served certificate with `caFile`, connecting to the gateway as `host`. */
async function fetch(host: string, caFile = issuingCaFile, http: '1.1' | '2' = '1.1') {
  const result = await curl({ host, port: session.fixture.gw.httpsPort, caFile, http, path: '/hello' });
  return { code: result.code, stderr: result.stderr, ...curlResult(result) };
}

describe('customDomainConfiguration: bad uploads are 400s naming the JSON path, and change nothing', () => {
  for (const [label, properties, target, pattern] of [
    ['not a PKCS12', configuration(Buffer.from('not a pkcs12 file').toString('base64')), 'properties.customDomainConfiguration.certificateValue', /not a usable PKCS12/],
    ['not base64', configuration('%%%'), 'properties.customDomainConfiguration.certificateValue', /not base64/],
    ['a wrong password', () => configuration(wildcard, 'wrong'), 'properties.customDomainConfiguration.certificatePassword', /wrong password/],
    ['a certificate that does not cover *.<suffix>', () => configuration(notCovering), 'properties.customDomainConfiguration.certificateValue', /does not cover \*\.apps\.example\.test/],
    ['a suffix without its certificate', { customDomainConfiguration: { dnsSuffix: SUFFIX } }, 'properties.customDomainConfiguration.certificateValue', /needs its wildcard certificate/],
    ['a suffix that is not a DNS name', () => configuration(wildcard, PASSWORD, 'not a name'), 'properties.customDomainConfiguration.dnsSuffix', /DNS|dnsSuffix/],
    ['a Key Vault reference', { customDomainConfiguration: { dnsSuffix: SUFFIX, certificateKeyVaultProperties: { keyVaultUrl: 'https://v.example/s' } } }, 'properties.customDomainConfiguration.certificateKeyVaultProperties', /Key Vault/],
  ] as const) {
    test(`${label}: PUT and PATCH refused`, async () => {
      const body = typeof properties === 'function' ? properties() : properties;
      const put = await session.arm.call('PUT', envPath('refused'), { location: 'local', properties: body });
      assert.equal(put.status, 400, put.text);
      assert.equal(put.json.error.target, target);
      assert.match(put.json.error.message, pattern);
      assert.equal((await session.arm.call('GET', envPath('refused'))).status, 404);
      const patch = await session.arm.call('PATCH', `${session.envId}?${V}`, { properties: body });
      assert.equal(patch.status, 400, patch.text);
      assert.equal(patch.json.error.target, target);
      assert.equal((await session.arm.call('GET', `${session.envId}?${V}`)).json.properties.customDomainConfiguration, undefined);
    });
  }
});

describe('an environment with a DNS suffix and its wildcard serves two apps at <app>.<suffix>', () => {
  let environment: any;
  before(async () => {
    const patched = await session.arm.call('PATCH', `${session.envId}?${V}`, { properties: configuration(wildcard) });
    assert.equal(patched.status, 200, patched.text);
    environment = patched.json;
    for (const name of ['alpha', 'beta']) {
      const app = await session.arm.call('PUT', appPath(name), { location: 'local', properties: { managedEnvironmentId: session.envId, configuration: { ingress: { external: true, targetPort: session.fixture.echo.port } } } });
      assert.equal(app.status, 201, app.text);
      assert.equal(app.json.properties.configuration.ingress.fqdn, `${name}.${SUFFIX}`);
    }
  });

  test('the read-only facts are returned; the PKCS12 and its password never are, nor logged', async () => {
    const got = await session.arm.call('GET', `${session.envId}?${V}`);
    const listed = await session.arm.call('GET', `${session.group}/providers/Microsoft.App/managedEnvironments?${V}`);
    const cdc = got.json.properties.customDomainConfiguration;
    assert.equal(cdc.dnsSuffix, SUFFIX);
    assert.match(cdc.subjectName, /CN=\*\.apps\.example\.test/);
    assert.match(cdc.thumbprint, /^[0-9A-F]{40}$/);
    assert.ok(Date.parse(cdc.expirationDate) > Date.now());
    for (const text of [JSON.stringify(environment), got.text, listed.text, JSON.stringify(session.fixture.gw.logs)]) {
      assert.doesNotMatch(text, /certificateValue|certificatePassword/);
      assert.ok(!text.includes(PASSWORD), 'the password is never returned or logged');
      assert.ok(!text.includes(wildcard.slice(0, 40)), 'the PKCS12 is never returned or logged');
    }
  });

  test('curl verifying with the issuing CA reaches both apps (HTTP/1.1 and HTTP/2)', async () => {
    for (const name of ['alpha', 'beta']) {
      for (const http of ['1.1', '2'] as const) {
        const result = await fetch(`${name}.${SUFFIX}`, issuingCaFile, http);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.status, 200, result.body);
        assert.equal(result.httpVersion, http);
        assert.equal(JSON.parse(result.body).headers['x-forwarded-host'], `${name}.${SUFFIX}:${session.fixture.gw.httpsPort}`);
      }
    }
  });

  test('the default names are still served with the local CA; the suffix names do not verify with it', async () => {
    const defaultDomain = environment.properties.defaultDomain;
    assert.equal((await fetch(`alpha.${defaultDomain}`, session.fixture.caFile)).status, 200);
    assert.notEqual((await fetch(`alpha.${SUFFIX}`, session.fixture.caFile)).code, 0);
  });

  test('a mistyped app name under the suffix gets the wildcard and 404 "no app named … in …"', async () => {
    const result = await fetch(`alpah.${SUFFIX}`);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual([result.status, result.body], [404, 'no app named alpah in environment env1 (no_app_in_environment)\n']);
  });

  test('a PUT sending back what GET returned keeps the certificate', async () => {
    const got = (await session.arm.call('GET', `${session.envId}?${V}`)).json;
    const put = await session.arm.call('PUT', `${session.envId}?${V}`, { location: got.location, properties: got.properties });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.properties.customDomainConfiguration.thumbprint, got.properties.customDomainConfiguration.thumbprint);
    assert.equal((await fetch(`beta.${SUFFIX}`)).status, 200);
  });

  test('forged read-only facts are ignored', async () => {
    const patched = await session.arm.call('PATCH', `${session.envId}?${V}`, { properties: { customDomainConfiguration: { dnsSuffix: SUFFIX, thumbprint: 'F'.repeat(40), subjectName: 'CN=forged' } } });
    assert.equal(patched.status, 200, patched.text);
    assert.notEqual(patched.json.properties.customDomainConfiguration.thumbprint, 'F'.repeat(40));
    assert.match(patched.json.properties.customDomainConfiguration.subjectName, /apps\.example\.test/);
  });

  test('another environment cannot take the same suffix (409 naming the path)', async () => {
    const other = await session.arm.call('PUT', envPath('env2'), { location: 'local', properties: configuration(wildcard) });
    assert.equal(other.status, 409, other.text);
    assert.equal(other.json.error.code, 'DnsSuffixInUse');
    assert.equal(other.json.error.target, 'properties.customDomainConfiguration.dnsSuffix');
  });

  test('removing the suffix stops serving <app>.<suffix> (the fallback certificate does not verify)', async () => {
    const patched = await session.arm.call('PATCH', `${session.envId}?${V}`, { properties: { customDomainConfiguration: null } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.properties.customDomainConfiguration, undefined);
    const result = await fetch(`alpha.${SUFFIX}`);
    assert.notEqual(result.code, 0, 'the suffix is no longer served with its wildcard');
    const again = await session.arm.call('PATCH', `${session.envId}?${V}`, { properties: { customDomainConfiguration: { dnsSuffix: SUFFIX } } });
    assert.equal(again.status, 400, 'the key material was dropped with the suffix: a new one must be uploaded');
  });
});

describe('customDomainConfiguration from a PEM file (as az sends a .pem: base64 of its text)', () => {
  test('an encrypted key with its password serves <app>.<suffix>; a wrong password is 400 naming certificatePassword', async () => {
    const ca = await createCa({ commonName: 'pem issuing CA' });
    const leaf = await issueCertificate({ issuer: ca, commonName: '*.pem.example.test', kind: 'server', dnsNames: ['*.pem.example.test'] });
    const encryptedKey = createPrivateKey(leaf.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pem-pw' }) as string;
    const value = Buffer.from(`${leaf.certPem}${encryptedKey}`).toString('base64');
    const wrong = await session.arm.call('PUT', envPath('pemenv'), { location: 'local', properties: configuration(value, 'nope', 'pem.example.test') });
    assert.equal(wrong.status, 400, wrong.text);
    assert.equal(wrong.json.error.target, 'properties.customDomainConfiguration.certificatePassword');
    const created = await session.arm.call('PUT', envPath('pemenv'), { location: 'local', properties: configuration(value, 'pem-pw', 'pem.example.test') });
    assert.equal(created.status, 201, created.text);
    assert.ok(!created.text.includes('pem-pw') && !created.text.includes(value.slice(0, 40)));
    const app = await session.arm.call('PUT', appPath('pemapp'), { location: 'local', properties: { managedEnvironmentId: created.json.id, configuration: { ingress: { external: true, targetPort: session.fixture.echo.port } } } });
    assert.equal(app.status, 201, app.text);
    const caFile = join(dir, 'pem-ca.pem');
    writeFileSync(caFile, ca.certPem);
    const result = await fetch('pemapp.pem.example.test', caFile);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.status, 200);
  });
});
