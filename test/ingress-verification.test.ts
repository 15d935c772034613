// Client-certificate verification at the edge (issue 13): trust material uploaded as environment
// certificates, per-app policies, verdicts enforced and forwarded, with real clients (curl PEM and
// P12, openssl s_client, Node https and http2; TLS 1.2 and 1.3) and a PKI made at test time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http2 from 'node:http2';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startEchoApp, type EchoApp, type EchoRequest } from './support/echo-app.ts';
import { startTestGateway, SUBSCRIPTION, RESOURCE_GROUP, type TestGateway } from './support/gateway.ts';
import { curl, curlHttp, curlResult, keepAliveConnection, sClient } from './support/clients.ts';
import { makeTestPki, type TestPki, type TestPkiIdentity } from './support/pki.ts';
import { opensslCrl } from './support/openssl-crl.ts';
import { createCa, issueCertificate, createSelfSigned, sha256Thumbprint } from '../src/pki/issue.ts';

const DAY = 86_400_000;
const API = 'api-version=2025-01-01';
const envPath = (env: string) => `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.App/managedEnvironments/${env}`;

let gw: TestGateway;
let echo: EchoApp;
let dir: string;
let caFile: string;
let pki: TestPki;
let other: TestPki;
let notYet: { certFile: string; keyFile: string };
let device: TestPkiIdentity;
let stranger: { certFile: string; keyFile: string };
const hosts: Record<string, string> = {};
const ids: Record<string, string> = {};

async function upload(env: string, name: string, certificateType: string, value: string | Buffer): Promise<string> {
  const { body } = await gw.arm('PUT', `${envPath(env)}/certificates/${name}?${API}`, {
    location: 'local',
    properties: { certificateType, value: Buffer.from(value).toString('base64') },
  });
  return (body as { id: string }).id;
}

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-verify-'));
  [pki, other] = await Promise.all([makeTestPki(join(dir, 'pki')), makeTestPki(join(dir, 'other'))]);
  const future = await issueCertificate({ issuer: pki.root.issued, commonName: 'not yet valid', kind: 'client', notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 30 * DAY) });
  notYet = { certFile: write('not-yet.pem', future.certPem), keyFile: write('not-yet.key', future.keyPem) };
  device = pki.selfSigned;
  const strangerCert = await createSelfSigned({ commonName: 'unknown device', kind: 'client' });
  stranger = { certFile: write('stranger.pem', strangerCert.certPem), keyFile: write('stranger.key', strangerCert.keyPem) };
  echo = await startEchoApp();
  gw = await startTestGateway();
  caFile = write('gateway-ca.pem', gw.caPem);
  await gw.createEnvironment('env1');
  await gw.createEnvironment('env2');
  ids.root = await upload('env1', 'root', 'ClientCertificateTrustAnchor', readFileSync(pki.root.certPath, 'utf8'));
  ids.intermediate = await upload('env1', 'intermediate', 'ClientCertificateIntermediate', readFileSync(pki.intermediate.certPath));
  // DER works as well as PEM.
  ids.otherRoot = await upload('env1', 'other-root', 'ClientCertificateTrustAnchor', other.root.issued.certificate.raw);
  ids.env2Root = await upload('env2', 'root', 'ClientCertificateTrustAnchor', readFileSync(pki.root.certPath, 'utf8'));
  const target = { targetPort: echo.port };
  hosts.require = await gw.putApp('verify-require', 'env1', { ...target, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root] });
  hosts.accept = await gw.putApp('verify-accept', 'env1', { ...target, clientCertificateMode: 'accept', clientCertificateTrustAnchors: [ids.root] });
  hosts.fallback = await gw.putApp('verify-fallback', 'env1', { ...target, clientCertificateMode: 'accept', clientCertificateTrustAnchors: [ids.root], clientCertificateValidationMode: 'AllowInsecureFallback' });
  hosts.other = await gw.putApp('verify-other', 'env1', { ...target, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.otherRoot] });
  hosts.both = await gw.putApp('verify-both', 'env1', { ...target, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root, ids.otherRoot] });
  hosts.pinned = await gw.putApp('verify-pinned', 'env1', { ...target, clientCertificateMode: 'require', clientCertificateAllow: { thumbprints: [device.thumbprint] } });
  hosts.intermediates = await gw.putApp('verify-intermediates', 'env1', { ...target, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root], clientCertificateIntermediates: [ids.intermediate] });
  hosts.plain = await gw.putApp('plain-accept', 'env1', { ...target, clientCertificateMode: 'accept' });
  hosts.ignore = await gw.putApp('plain-ignore', 'env1', { ...target, allowInsecure: true });
});

after(async () => {
  await gw?.close();
  await echo?.close();
});

function received(before: number): EchoRequest {
  assert.equal(echo.received.length, before + 1, 'the app received exactly one request');
  return echo.received.at(-1)!;
}

const FORGED = ['X-Certgate-Client-Verdict: OK', 'X-Certgate-Client-Cert-Verified: true', 'x_certgate_client_cert_sha256: 00'];

describe('trust material uploads: every bad input is a 400 naming properties.value, and nothing is stored', () => {
  const bad = async (name: string, certificateType: string, value: string | Buffer, pattern: RegExp) => {
    await assert.rejects(upload('env1', name, certificateType, value), pattern);
    await assert.rejects(gw.arm('GET', `${envPath('env1')}/certificates/${name}?${API}`), /404/);
  };
  test('a leaf is not a CA', () => bad('leaf', 'ClientCertificateTrustAnchor', readFileSync(pki.clientDirect.certPath, 'utf8'), /400 InvalidCertificateValue: properties.value: "CN=test client \(issued by root\)" is not a CA certificate/));
  test('garbage PEM', () => bad('garbage', 'ClientCertificateTrustAnchor', '-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n', /400 InvalidCertificateValue/));
  test('random bytes', () => bad('bytes', 'ClientCertificateTrustAnchor', Buffer.from([1, 2, 3, 4]), /400 InvalidCertificateValue: properties.value is neither PEM nor DER/));
  test('a private key', () => bad('key', 'ClientCertificateTrustAnchor', readFileSync(pki.root.certPath, 'utf8') + readFileSync(pki.root.keyPath, 'utf8'), /400 InvalidCertificateValue: properties.value holds a private key/));
  test('an expired anchor', async () => {
    const old = await createCa({ commonName: 'expired root', notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
    await bad('expired', 'ClientCertificateTrustAnchor', old.certPem, /400 InvalidCertificateValue: properties.value: "CN=expired root" expired at/);
  });
  test('a CRL signed by someone else', async () => {
    // A CA named as the uploaded root, with a key of its own: the names match, the signature does not.
    const impostor = await createCa({ commonName: 'certgate test root CA' });
    const forged = await opensslCrl(write('impostor.pem', impostor.certPem), write('impostor.key', impostor.keyPem), []);
    const unrelated = await createCa({ commonName: 'unrelated CA' });
    const env2Only = await opensslCrl(write('unrelated.pem', unrelated.certPem), write('unrelated.key', unrelated.keyPem), []);
    await bad('forged-crl', 'ClientCertificateRevocationList', forged, /400 InvalidCertificateValue: properties.value: the CRL names "CN=certgate test root CA" as issuer but is not signed by its key/);
    await bad('stranger-crl', 'ClientCertificateRevocationList', env2Only, /400 InvalidCertificateValue: properties.value: the CRL's issuer is none of the environment's/);
  });
  test('a certificate where a CRL belongs', () => bad('not-crl', 'ClientCertificateRevocationList', readFileSync(pki.root.certPath, 'utf8'), /400 InvalidCertificateValue: properties.value must hold exactly one "BEGIN X509 CRL"/));
  test('an unknown certificateType', () => bad('unknown', 'ImagePullTrustedCA', readFileSync(pki.root.certPath, 'utf8'), /400 InvalidParameter: certificateType 'ImagePullTrustedCA' is not supported/));
  test('an upload reads back in ARM shape', async () => {
    const { body } = await gw.arm('GET', `${envPath('env1')}/certificates/root?${API}`);
    const properties = (body as { properties: Record<string, unknown> }).properties;
    assert.equal(properties['certificateType'], 'ClientCertificateTrustAnchor');
    assert.equal(properties['thumbprintSha256'], sha256Thumbprint(readFileSync(pki.root.certPath, 'utf8')));
    assert.equal(properties['value'], undefined);
  });
});

describe('app policies: bad references are 400s naming the JSON path, and change nothing', () => {
  const put = (name: string, ingress: Record<string, unknown>) => gw.putApp(name, 'env1', { targetPort: echo.port, ...ingress });
  const base = 'properties.configuration.ingress';
  test('a reference that does not exist', () =>
    assert.rejects(put('bad-ref', { clientCertificateMode: 'require', clientCertificateTrustAnchors: [`${envPath('env1')}/certificates/nope`] }), new RegExp(`400 InvalidParameter: ${base}.clientCertificateTrustAnchors\\[0\\]: the certificate .* does not exist`)));
  test("another environment's anchor", () =>
    assert.rejects(put('bad-env', { clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.env2Root] }), /clientCertificateTrustAnchors\[0\]: the certificate .* does not exist in the app's environment/));
  test('an intermediate where an anchor belongs', () =>
    assert.rejects(put('bad-type', { clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.intermediate] }), /clientCertificateTrustAnchors\[0\]: .* is a ClientCertificateIntermediate, not a ClientCertificateTrustAnchor/));
  test('verification with mode ignore', () =>
    assert.rejects(put('bad-mode', { clientCertificateTrustAnchors: [ids.root] }), /ingress.clientCertificateMode: client-certificate verification needs clientCertificateMode 'accept' or 'require'/));
  test('fallback with require', () =>
    assert.rejects(put('bad-fallback', { clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root], clientCertificateValidationMode: 'AllowInsecureFallback' }), /clientCertificateValidationMode: AllowInsecureFallback needs clientCertificateMode 'accept'/));
  test('subject allow-list without anchors or pins', () =>
    assert.rejects(put('bad-allow', { clientCertificateMode: 'require', clientCertificateAllow: { subjects: ['CN=x'] } }), /ingress.clientCertificateAllow: without clientCertificateTrustAnchors, pin certificates/));
  test('a malformed pin', () =>
    assert.rejects(put('bad-pin', { clientCertificateMode: 'require', clientCertificateAllow: { thumbprints: ['abc'] } }), /ingress.clientCertificateAllow.thumbprints\[0\]: invalid value/));
  test('too many anchors', () =>
    assert.rejects(put('bad-many', { clientCertificateMode: 'require', clientCertificateTrustAnchors: Array.from({ length: 17 }, () => ids.root) }), /clientCertificateTrustAnchors/));
  test('a referenced anchor cannot be deleted', () => assert.rejects(gw.arm('DELETE', `${envPath('env1')}/certificates/root?${API}`), /409 CertificateInUse: .*trust material of: /));
});

describe('outcomes through curl (PEM and P12), TLS 1.2 and 1.3, HTTP/1.1 and HTTP/2', () => {
  const cases: { name: string; host: string; cert?: () => { cert: string; key?: string; certType?: 'P12'; password?: string }; code: string }[] = [
    { name: 'leaf + intermediate', host: 'require', cert: () => ({ cert: pki.client.chainPath, key: pki.client.keyPath }), code: 'OK' },
    { name: 'leaf issued by the root', host: 'require', cert: () => ({ cert: pki.clientDirect.certPath, key: pki.clientDirect.keyPath }), code: 'OK' },
    { name: 'P12 with chain', host: 'require', cert: () => ({ cert: pki.client.opensslP12Path, certType: 'P12', password: pki.password }), code: 'OK' },
    { name: 'expired', host: 'require', cert: () => ({ cert: pki.expired.certPath, key: pki.expired.keyPath }), code: 'CERT_EXPIRED' },
    { name: 'not yet valid', host: 'require', cert: () => ({ cert: notYet.certFile, key: notYet.keyFile }), code: 'CERT_NOT_YET_VALID' },
    { name: 'wrong EKU (serverAuth)', host: 'require', cert: () => ({ cert: pki.server.certPath, key: pki.server.keyPath }), code: 'EKU_NOT_CLIENT_AUTH' },
    { name: 'wrong CA', host: 'require', cert: () => ({ cert: other.clientDirect.certPath, key: other.clientDirect.keyPath }), code: 'UNTRUSTED_ISSUER' },
    { name: 'self-signed', host: 'require', cert: () => ({ cert: device.certPath, key: device.keyPath }), code: 'UNTRUSTED_ISSUER' },
    { name: 'migration: the old CA', host: 'both', cert: () => ({ cert: pki.clientDirect.certPath, key: pki.clientDirect.keyPath }), code: 'OK' },
    { name: 'migration: the new CA', host: 'both', cert: () => ({ cert: other.client.chainPath, key: other.client.keyPath }), code: 'OK' },
    { name: 'pinned device', host: 'pinned', cert: () => ({ cert: device.certPath, key: device.keyPath }), code: 'OK' },
    { name: 'unpinned device', host: 'pinned', cert: () => ({ cert: stranger.certFile, key: stranger.keyFile }), code: 'THUMBPRINT_NOT_ALLOWED' },
    { name: 'leaf alone, intermediate missing', host: 'require', cert: () => ({ cert: pki.client.certPath, key: pki.client.keyPath }), code: 'UNTRUSTED_ISSUER' },
    { name: 'leaf alone, clientCertificateIntermediates completes the path', host: 'intermediates', cert: () => ({ cert: pki.client.certPath, key: pki.client.keyPath }), code: 'OK' },
    { name: 'accept, no certificate', host: 'accept', code: 'NONE' },
    { name: 'accept, wrong CA', host: 'accept', cert: () => ({ cert: other.clientDirect.certPath, key: other.clientDirect.keyPath }), code: 'UNTRUSTED_ISSUER' },
  ];
  for (const tls of ['1.2', '1.3'] as const) {
    for (const http of ['1.1', '2'] as const) {
      for (const c of cases) {
        test(`${c.host}: ${c.name}, TLS ${tls}, HTTP/${http}`, async () => {
          const before = echo.received.length;
          const result = await curl({ host: hosts[c.host]!, port: gw.httpsPort, caFile, tls, http, ...(c.cert?.() ?? {}), headers: FORGED });
          assert.equal(result.code, 0, result.stderr);
          const { status, body } = curlResult(result);
          if (c.code === 'OK' || c.code === 'NONE') {
            assert.equal(status, 200, body);
            const headers = received(before).headers;
            assert.equal(headers['x-certgate-client-verdict'], c.code);
            assert.equal(headers['x-certgate-client-cert-verified'], c.code === 'OK' ? 'true' : 'false');
            assert.equal(headers['x-certgate-client-cert-present'], c.code === 'OK' ? 'true' : 'false');
            assert.equal(headers['x_certgate_client_cert_sha256'], undefined, 'the forged underscore header is gone');
            if (c.code === 'OK') assert.match(String(headers['x-certgate-client-cert-sha256']), /^[0-9a-f]{64}$/);
            else assert.equal(headers['x-certgate-client-cert-sha256'], undefined);
          } else {
            assert.equal(status, 403);
            assert.match(body, new RegExp(`${c.code} \\(${c.code.toLowerCase()}\\)`));
            assert.equal(echo.received.length, before, 'the app never sees the request');
          }
        });
      }
    }
  }
});

describe('insecure fallback: every request reaches the app with its verdict', () => {
  for (const [name, cert, code] of [
    ['matching', () => ({ cert: pki.clientDirect.certPath, key: pki.clientDirect.keyPath }), 'OK'],
    ['not matching', () => ({ cert: other.clientDirect.certPath, key: other.clientDirect.keyPath }), 'UNTRUSTED_ISSUER'],
    ['expired', () => ({ cert: pki.expired.certPath, key: pki.expired.keyPath }), 'CERT_EXPIRED'],
    ['no certificate', () => ({}), 'NONE'],
  ] as const) {
    test(name, async () => {
      const before = echo.received.length;
      const result = await curl({ host: hosts.fallback!, port: gw.httpsPort, caFile, ...cert(), headers: FORGED });
      assert.equal(curlResult(result).status, 200, result.stderr);
      const headers = received(before).headers;
      assert.equal(headers['x-certgate-client-verdict'], code);
      assert.equal(headers['x-certgate-client-cert-verified'], code === 'OK' ? 'true' : 'false');
      if (code !== 'NONE') {
        assert.match(String(headers['x-certgate-client-cert-subject']), /^CN=/);
        assert.ok(headers['x-forwarded-client-cert'], 'XFCC is forwarded beside the verdict');
      }
    });
  }
});

test('apps without verification: ACA behaviour, and forged verdict headers are stripped (accept, ignore, plain HTTP)', async () => {
  let before = echo.received.length;
  const result = await curl({ host: hosts.plain!, port: gw.httpsPort, caFile, cert: other.clientDirect.certPath, key: other.clientDirect.keyPath, headers: FORGED });
  assert.equal(curlResult(result).status, 200);
  let headers = received(before).headers;
  assert.ok(headers['x-forwarded-client-cert']);
  for (const name of Object.keys(headers)) assert.doesNotMatch(name, /certgate/);
  before = echo.received.length;
  assert.equal(curlResult(await curl({ host: hosts.ignore!, port: gw.httpsPort, caFile, headers: FORGED })).status, 200);
  headers = received(before).headers;
  for (const name of Object.keys(headers)) assert.doesNotMatch(name, /certgate/);
  before = echo.received.length;
  assert.equal(curlResult(await curlHttp({ host: hosts.ignore!, port: gw.httpPort, headers: FORGED })).status, 200);
  headers = received(before).headers;
  for (const name of Object.keys(headers)) assert.doesNotMatch(name, /certgate/);
});

test('the CertificateRequest names the anchors only when the app asks (clientCertificateNameAnchors)', async () => {
  const named = await gw.putApp('verify-named', 'env1', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root, ids.otherRoot], clientCertificateNameAnchors: true });
  for (const tls of ['1.2', '1.3'] as const) {
    const withNames = await sClient({ port: gw.httpsPort, servername: named, cert: pki.clientDirect.certPath, key: pki.clientDirect.keyPath, tls, request: `GET / HTTP/1.1\r\nHost: ${named}\r\nConnection: close\r\n\r\n` });
    assert.match(withNames.stdout, /Acceptable client certificate CA names\n(CN ?= ?certgate test root CA\n){2}/);
    assert.match(withNames.stdout, /HTTP\/1\.1 200/, 'verification is unchanged');
    const without = await sClient({ port: gw.httpsPort, servername: hosts.require, cert: pki.clientDirect.certPath, key: pki.clientDirect.keyPath, tls, request: `GET / HTTP/1.1\r\nHost: ${hosts.require}\r\nConnection: close\r\n\r\n` });
    assert.match(without.stdout, /No client certificate CA names sent/);
  }
  const expired = await sClient({ port: gw.httpsPort, servername: named, cert: pki.expired.certPath, key: pki.expired.keyPath, request: `GET / HTTP/1.1\r\nHost: ${named}\r\n\r\n` });
  assert.match(expired.stdout, /CERT_EXPIRED \(cert_expired\)/, 'OpenSSL naming the CAs does not replace the verdict');
});

describe('openssl s_client and Node clients', () => {
  for (const tls of ['1.2', '1.3'] as const) {
    test(`s_client TLS ${tls}: refused with 403 and the code, then closed`, async () => {
      const result = await sClient({ port: gw.httpsPort, servername: hosts.require, cert: pki.expired.certPath, key: pki.expired.keyPath, tls, request: `GET / HTTP/1.1\r\nHost: ${hosts.require}\r\n\r\n` });
      assert.match(result.stdout, /HTTP\/1\.1 403/);
      assert.match(result.stdout, /CERT_EXPIRED \(cert_expired\)/);
    });
    test(`s_client TLS ${tls}: leaf + chain verified`, async () => {
      const before = echo.received.length;
      const result = await sClient({ port: gw.httpsPort, servername: hosts.require, cert: pki.client.certPath, key: pki.client.keyPath, chain: pki.intermediate.certPath, tls, request: `GET / HTTP/1.1\r\nHost: ${hosts.require}\r\nConnection: close\r\n\r\n` });
      assert.match(result.stdout, /HTTP\/1\.1 200/);
      assert.equal(received(before).headers['x-certgate-client-verdict'], 'OK');
    });
  }
  const nodeGet = (host: string, cert: string, key: string, maxVersion: 'TLSv1.2' | 'TLSv1.3') =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = https.request({ host: '127.0.0.1', port: gw.httpsPort, servername: host, headers: { host }, ca: gw.caPem, cert: readFileSync(cert), key: readFileSync(key), maxVersion, agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk) => (body += chunk)).on('end', () => resolve({ status: response.statusCode!, body }));
      });
      request.on('error', reject).end();
    });
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    test(`Node https ${version}: revoked-free leaf passes, wrong CA refused`, async () => {
      assert.equal((await nodeGet(hosts.require!, pki.clientDirect.certPath, pki.clientDirect.keyPath, version)).status, 200);
      const refused = await nodeGet(hosts.require!, other.clientDirect.certPath, other.clientDirect.keyPath, version);
      assert.equal(refused.status, 403);
      assert.match(refused.body, /UNTRUSTED_ISSUER \(untrusted_issuer\)/);
    });
  }
  test('Node http2: two apps on the shared port, each trusting its own CA; the session reused for the other name gets 421', async () => {
    const session = http2.connect(`https://${hosts.require}:${gw.httpsPort}`, { host: '127.0.0.1', servername: hosts.require, ca: gw.caPem, cert: readFileSync(pki.clientDirect.certPath), key: readFileSync(pki.clientDirect.keyPath) } as http2.SecureClientSessionOptions);
    const get = (authority: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ':path': '/', ':authority': authority });
        let body = '';
        let status = 0;
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.setEncoding('utf8').on('data', (chunk) => (body += chunk)).on('end', () => resolve({ status, body })).on('error', reject);
      });
    try {
      assert.equal((await get(hosts.require!)).status, 200);
      assert.equal((await get(hosts.other!)).status, 421);
    } finally {
      session.close();
    }
    const mine = await curl({ host: hosts.other!, port: gw.httpsPort, caFile, cert: other.clientDirect.certPath, key: other.clientDirect.keyPath, http: '2' });
    assert.equal(curlResult(mine).status, 200);
    const theirs = await curl({ host: hosts.other!, port: gw.httpsPort, caFile, cert: pki.clientDirect.certPath, key: pki.clientDirect.keyPath, http: '2' });
    assert.equal(curlResult(theirs).status, 403);
  });
});

test('RFC 9440 forwarding: Client-Cert and Client-Cert-Chain beside or instead of XFCC; forged ones stripped', async () => {
  const both = await gw.putApp('rfc-both', 'env1', { targetPort: echo.port, clientCertificateMode: 'accept', clientCertificateForwarding: 'Both' });
  const only = await gw.putApp('rfc-only', 'env1', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root], clientCertificateForwarding: 'Rfc9440' });
  const leafB64 = new X509Certificate(readFileSync(pki.client.certPath)).raw.toString('base64');
  const intermediateB64 = new X509Certificate(readFileSync(pki.intermediate.certPath)).raw.toString('base64');
  for (const [host, xfcc] of [[both, true], [only, false]] as const) {
    for (const http of ['1.1', '2'] as const) {
      const before = echo.received.length;
      const result = await curl({ host, port: gw.httpsPort, caFile, http, cert: pki.client.chainPath, key: pki.client.keyPath, headers: ['Client-Cert: :Zm9yZ2Vk:', 'Client-Cert-Chain: :Zm9yZ2Vk:'] });
      assert.equal(curlResult(result).status, 200, result.stderr);
      const headers = received(before).headers;
      assert.equal(headers['client-cert'], `:${leafB64}:`);
      assert.equal(headers['client-cert-chain'], `:${intermediateB64}:`);
      assert.equal(headers['x-forwarded-client-cert'] !== undefined, xfcc);
    }
  }
  const before = echo.received.length;
  await curl({ host: both, port: gw.httpsPort, caFile, headers: ['Client-Cert: :Zm9yZ2Vk:'] });
  assert.equal(received(before).headers['client-cert'], undefined, 'no certificate, no header: the forged one is gone');
  await assert.rejects(gw.putApp('rfc-ignore', 'env1', { targetPort: echo.port, clientCertificateForwarding: 'Both' }), /clientCertificateForwarding: needs clientCertificateMode 'accept' or 'require'/);
});

test('a WebSocket upgrade on a refused connection is refused too (403 with the code), never tunnelled', async () => {
  const { connect } = await import('node:tls');
  const socket = connect({ host: '127.0.0.1', port: gw.httpsPort, servername: hosts.require, ca: gw.caPem, cert: readFileSync(pki.expired.certPath), key: readFileSync(pki.expired.keyPath), ALPNProtocols: ['http/1.1'] });
  const before = echo.received.length;
  const response = await new Promise<string>((resolve, reject) => {
    let text = '';
    socket.once('secureConnect', () =>
      socket.write(`GET /ws HTTP/1.1\r\nHost: ${hosts.require}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    );
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  assert.match(response, /^HTTP\/1\.1 403/);
  assert.match(response, /CERT_EXPIRED \(cert_expired\)/);
  assert.equal(echo.received.length, before);
});

test('a resumed TLS session (the server then knows only the leaf) is verified again with the chain first sent', async () => {
  const { connect } = await import('node:tls');
  const options = { host: '127.0.0.1', port: gw.httpsPort, servername: hosts.require, ca: gw.caPem, cert: readFileSync(pki.client.chainPath), key: readFileSync(pki.client.keyPath) };
  const exchange = (session?: Buffer) =>
    new Promise<{ reused: boolean; response: string; session: Buffer | undefined }>((resolve, reject) => {
      const socket = connect({ ...options, ...(session ? { session } : {}) });
      let response = '';
      let ticket: Buffer | undefined;
      socket.on('session', (value: Buffer) => (ticket = value));
      socket.once('secureConnect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${hosts.require}\r\nConnection: close\r\n\r\n`));
      socket.on('data', (chunk: Buffer) => (response += chunk.toString('latin1')));
      socket.on('end', () => resolve({ reused: socket.isSessionReused(), response, session: ticket }));
      socket.on('error', reject);
    });
  const first = await exchange();
  assert.match(first.response, /^HTTP\/1\.1 200/);
  assert.ok(first.session, 'the server issued a session ticket');
  const before = echo.received.length;
  const second = await exchange(first.session);
  assert.equal(second.reused, true, 'the session was resumed');
  assert.match(second.response, /^HTTP\/1\.1 200/);
  assert.equal(received(before).headers['x-certgate-client-verdict'], 'OK');
});

describe('per-path rules at HTTP (TLS 1.3 and 1.2, HTTP/1.1 and HTTP/2, no renegotiation)', () => {
  let host: string;
  let admin: string;
  before(async () => {
    host = await gw.putApp('verify-paths', 'env1', {
      targetPort: echo.port,
      clientCertificateMode: 'accept',
      clientCertificateTrustAnchors: [ids.root],
      clientCertificateValidationMode: 'AllowInsecureFallback',
      clientCertificateExemptPaths: ['/healthz', '/.well-known/'],
      clientCertificateVerifiedPaths: ['/'],
    });
    admin = await gw.putApp('verify-admin', 'env1', { targetPort: echo.port, clientCertificateMode: 'accept', clientCertificateTrustAnchors: [ids.root], clientCertificateVerifiedPaths: ['/admin/'] });
  });
  const good = () => ({ cert: pki.clientDirect.certPath, key: pki.clientDirect.keyPath });
  const expired = () => ({ cert: pki.expired.certPath, key: pki.expired.keyPath });
  for (const tls of ['1.2', '1.3'] as const) {
    for (const http of ['1.1', '2'] as const) {
      test(`exempt and verified paths, TLS ${tls}, HTTP/${http}`, async () => {
        const get = async (path: string, cert: object = {}, on = host) => curlResult(await curl({ host: on, port: gw.httpsPort, caFile, tls, http, path, ...cert, extra: ['--path-as-is'] }));
        const before = echo.received.length;
        assert.equal((await get('/healthz')).status, 200);
        assert.equal(echo.received.at(-1)!.headers['x-certgate-client-verdict'], 'NONE');
        assert.equal((await get('/.well-known/acme-challenge/t', expired())).status, 200);
        assert.equal(echo.received.at(-1)!.headers['x-certgate-client-verdict'], 'CERT_EXPIRED');
        const missing = await get('/api');
        assert.equal(missing.status, 401);
        assert.match(missing.body, /CERT_MISSING \(cert_missing\)/);
        assert.equal((await get('/healthz/../api')).status, 401, 'dot segments do not make a path exempt');
        assert.equal((await get('/healthz%2f..%2fapi')).status, 401, 'an encoded slash is never exempt');
        assert.match((await get('/api', expired())).body, /CERT_EXPIRED \(cert_expired\)/);
        assert.equal((await get('/api', good())).status, 200);
        assert.equal(echo.received.length, before + 3, 'only the exempt and the verified requests reached the app');
        assert.equal((await get('/', {}, admin)).status, 200, 'accept without a certificate: only /admin/ needs one');
        assert.equal((await get('/%61dmin/x', {}, admin)).status, 401);
        assert.equal((await get('/admin/x', good(), admin)).status, 200);
      });
    }
  }
  test('an app that verifies cannot be served over plain HTTP', () =>
    assert.rejects(gw.putApp('verify-insecure', 'env1', { targetPort: echo.port, allowInsecure: true, clientCertificateMode: 'accept', clientCertificateTrustAnchors: [ids.root] }), /ingress.allowInsecure: an app that verifies client certificates cannot also be served over plain HTTP/));
  test('rules must be normalised paths', () =>
    assert.rejects(gw.putApp('verify-badpath', 'env1', { targetPort: echo.port, clientCertificateMode: 'accept', clientCertificateTrustAnchors: [ids.root], clientCertificateExemptPaths: ['/a/../b'] }), /clientCertificateExemptPaths\[0\]: '\/a\/..\/b' is not a normalised path/));
});

test('revocation status unknown: a CRL past its nextUpdate refuses under HardFail (the default), not under SoftFail; RequireCrl refuses an issuer no CRL covers', async () => {
  const crl = await opensslCrl(pki.root.certPath, pki.root.keyPath, [], 8);
  const nextUpdate = Date.now() + 8_000;
  const crlId = await upload('env1', 'short-crl', 'ClientCertificateRevocationList', crl);
  const app = (name: string, extra: Record<string, unknown>) =>
    gw.putApp(name, 'env1', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root], clientCertificateRevocationLists: [crlId], ...extra });
  const hard = await app('verify-hard', {});
  const soft = await app('verify-soft', { clientCertificateRevocationMode: 'SoftFail' });
  const strict = await app('verify-strict', { clientCertificateRevocationMode: 'RequireCrl' });
  const direct = { cert: pki.clientDirect.certPath, key: pki.clientDirect.keyPath };
  const get = async (host: string, cert: object = direct) => curlResult(await curl({ host, port: gw.httpsPort, caFile, ...cert }));
  assert.equal((await get(hard)).status, 200);
  assert.equal((await get(strict)).status, 200, "the root's CRL covers a leaf the root issued");
  assert.match((await get(strict, { cert: pki.client.chainPath, key: pki.client.keyPath })).body, /CRL_MISSING \(crl_missing\)/, 'no CRL of the intermediate');
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, nextUpdate + 1_500 - Date.now())));
  assert.match((await get(hard)).body, /CRL_EXPIRED \(crl_expired\)/, 'the cached verdict does not outlive the CRL');
  assert.equal((await get(soft)).status, 200);
  await assert.rejects(gw.putApp('verify-nocrl', 'env1', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root], clientCertificateRevocationMode: 'SoftFail' }), /clientCertificateRevocationMode: needs clientCertificateRevocationLists/);
});

describe('live changes', () => {
  test('a CRL revoking a certificate applies to the next connection; connections made before get 421', async () => {
    const host = await gw.putApp('verify-live', 'env1', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root] });
    const cert = { cert: pki.clientDirect.certPath, key: pki.clientDirect.keyPath };
    assert.equal(curlResult(await curl({ host, port: gw.httpsPort, caFile, ...cert })).status, 200);
    const old = await keepAliveConnection({ port: gw.httpsPort, servername: host, ca: gw.caPem, cert: readFileSync(pki.clientDirect.certPath), key: readFileSync(pki.clientDirect.keyPath) });
    assert.equal((await old.get('/', host)).status, 200);
    const crl = await opensslCrl(pki.root.certPath, pki.root.keyPath, [pki.clientDirect.issued.certPem]);
    const crlId = await upload('env1', 'root-crl', 'ClientCertificateRevocationList', crl);
    await gw.putApp('verify-live', 'env1', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root], clientCertificateRevocationLists: [crlId] });
    const stale = await old.get('/', host);
    assert.equal(stale.status, 421);
    assert.match(stale.body, /tls_policy_changed/);
    old.close();
    const revoked = curlResult(await curl({ host, port: gw.httpsPort, caFile, ...cert }));
    assert.equal(revoked.status, 403);
    assert.match(revoked.body, /REVOKED \(revoked\)/);
    // Another client of the same CA is not on the list.
    assert.equal(curlResult(await curl({ host, port: gw.httpsPort, caFile, cert: pki.client.chainPath, key: pki.client.keyPath })).status, 200);
  });
  test('an anchor added applies to the next connection', async () => {
    const host = await gw.putApp('verify-add', 'env1', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root] });
    const cert = { cert: other.clientDirect.certPath, key: other.clientDirect.keyPath };
    assert.equal(curlResult(await curl({ host, port: gw.httpsPort, caFile, ...cert })).status, 403);
    await gw.putApp('verify-add', 'env1', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [ids.root, ids.otherRoot] });
    assert.equal(curlResult(await curl({ host, port: gw.httpsPort, caFile, ...cert })).status, 200);
  });
});
