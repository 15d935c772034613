// Slow clients: uploads that trickle (a minimum data rate, a longest pause, a whole-body timeout:
// 408 request_body_timeout, and the app's connection is freed), and request heads that trickle on
// the HTTPS and HTTP ports (headersTimeoutMs: 408, connection closed). Small limits keep each
// attack within a few seconds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { h1Request, h2Request, h2Session, sleep, tlsConnect, waitUntil, type Answer } from './support/http-clients.ts';

const MAX_CONNECTIONS = 4;
/** The longest pause, and the grace before the minimum rate applies. */
const BODY_IDLE_MS = 2_000;
const BODY_TIMEOUT_MS = 4_000;
const HEADERS_TIMEOUT_MS = 1_000;
/** How long an answer may stay paused for a client that reads nothing. */
const CLIENT_WRITE_TIMEOUT_MS = 1_000;

let gw: TestGateway;
let app: EchoApp;
let host: string;
/** An app answering every request with 16 MB, its open connections counted. */
let bigApp: http.Server;
let bigHost: string;
const bigSockets = new Set<net.Socket>();

before(async () => {
  bigApp = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 16 * 1024 * 1024 });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let left = 256;
    const pump = () => {
      while (left > 0) {
        left--;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  bigApp.on('connection', (socket: net.Socket) => {
    bigSockets.add(socket);
    socket.once('close', () => bigSockets.delete(socket));
  });
  await new Promise<void>((resolve) => bigApp.listen(0, '127.0.0.1', resolve));
  // The echo app reads every body to its end before it answers.
  app = await startEchoApp();
  gw = await startTestGateway({
    upstream: {
      maxConnectionsPerApp: MAX_CONNECTIONS,
      requestBodyIdleTimeoutMs: BODY_IDLE_MS,
      requestBodyTimeoutMs: BODY_TIMEOUT_MS,
      requestBodyMinBytesPerSecond: 1_024,
      responseTimeoutMs: 30_000,
      clientWriteTimeoutMs: CLIENT_WRITE_TIMEOUT_MS,
      // Every client here is 127.0.0.1: the per-address share is another file's subject.
      maxConnectionsPerAddress: MAX_CONNECTIONS,
    },
    http: { headersTimeoutMs: HEADERS_TIMEOUT_MS, keepAliveTimeoutMs: 20_000 },
  });
  await gw.createEnvironment('env1');
  host = await gw.putApp('uploads', 'env1', { targetPort: app.port, clientCertificateMode: 'ignore', allowInsecure: true });
  bigHost = await gw.putApp('big', 'env1', { targetPort: (bigApp.address() as net.AddressInfo).port, clientCertificateMode: 'ignore' });
});

after(async () => {
  bigApp?.closeAllConnections();
  bigApp?.close();
  await gw?.close();
  await app?.close();
});

interface RawResult {
  response: string;
  closed: boolean;
  /** From the start to the first response byte (or the end of the wait). */
  ms: number;
}

/**
 * Writes `head`, then `piece` every `everyMs` until the server answers or closes, or `maxMs`
 * passed. Returns what the server sent.
 */
function trickle(socket: Duplex, head: string, piece: string, everyMs: number, maxMs: number): Promise<RawResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let response = '';
    let answeredAt: number | undefined;
    socket.write(head);
    const timer = setInterval(() => {
      if (performance.now() - started > maxMs) finish(false);
      else if (answeredAt === undefined) socket.write(piece);
    }, everyMs);
    const finish = (closed: boolean) => {
      clearInterval(timer);
      socket.destroy();
      resolve({ response, closed, ms: (answeredAt ?? performance.now()) - started });
    };
    socket.on('data', (chunk: Buffer) => {
      answeredAt ??= performance.now();
      response += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
  });
}

const uploadHead = (length: number) => `POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${length}\r\n\r\n`;

test('uploads sending one byte a second are cut with 408 and do not hold the app: another client is served meanwhile', async () => {
  const uploads = await Promise.all(Array.from({ length: MAX_CONNECTIONS + 2 }, () => tlsConnect(gw, host)));
  const attack = uploads.map((socket) => trickle(socket, uploadHead(1_000), 'x', 1_000, 10_000));
  await sleep(500);
  // Every app connection is taken by a slow upload now; this request waits only until they are cut.
  const normal = await h1Request(gw, host, '/normal');
  assert.equal(normal.status, 200);
  assert.ok(normal.ms < BODY_IDLE_MS + 1_000, `served after ${Math.round(normal.ms)} ms`);
  const results = await Promise.all(attack);
  for (const result of results) {
    assert.match(result.response, /^HTTP\/1\.1 408 /, result.response);
    assert.match(result.response, /request_body_timeout/);
    assert.match(result.response, /\r\nconnection: close\r\n/i);
    assert.ok(result.closed, 'the connection is closed');
    assert.ok(result.ms < 2 * BODY_IDLE_MS + 1_000, `cut after ${Math.round(result.ms)} ms`);
  }
  assert.equal(app.received.filter((r) => r.url === '/upload').length, 0, 'no truncated body was passed off as complete');
  const afterwards = await h1Request(gw, host, '/after');
  assert.equal(afterwards.status, 200);
  assert.ok(afterwards.ms < 1_500, `answered ${Math.round(afterwards.ms)} ms after the attack`);
});

test('an upload that stops part-way is cut with 408 after the longest pause', async () => {
  const socket = await tlsConnect(gw, host);
  // 2 KiB at once (above the minimum rate), then nothing.
  const result = await trickle(socket, uploadHead(10_000) + 'y'.repeat(2_048), '', 100, 10_000);
  assert.match(result.response, /^HTTP\/1\.1 408 /);
  assert.ok(result.ms >= BODY_IDLE_MS - 100 && result.ms < BODY_IDLE_MS + 1_000, `cut after ${Math.round(result.ms)} ms`);
});

test('an upload at a steady rate above the minimum is cut at the whole-body timeout', async () => {
  const socket = await tlsConnect(gw, host);
  // 400 bytes every 200 ms is 2 KB/s: fast enough, but the body would take 10 s.
  const result = await trickle(socket, uploadHead(20_000), 'z'.repeat(400), 200, 10_000);
  assert.match(result.response, /^HTTP\/1\.1 408 /);
  assert.ok(result.ms >= BODY_TIMEOUT_MS - 100 && result.ms < BODY_TIMEOUT_MS + 1_000, `cut after ${Math.round(result.ms)} ms`);
});

test('an HTTP/2 upload sending one byte a second gets 408', async () => {
  const session = h2Session(gw, host);
  try {
    const { stream, answer } = h2Request(session, '/upload', { method: 'POST', endStream: false });
    const timer = setInterval(() => stream.write('x'), 1_000);
    const closed = new Promise<void>((resolve) => stream.once('close', resolve));
    const result: Answer = await answer;
    assert.equal(result.status, 408, result.body);
    // The gateway resets the stream after its answer: the rest of the body is not wanted.
    await Promise.race([closed, sleep(1_000).then(() => assert.fail('the stream is still open'))]);
    clearInterval(timer);
    assert.match(result.body, /request_body_timeout/);
    assert.ok(result.ms < 2 * BODY_IDLE_MS + 1_000, `cut after ${Math.round(result.ms)} ms`);
  } finally {
    session.destroy();
  }
});

/** Fails if `answer` takes longer than `ms` (an old pool made such requests wait for minutes). */
const within = (answer: Promise<Answer>, ms: number, what: string) =>
  Promise.race([answer, sleep(ms).then((): Answer => assert.fail(`${what}: no answer within ${ms} ms`))]);

test('one HTTP/2 connection opening many POST streams that send no body holds at most its share: others are served, during and after', async () => {
  const attacker = h2Session(gw, host);
  try {
    const streams = Array.from({ length: 60 }, (_, i) => h2Request(attacker, `/flood${i}`, { method: 'POST', endStream: false }));
    await sleep(300);
    const during = await within(h1Request(gw, host, '/during'), 2_000, 'another client during the flood');
    assert.equal(during.status, 200);
    attacker.destroy();
    await Promise.all(streams.map((s) => s.answer));
    const afterwards = await within(h1Request(gw, host, '/after'), 1_500, 'a client after the flood');
    assert.equal(afterwards.status, 200);
  } finally {
    attacker.destroy();
  }
});

test(`trickled request headers on the HTTPS port get 408 and the connection is closed within headersTimeoutMs (${HEADERS_TIMEOUT_MS} ms)`, async () => {
  const socket = await tlsConnect(gw, host);
  const result = await trickle(socket, `GET / HTTP/1.1\r\nHost: ${host}\r\n`, 'X', 200, 8_000);
  assert.match(result.response, /^HTTP\/1\.1 408 /, result.response);
  assert.ok(result.closed, 'closed by the gateway');
  assert.ok(result.ms < 2 * HEADERS_TIMEOUT_MS + 1_000, `closed after ${Math.round(result.ms)} ms`);
});

test('a TLS connection that never sends a request is closed within headersTimeoutMs too', async () => {
  const socket = await tlsConnect(gw, host);
  const result = await trickle(socket, '', '', 100, 8_000);
  assert.ok(result.closed, 'closed by the gateway');
  assert.ok(result.ms < 2 * HEADERS_TIMEOUT_MS + 1_000, `closed after ${Math.round(result.ms)} ms`);
});

test('trickled request headers on the plain-HTTP port get 408 and the connection is closed', async () => {
  const socket = net.connect(gw.httpPort, '127.0.0.1');
  const result = await trickle(socket, `GET / HTTP/1.1\r\nHost: ${host}\r\n`, 'X', 200, 8_000);
  assert.match(result.response, /^HTTP\/1\.1 408 /, result.response);
  assert.ok(result.closed);
  assert.ok(result.ms < 2 * HEADERS_TIMEOUT_MS + 1_000, `closed after ${Math.round(result.ms)} ms`);
});

test(`clients that never read a large answer: the app's connections are freed after clientWriteTimeoutMs (${CLIENT_WRITE_TIMEOUT_MS} ms), the clients' connections closed`, async () => {
  // More readers than the app has connections: before the fix they held all of them for good.
  const readers = await Promise.all(Array.from({ length: MAX_CONNECTIONS + 2 }, () => tlsConnect(gw, bigHost)));
  const closed = readers.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
  for (const socket of readers) {
    socket.on('error', () => {});
    socket.pause();
    socket.write(`GET /big HTTP/1.1\r\nHost: ${bigHost}\r\n\r\n`);
  }
  await waitUntil(() => bigSockets.size === MAX_CONNECTIONS, 3_000, 'the readers take every app connection');
  const started = performance.now();
  // The two waiting readers get connections in turn and are cut too.
  await waitUntil(() => bigSockets.size === 0, 4 * CLIENT_WRITE_TIMEOUT_MS + 3_000, 'the app connections are closed');
  assert.ok(performance.now() - started > CLIENT_WRITE_TIMEOUT_MS / 2, 'not before the timeout');
  assert.ok(gw.logs.some((line) => line.reason === 'client_write_timeout'), 'logged with its reason');
  // The clients' connections are closed (they got a truncated answer, never one passed off as whole).
  for (const socket of readers) socket.resume();
  await Promise.race([Promise.all(closed), sleep(3_000).then(() => assert.fail('a client connection is still open'))]);
  const afterwards = await h1Request(gw, host, '/after');
  assert.equal(afterwards.status, 200);
});

test('an HTTP/2 stream whose client never reads (window exhausted) is reset after clientWriteTimeoutMs, its app connection freed', async () => {
  const session = h2Session(gw, bigHost);
  try {
    const stream = session.request({ ':path': '/big' });
    stream.pause();
    const closed = new Promise<number>((resolve) => stream.once('close', () => resolve(stream.rstCode ?? -1)));
    stream.on('error', () => {});
    await waitUntil(() => bigSockets.size === 1, 3_000, 'the stream takes an app connection');
    await waitUntil(() => bigSockets.size === 0, 2 * CLIENT_WRITE_TIMEOUT_MS + 2_000, 'the app connection is closed');
    const code = await Promise.race([closed, sleep(2_000).then(() => assert.fail('the stream is still open'))]);
    assert.notEqual(code, http2.constants.NGHTTP2_NO_ERROR, 'the stream is reset, not ended');
    assert.ok(!session.destroyed, 'only the stream is reset: the session lives on');
  } finally {
    session.destroy();
  }
});
