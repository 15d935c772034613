// What reaches an app must have been parsed and sanitised by the ingress. Two ways around that:
// an Upgrade token other than websocket, which used to turn the connection into a raw tunnel after
// the app's 101 (forged identity headers sent after it reached the app unparsed), and an
// absolute-form request target naming another app, which RFC 9112 3.2.2 servers (Go's net/http)
// honour over Host. A raw upstream logs every byte it receives.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { rawRequest, statusOf } from './support/raw-clients.ts';
import { startRawUpstream, type RawUpstream } from './support/raw-upstream.ts';
import { freePorts } from './support/ports.ts';

let gw: TestGateway;
let upstream: RawUpstream;
let open: string; // ignore, allowInsecure
let strict: string; // require

before(async () => {
  upstream = await startRawUpstream();
  gw = await startTestGateway();
  await gw.createEnvironment('env1');
  open = await gw.putApp('open', 'env1', { targetPort: upstream.port, clientCertificateMode: 'ignore', allowInsecure: true });
  strict = await gw.putApp('strict', 'env1', { targetPort: upstream.port, clientCertificateMode: 'require' });
});

after(async () => {
  await gw?.close();
  await upstream?.close();
});

/** Sent right after the upgrade request, in the same write: a tunnel would carry it verbatim. */
const SMUGGLED = (host: string) => `GET /smuggled HTTP/1.1\r\nHost: ${host}\r\nX-Forwarded-Client-Cert: Hash=forged;Cert="forged"\r\nConnection: close\r\n\r\n`;

const tlsTo = (host: string) => ({ port: gw.httpsPort, servername: host, ca: gw.caPem, waitMs: 3_000 });
const plainTo = () => ({ port: gw.httpPort, waitMs: 3_000 });

describe('Upgrade: only websocket is tunnelled', () => {
  const ports = [
    { label: 'HTTPS port', options: () => tlsTo(open) },
    { label: 'plain-HTTP port', options: () => plainTo() },
  ];
  for (const port of ports) {
    for (const token of ['foo', 'h2c', 'TLS/1.2', 'websocket, foo']) {
      test(`${port.label}: Upgrade: ${token} is served as a normal request; bytes after its answer are parsed`, async () => {
        const before = upstream.log().length;
        const extra = token === 'h2c' ? 'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n' : '';
        const response = await rawRequest(
          { ...port.options(), then: SMUGGLED(open) },
          `GET /upgrade-${encodeURIComponent(token)} HTTP/1.1\r\nHost: ${open}\r\nConnection: Upgrade${extra ? ', HTTP2-Settings' : ''}\r\nUpgrade: ${token}\r\n${extra}\r\n`,
        );
        assert.doesNotMatch(response, /^HTTP\/1\.1 101/, 'no switch of protocols');
        assert.equal(statusOf(response), 200, response);
        const seen = upstream.log().slice(before);
        assert.doesNotMatch(seen, /^upgrade:/im, 'the app is not asked to upgrade');
        assert.doesNotMatch(seen, /forged/, 'the bytes after the request were parsed as a request and sanitised');
        assert.match(seen, /GET \/smuggled HTTP\/1\.1/, 'the next request was forwarded as a request');
      });
    }
  }

  test('bytes in the same packet as a non-WebSocket upgrade never reach the app unparsed', async () => {
    const before = upstream.log().length;
    await rawRequest({ ...tlsTo(open), waitMs: 1_000 }, `GET /same-packet HTTP/1.1\r\nHost: ${open}\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n${SMUGGLED(open)}`);
    assert.doesNotMatch(upstream.log().slice(before), /forged/);
  });

  test('POST with Upgrade: websocket is not tunnelled either (RFC 6455 needs GET)', async () => {
    const before = upstream.log().length;
    const response = await rawRequest(
      { ...tlsTo(open), then: SMUGGLED(open) },
      `POST /post-ws HTTP/1.1\r\nHost: ${open}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n`,
    );
    assert.equal(statusOf(response), 200, response);
    assert.doesNotMatch(upstream.log().slice(before), /forged/);
  });

  test('Upgrade: WebSocket (any case) is still tunnelled to the app', async () => {
    const before = upstream.log().length;
    const response = await rawRequest(
      { ...tlsTo(open), waitMs: 500 },
      `GET /ws HTTP/1.1\r\nHost: ${open}\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
    assert.match(response, /^HTTP\/1\.1 101/);
    assert.match(upstream.log().slice(before), /^upgrade: WebSocket/im);
  });

  test('a WebSocket upgrade to an app that is down gets 503 app_unavailable, as a request does (not 502 "refused")', async () => {
    const [closedPort] = await freePorts(1);
    const down = await gw.putApp('down', 'env1', { targetPort: closedPort!, clientCertificateMode: 'ignore' });
    const response = await rawRequest(
      { ...tlsTo(down), waitMs: 3_000 },
      `GET /ws HTTP/1.1\r\nHost: ${down}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
    assert.equal(statusOf(response), 503, response);
    assert.match(response, /\(app_unavailable\)/);
    assert.ok(gw.logs.some((line) => line['reason'] === 'app_unavailable' && line['msg'] === 'upgrade to app failed'));
  });
});

describe('absolute-form request targets', () => {
  test('HTTPS port: naming another app gets 421 and nothing reaches the app', async () => {
    const before = upstream.requestLines().length;
    const response = await rawRequest(tlsTo(open), `GET https://${strict}/admin HTTP/1.1\r\nHost: ${open}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(response), 421, response);
    assert.match(response, /misdirected_target/);
    assert.equal(upstream.requestLines().length, before);
  });

  test('HTTPS port: naming the connection\'s app is forwarded in origin form', async () => {
    const response = await rawRequest(tlsTo(open), `GET https://${open}:${gw.httpsPort}/admin?x=1 HTTP/1.1\r\nHost: ${open}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(response), 200, response);
    assert.equal(upstream.requestLines().at(-1), 'GET /admin?x=1 HTTP/1.1');
  });

  test('HTTPS port: an authority-only absolute target becomes /', async () => {
    const response = await rawRequest(tlsTo(open), `GET http://${open} HTTP/1.1\r\nHost: ${open}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(response), 200, response);
    assert.equal(upstream.requestLines().at(-1), 'GET / HTTP/1.1');
  });

  test('HTTPS port: userinfo in the target is refused (400)', async () => {
    const response = await rawRequest(tlsTo(open), `GET https://user@${open}/ HTTP/1.1\r\nHost: ${open}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(response), 400, response);
  });

  test('plain-HTTP port: naming another app gets 421; naming its own is forwarded in origin form', async () => {
    const before = upstream.requestLines().length;
    const misdirected = await rawRequest(plainTo(), `GET http://${strict}/admin HTTP/1.1\r\nHost: ${open}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(misdirected), 421, misdirected);
    assert.equal(upstream.requestLines().length, before);
    const own = await rawRequest(plainTo(), `GET http://${open}/plain-abs HTTP/1.1\r\nHost: ${open}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(own), 200, own);
    assert.equal(upstream.requestLines().at(-1), 'GET /plain-abs HTTP/1.1');
  });

  test('plain-HTTP port, allowInsecure false: the redirect is built from the origin form', async () => {
    const response = await rawRequest(plainTo(), `GET http://${strict}/x?y=1 HTTP/1.1\r\nHost: ${strict}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(response), 308, response);
    assert.match(response, new RegExp(`location: https://${strict.replaceAll('.', '\\.')}:\\d+/x\\?y=1\\r\\n`, 'i'));
  });

  test('asterisk form: OPTIONS * is forwarded as it is, GET * is refused (400)', async () => {
    const options = await rawRequest(tlsTo(open), `OPTIONS * HTTP/1.1\r\nHost: ${open}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(options), 200, options);
    assert.equal(upstream.requestLines().at(-1), 'OPTIONS * HTTP/1.1');
    const get = await rawRequest(tlsTo(open), `GET * HTTP/1.1\r\nHost: ${open}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(get), 400, get);
  });
});
