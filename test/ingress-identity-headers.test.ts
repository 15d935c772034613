// Identity headers are compared the way apps read them. A real WSGI app (Python's wsgiref) folds
// `_` into `-`, so `x_forwarded_client_cert` from a client without a certificate would be
// HTTP_X_FORWARDED_CLIENT_CERT to it. Over HTTP/1.1, HTTP/2, WebSocket upgrades and the plain-HTTP
// port, no client spelling of an identity header, of a header the ingress sets, or of the
// environment's own `stripHeaders` may reach the app; with a real certificate the app gets the
// real value alone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { h2Session, rawRequest, statusOf } from './support/raw-clients.ts';
import { clientIdentities, type ClientIdentity } from './support/vectors.ts';
import { startWsgiApp, type WsgiApp, type WsgiRequest } from './support/wsgi-app.ts';

let gw: TestGateway;
let wsgi: WsgiApp;
let ids: Record<'self' | 'leaf' | 'chain', ClientIdentity>;
let lenient: string; // accept
let insecure: string; // ignore, allowInsecure

/** Client header lines that must never reach the app, each as the app would name it. */
const FORGED: readonly [line: string, environKey: string][] = [
  ['x_forwarded_client_cert: Hash=forged1;Cert="forged"', 'HTTP_X_FORWARDED_CLIENT_CERT'],
  ['X-Forwarded_Client-Cert: Hash=forged2', 'HTTP_X_FORWARDED_CLIENT_CERT'],
  ['X_SSL_CLIENT_CERT: forged', 'HTTP_X_SSL_CLIENT_CERT'],
  ['X-SSL-Client-Verify: SUCCESS', 'HTTP_X_SSL_CLIENT_VERIFY'],
  ['x-forwarded-tls-client-cert-info: Subject%3D%22CN%3Dadmin%22', 'HTTP_X_FORWARDED_TLS_CLIENT_CERT_INFO'],
  ['X-MS-Client_Principal-Name: admin@contoso.com', 'HTTP_X_MS_CLIENT_PRINCIPAL_NAME'],
  ['x-amzn-mtls-clientcert-subject: CN=admin', 'HTTP_X_AMZN_MTLS_CLIENTCERT_SUBJECT'],
  ['X-Client-Cert-Present: true', 'HTTP_X_CLIENT_CERT_PRESENT'],
  ['cf_client_cert_sha256: 00', 'HTTP_CF_CLIENT_CERT_SHA256'],
  ['X-Goog-Authenticated-User-Email: accounts.google.com:admin@example.com', 'HTTP_X_GOOG_AUTHENTICATED_USER_EMAIL'],
  // The environment's stripHeaders, in another spelling than the one configured.
  ['x-tenant_id: other-tenant', 'HTTP_X_TENANT_ID'],
  ['X-Internal-User: root', 'HTTP_X_INTERNAL_USER'],
];

/** Set by the ingress: only its own value may reach the app. */
const OWNED = [
  'X_Request_Id: forged-request-id',
  'x_forwarded_proto: https',
  'X_Forwarded_Host: evil.example',
  'x_forwarded_for: 6.6.6.6',
];

const FORGED_LINES = [...FORGED.map(([line]) => line), ...OWNED, 'X-Kept_Header: kept'].join('\r\n');

/** The test's keys and certificates: removed after. */
let dir: string | undefined;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-identity-'));
  ids = await clientIdentities(dir);
  wsgi = await startWsgiApp();
  gw = await startTestGateway();
  await gw.createEnvironment('env1', { certgate: { stripHeaders: ['X-Tenant-Id', 'x_internal_user'] } });
  lenient = await gw.putApp('lenient', 'env1', { targetPort: wsgi.port, clientCertificateMode: 'accept' });
  insecure = await gw.putApp('insecure', 'env1', { targetPort: wsgi.port, clientCertificateMode: 'ignore', allowInsecure: true });
});

after(async () => {
  await gw?.close();
  await wsgi?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function assertClean(seen: WsgiRequest, expectedCertificate: string | undefined): void {
  for (const [line, key] of FORGED) {
    if (key === 'HTTP_X_FORWARDED_CLIENT_CERT') continue;
    assert.equal(seen.environ[key], undefined, `${line} reached the app as ${key}`);
  }
  assert.equal(seen.environ['HTTP_X_FORWARDED_CLIENT_CERT'], expectedCertificate, 'the app sees only the real certificate (or none)');
  assert.match(seen.environ['HTTP_X_REQUEST_ID'] ?? '', /^[0-9a-f-]{36}$/, 'X-Request-Id is the ingress\'s alone');
  assert.equal(seen.environ['HTTP_X_FORWARDED_FOR'], '127.0.0.1', 'the client address alone');
  assert.ok(seen.environ['HTTP_X_FORWARDED_PROTO'] === 'https' || seen.environ['HTTP_X_FORWARDED_PROTO'] === 'http');
  assert.doesNotMatch(seen.environ['HTTP_X_FORWARDED_HOST'] ?? '', /evil/);
}

function h2Get(host: string, path: string, headers: http2.OutgoingHttpHeaders, identity?: ClientIdentity): Promise<number> {
  const session = h2Session(gw.httpsPort, host, gw.caPem, identity);
  return new Promise<number>((resolve, reject) => {
    session.on('error', reject);
    const stream = session.request({ ':path': path, ...headers });
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', () => {});
    stream.on('end', () => resolve(status));
    stream.on('error', reject);
  }).finally(() => session.close());
}

/** The forged lines as an HTTP/2 header object (names lower-cased, as HTTP/2 requires). */
function forgedH2Headers(): http2.OutgoingHttpHeaders {
  const headers: http2.OutgoingHttpHeaders = {};
  for (const line of [...FORGED.map(([l]) => l), ...OWNED]) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

const WEBSOCKET_HEAD = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

describe('forged identity headers never reach a WSGI app (accept mode)', () => {
  test('HTTP/1.1, no certificate', async () => {
    const response = await rawRequest(
      { port: gw.httpsPort, servername: lenient, ca: gw.caPem },
      `GET /h1-none HTTP/1.1\r\nHost: ${lenient}\r\n${FORGED_LINES}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(statusOf(response), 200, response);
    const seen = await wsgi.seen('/h1-none');
    assertClean(seen, undefined);
    assert.equal(seen.environ['HTTP_X_KEPT_HEADER'], 'kept', 'other underscore headers are forwarded (see docs/ingress.md)');
  });

  test('HTTP/1.1, with a certificate: the real value alone', async () => {
    const response = await rawRequest(
      { port: gw.httpsPort, servername: lenient, ca: gw.caPem, identity: ids.self },
      `GET /h1-cert HTTP/1.1\r\nHost: ${lenient}\r\n${FORGED_LINES}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(statusOf(response), 200, response);
    assertClean(await wsgi.seen('/h1-cert'), ids.self.expected);
  });

  test('HTTP/2, no certificate', async () => {
    assert.equal(await h2Get(lenient, '/h2-none', forgedH2Headers()), 200);
    assertClean(await wsgi.seen('/h2-none'), undefined);
  });

  test('HTTP/2, with a certificate: the real value alone', async () => {
    assert.equal(await h2Get(lenient, '/h2-cert', forgedH2Headers(), ids.chain), 200);
    assertClean(await wsgi.seen('/h2-cert'), ids.chain.expected);
  });

  test('WebSocket upgrade request, no certificate (wsgiref answers 200, so the client gets 502)', async () => {
    const response = await rawRequest(
      { port: gw.httpsPort, servername: lenient, ca: gw.caPem },
      `GET /ws-none HTTP/1.1\r\nHost: ${lenient}\r\n${WEBSOCKET_HEAD}${FORGED_LINES}\r\n\r\n`,
    );
    assert.equal(statusOf(response), 502, response);
    assertClean(await wsgi.seen('/ws-none'), undefined);
  });

  test('WebSocket upgrade request, with a certificate: the real value alone', async () => {
    await rawRequest(
      { port: gw.httpsPort, servername: lenient, ca: gw.caPem, identity: ids.self },
      `GET /ws-cert HTTP/1.1\r\nHost: ${lenient}\r\n${WEBSOCKET_HEAD}${FORGED_LINES}\r\n\r\n`,
    );
    assertClean(await wsgi.seen('/ws-cert'), ids.self.expected);
  });
});

describe('forged identity headers never reach a WSGI app (plain-HTTP port, allowInsecure)', () => {
  test('HTTP/1.1', async () => {
    const response = await rawRequest(
      { port: gw.httpPort },
      `GET /plain HTTP/1.1\r\nHost: ${insecure}\r\n${FORGED_LINES}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(statusOf(response), 200, response);
    const seen = await wsgi.seen('/plain');
    assertClean(seen, undefined);
    assert.equal(seen.environ['HTTP_X_FORWARDED_PROTO'], 'http');
  });

  test('WebSocket upgrade request', async () => {
    await rawRequest({ port: gw.httpPort }, `GET /plain-ws HTTP/1.1\r\nHost: ${insecure}\r\n${WEBSOCKET_HEAD}${FORGED_LINES}\r\n\r\n`);
    assertClean(await wsgi.seen('/plain-ws'), undefined);
  });
});
