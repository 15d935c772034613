// Proxying behaviour of the ingress with real clients (curl, Node https/http2/tls) and real upstream
// apps on loopback: HTTP/1.1 and HTTP/2 to clients, HTTP/1.1 to apps, streamed bodies both ways,
// header rewriting, pooled upstream connections, app failures, WebSocket tunnels, the plain-HTTP
// port and the default certificate.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { startEchoApp, type EchoApp, type EchoRequest } from './support/echo-app.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { curl, curlHttp, curlResult, parseIncluded, type CurlOptions } from './support/clients.ts';
import { expectedSelfSigned, VECTORS } from './support/vectors.ts';

const RESPONSE_TIMEOUT_MS = 300;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The large bodies: random bytes, so any reordering, loss or re-encoding changes the hash. */
const UPLOAD = randomBytes(8 * 1024 * 1024);
const DOWNLOAD = randomBytes(4 * 1024 * 1024);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let gw: TestGateway;
let dir: string;
let caFile: string;
let echo: EchoApp;
let streamApp: StreamApp;
let wsApp: WebSocketApp;
let echoHost: string;
let streamHost: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-proxy-'));
  echo = await startEchoApp();
  streamApp = await startStreamApp();
  wsApp = await startWebSocketApp();
  gw = await startTestGateway({
    upstream: { responseTimeoutMs: RESPONSE_TIMEOUT_MS, bodyTimeoutMs: 3_000, connectTimeoutMs: 1_000 },
    http: { headersTimeoutMs: 3_000, keepAliveTimeoutMs: 3_000 },
  });
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, gw.caPem);
  writeFileSync(join(dir, 'upload.bin'), UPLOAD);
  await gw.createEnvironment('env1');
  echoHost = await gw.putApp('echo', 'env1', { targetPort: echo.port });
  streamHost = await gw.putApp('stream', 'env1', { targetPort: streamApp.port });
});

after(async () => {
  await gw?.close();
  await Promise.all([echo?.close(), streamApp?.close(), wsApp?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Upstream apps written for these tests.

interface StreamApp {
  port: number;
  server: http.Server;
  /** Called with each request-body chunk the app reads on /sha256 (for the streaming tests). */
  onUploadChunk: ((chunk: Buffer) => void) | undefined;
  /** /gated waits for this before finishing its response. */
  gate: Promise<void>;
  close(): Promise<void>;
}

/**
 * Routes: POST /sha256 (hashes the request body as it streams in), GET /download (DOWNLOAD in
 * 64 KiB chunks over time; ?length adds Content-Length), GET /gated (first chunk, then waits for
 * `gate`), GET /reset (headers and part of the body, then the socket is destroyed; ?length sends
 * Content-Length instead of chunked), GET /slow (answers after 3 s), GET /hop (hop-by-hop headers
 * in the response).
 */
async function startStreamApp(): Promise<StreamApp> {
  const app: StreamApp = {
    port: 0,
    server: undefined as unknown as http.Server,
    onUploadChunk: undefined,
    gate: Promise.resolve(),
    close: async () => {},
  };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://app');
    const json = (value: unknown) => {
      const text = JSON.stringify(value);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    switch (url.pathname) {
      case '/sha256': {
        const hash = createHash('sha256');
        let bytes = 0;
        for await (const chunk of req as AsyncIterable<Buffer>) {
          hash.update(chunk);
          bytes += chunk.length;
          app.onUploadChunk?.(chunk);
        }
        json({
          sha256: hash.digest('hex'),
          bytes,
          httpVersion: req.httpVersion,
          transferEncoding: req.headers['transfer-encoding'] ?? null,
          contentLength: req.headers['content-length'] ?? null,
          expect: req.headers['expect'] ?? null,
        });
        return;
      }
      case '/download': {
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' };
        if (url.searchParams.has('length')) headers['content-length'] = DOWNLOAD.length;
        res.writeHead(200, headers);
        const step = 64 * 1024;
        for (let offset = 0; offset < DOWNLOAD.length && !res.destroyed; offset += step) {
          if (!res.write(DOWNLOAD.subarray(offset, offset + step))) await once(res, 'drain');
          // Over time: the app yields between chunks, so the response is produced while it is read.
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
        res.end();
        return;
      }
      case '/gated': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first chunk\n');
        await app.gate;
        res.end('the rest\n');
        return;
      }
      case '/reset': {
        res.writeHead(200, url.searchParams.has('length') ? { 'content-length': 100_000 } : { 'content-type': 'text/plain' });
        res.write('x'.repeat(1_000));
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      case '/slow': {
        const timer = setTimeout(() => {
          if (!res.destroyed) json({ late: true });
        }, 3_000);
        timer.unref();
        res.once('close', () => clearTimeout(timer));
        return;
      }
      case '/hop': {
        res.writeHead(200, {
          connection: 'keep-alive, X-App-Hop',
          'keep-alive': 'timeout=7, max=3',
          'x-app-hop': 'secret',
          'proxy-connection': 'keep-alive',
          upgrade: 'h2c',
          'x-kept': 'yes',
          'content-type': 'text/plain',
          'content-length': 2,
        });
        res.end('ok');
        return;
      }
      default:
        res.writeHead(404, { 'content-length': 0 });
        res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  app.port = (server.address() as net.AddressInfo).port;
  app.server = server;
  app.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return app;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const wsAccept = (key: string) => createHash('sha1').update(key + WS_GUID).digest('base64');

/** One WebSocket frame, FIN set, text opcode; masked as a client must, unmasked as a server does. */
function wsFrame(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text);
  assert.ok(payload.length < 126, 'short frames only');
  const header = Buffer.from([0x81, (masked ? 0x80 : 0) | payload.length]);
  if (!masked) return Buffer.concat([header, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([header, mask, body]);
}

/** Parses one short frame from the front of `buffer`; undefined until it is complete. */
function wsParse(buffer: Buffer): { text: string; masked: boolean; rest: Buffer } | undefined {
  if (buffer.length < 2) return undefined;
  const masked = (buffer[1]! & 0x80) !== 0;
  const length = buffer[1]! & 0x7f;
  assert.ok(length < 126, 'short frames only');
  const start = 2 + (masked ? 4 : 0);
  if (buffer.length < start + length) return undefined;
  const payload = Buffer.from(buffer.subarray(start, start + length));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= buffer[2 + (i % 4)]!;
  return { text: payload.toString('utf8'), masked, rest: buffer.subarray(start + length) };
}

/** Reads frames from a socket in order (the first bytes may have come with the upgrade). */
function frameReader(socket: Duplex, head: Buffer): () => Promise<{ text: string; masked: boolean }> {
  let buffered = head;
  const waiting: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    waiting.splice(0).forEach((wake) => wake());
  });
  return async () => {
    for (;;) {
      const frame = wsParse(buffered);
      if (frame) {
        buffered = frame.rest;
        return frame;
      }
      if (socket.destroyed || socket.readableEnded) throw new Error('the tunnel closed before a whole frame arrived');
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        socket.once('close', resolve);
      });
    }
  };
}

interface WebSocketApp {
  port: number;
  /** The upgrade requests the app received. */
  upgrades: http.IncomingMessage[];
  close(): Promise<void>;
}

/** A minimal WebSocket server: handshake, a greeting frame, then `echo: <text>` for each frame. */
async function startWebSocketApp(): Promise<WebSocketApp> {
  const upgrades: http.IncomingMessage[] = [];
  const sockets = new Set<Duplex>();
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-length': 0 });
    res.end();
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades.push(req);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const key = String(req.headers['sec-websocket-key'] ?? '');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAccept(key)}\r\n\r\n`,
    );
    socket.write(wsFrame('hello from the app', false));
    const next = frameReader(socket, head);
    void (async () => {
      for (;;) {
        const frame = await next().catch(() => undefined);
        if (!frame) return;
        socket.write(wsFrame(`echo: ${frame.text}${frame.masked ? '' : ' (unmasked!)'}`, false));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    upgrades,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Client helpers.

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  socket: net.Socket;
  alpn: string | false | null;
}

/** An HTTPS request over HTTP/1.1 (ALPN http/1.1), SNI and Host naming `host`. */
function h1Request(
  host: string,
  path: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer; agent?: https.Agent } = {},
): Promise<Reply> {
  // https.request passes ALPNProtocols on to tls.connect (its type does not list it).
  const requestOptions: https.RequestOptions & Pick<tls.ConnectionOptions, 'ALPNProtocols'> = {
    host: '127.0.0.1',
    port: gw.httpsPort,
    servername: host,
    path,
    method: options.method ?? 'GET',
    headers: { host, ...options.headers },
    ca: gw.caPem,
    ALPNProtocols: ['http/1.1'],
    agent: options.agent ?? false,
  };
  return new Promise((resolve, reject) => {
    const request = https.request(
      requestOptions,
      (response) => {
        // Read now: a keep-alive agent takes the socket back before 'end'.
        const socket = response.socket;
        const alpn = (socket as tls.TLSSocket).alpnProtocol;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), socket, alpn }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

function h2Connect(host: string, options: { cert?: Buffer; key?: Buffer } = {}): http2.ClientHttp2Session {
  const session = http2.connect(`https://${host}:${gw.httpsPort}`, {
    host: '127.0.0.1',
    servername: host,
    ca: gw.caPem,
    ...options,
  });
  session.on('error', () => {});
  return session;
}

function h2Request(
  session: http2.ClientHttp2Session,
  path: string,
  headers: http2.OutgoingHttpHeaders = {},
): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function lastEcho(): EchoRequest {
  const request = echo.received.at(-1);
  assert.ok(request, 'the app received a request');
  return request;
}

const curlTo = (options: Omit<CurlOptions, 'port' | 'caFile'>) => curl({ port: gw.httpsPort, caFile, ...options });

/** A request to the echo app that must succeed: the gateway still works after a failure. */
async function assertStillServing(http: '1.1' | '2' = '1.1'): Promise<void> {
  const result = await curlTo({ host: echoHost, http, path: '/still-ok' });
  assert.equal(result.code, 0, result.stderr);
  const { status, body } = curlResult(result);
  assert.equal(status, 200);
  assert.equal((JSON.parse(body) as EchoRequest).url, '/still-ok');
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------------------------------------

describe('HTTP/1.1 and HTTP/2 to clients (ALPN), HTTP/1.1 to the app', () => {
  for (const version of ['1.1', '2'] as const) {
    test(`curl --http${version}`, async () => {
      const result = await curlTo({ host: echoHost, http: version, path: `/v?http=${version}` });
      assert.equal(result.code, 0, result.stderr);
      const { status, httpVersion, body } = curlResult(result);
      assert.equal(status, 200);
      assert.equal(httpVersion, version);
      const seen = JSON.parse(body) as EchoRequest;
      assert.equal(seen.url, `/v?http=${version}`);
      assert.equal(seen.httpVersion, '1.1', 'the app is always spoken to in HTTP/1.1');
      assert.equal(seen.headers.host, `${echoHost}:${gw.httpsPort}`);
    });
  }

  test('Node https client negotiates http/1.1', async () => {
    const reply = await h1Request(echoHost, '/node-h1');
    assert.equal(reply.status, 200);
    assert.equal(reply.alpn, 'http/1.1');
    assert.equal((JSON.parse(reply.body.toString()) as EchoRequest).httpVersion, '1.1');
  });

  test('Node http2 client negotiates h2 and makes several streams on one session', async () => {
    const session = h2Connect(echoHost);
    try {
      await once(session, 'connect');
      assert.equal(session.alpnProtocol, 'h2');
      const replies = await Promise.all([1, 2, 3].map((n) => h2Request(session, `/h2/${n}`, { 'x-n': String(n) })));
      for (const [i, reply] of replies.entries()) {
        assert.equal(reply.status, 200);
        const seen = JSON.parse(reply.body.toString()) as EchoRequest;
        assert.equal(seen.url, `/h2/${i + 1}`);
        assert.equal(seen.headers['x-n'], String(i + 1));
        assert.equal(seen.httpVersion, '1.1');
        assert.equal(seen.headers.host, `${echoHost}:${gw.httpsPort}`, ':authority becomes Host');
      }
    } finally {
      session.close();
    }
  });

  test('HEAD over HTTP/2 (Node client): the app\'s head with its content-length, no body, the stream ends', async () => {
    const session = h2Connect(echoHost);
    try {
      const reply = await withTimeout(h2Request(session, '/head-h2', { ':method': 'HEAD' }), 3_000, 'the HEAD response');
      assert.equal(reply.status, 200);
      assert.ok(Number(reply.headers['content-length']) > 0, 'the length of the body a GET would get');
      assert.equal(reply.body.length, 0);
      assert.equal(lastEcho().method, 'HEAD');
      // The session still serves after a stream Node ended at its head.
      assert.equal((await h2Request(session, '/after-head')).status, 200);
    } finally {
      session.close();
    }
  });
});

describe('bodies are streamed both ways', () => {
  for (const version of ['1.1', '2'] as const) {
    test(`8 MiB POST (curl --data-binary, HTTP/${version}) reaches the app intact`, async () => {
      const result = await curlTo({
        host: streamHost,
        http: version,
        path: '/sha256',
        headers: ['content-type: application/octet-stream'],
        extra: ['--data-binary', `@${join(dir, 'upload.bin')}`],
      });
      assert.equal(result.code, 0, result.stderr);
      const { status, body } = curlResult(result);
      assert.equal(status, 200, body);
      const seen = JSON.parse(body) as { sha256: string; bytes: number; httpVersion: string };
      assert.equal(seen.bytes, UPLOAD.length);
      assert.equal(seen.sha256, sha256(UPLOAD));
      assert.equal(seen.httpVersion, '1.1');
    });
  }

  test('8 MiB POST (HTTP/1.1) with curl\'s Expect: 100-continue turned off (-H "Expect:") reaches the app intact', async () => {
    const result = await curlTo({
      host: streamHost,
      http: '1.1',
      path: '/sha256',
      headers: ['content-type: application/octet-stream', 'Expect:'],
      extra: ['--data-binary', `@${join(dir, 'upload.bin')}`],
    });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 200, body);
    const seen = JSON.parse(body) as { sha256: string; bytes: number; contentLength: string | null };
    assert.equal(seen.bytes, UPLOAD.length);
    assert.equal(seen.sha256, sha256(UPLOAD));
    assert.equal(seen.contentLength, String(UPLOAD.length));
  });

  // curl sends `Expect: 100-continue` by itself for HTTP/1.1 bodies over 1 MiB and for chunked
  // uploads; the ingress answers 100 Continue to the client and must still forward the request.
  test('a small POST with Expect: 100-continue (HTTP/1.1, curl) reaches the app', async () => {
    const result = await curlTo({
      host: streamHost,
      http: '1.1',
      path: '/sha256',
      headers: ['Expect: 100-continue'],
      extra: ['--data-binary', 'hello'],
    });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 200, body);
    assert.equal((JSON.parse(body) as { sha256: string }).sha256, sha256(Buffer.from('hello')));
  });

  test('a POST with expect: 100-continue (HTTP/2, Node client) reaches the app', async () => {
    const session = h2Connect(streamHost);
    try {
      const stream = session.request({ ':path': '/sha256', ':method': 'POST', expect: '100-continue' }, { endStream: false });
      let text = '';
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const ended = once(stream, 'end');
      stream.once('continue', () => stream.end('hello'));
      await withTimeout(ended, 3_000, 'the response');
      assert.equal(status, 200, text);
      assert.equal((JSON.parse(text) as { sha256: string }).sha256, sha256(Buffer.from('hello')));
    } finally {
      session.close();
    }
  });

  test('8 MiB chunked upload (curl -H "Transfer-Encoding: chunked", HTTP/1.1) reaches the app intact', async () => {
    const result = await curlTo({
      host: streamHost,
      http: '1.1',
      path: '/sha256',
      headers: ['Transfer-Encoding: chunked', 'content-type: application/octet-stream'],
      extra: ['--data-binary', `@${join(dir, 'upload.bin')}`],
    });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 200, body);
    const seen = JSON.parse(body) as { sha256: string; bytes: number; transferEncoding: string | null };
    assert.equal(seen.bytes, UPLOAD.length);
    assert.equal(seen.sha256, sha256(UPLOAD));
    assert.equal(seen.transferEncoding, 'chunked');
  });

  for (const version of ['1.1', '2'] as const) {
    for (const framing of ['chunked', 'content-length'] as const) {
      test(`4 MiB response written over time (curl HTTP/${version}, ${framing}) reaches the client intact`, async () => {
        const out = join(dir, `download-${version}-${framing}.bin`);
        const result = await curlTo({
          host: streamHost,
          http: version,
          path: framing === 'chunked' ? '/download' : '/download?length',
          extra: ['-o', out],
        });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(curlResult(result).status, 200);
        const received = readFileSync(out);
        assert.equal(received.length, DOWNLOAD.length);
        assert.equal(sha256(received), sha256(DOWNLOAD));
      });
    }
  }

  test('4 MiB response through the Node http2 client', async () => {
    const session = h2Connect(streamHost);
    try {
      const reply = await h2Request(session, '/download');
      assert.equal(reply.status, 200);
      assert.equal(sha256(reply.body), sha256(DOWNLOAD));
    } finally {
      session.close();
    }
  });

  // The app writes one chunk and finishes only after the client has received it: a proxy that
  // buffered the response would never deliver it, and the test would time out.
  test('the response is not buffered: the client gets the first chunk before the app finishes (HTTP/1.1)', async () => {
    const gate = Promise.withResolvers<void>();
    streamApp.gate = gate.promise;
    try {
      const firstChunk = Promise.withResolvers<string>();
      const done = new Promise<string>((resolve, reject) => {
        const request = https.request(
          { host: '127.0.0.1', port: gw.httpsPort, servername: streamHost, headers: { host: streamHost }, path: '/gated', ca: gw.caPem, agent: false },
          (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => {
              if (text === '') firstChunk.resolve(chunk.toString());
              text += chunk.toString();
            });
            response.on('end', () => resolve(text));
            response.on('error', reject);
          },
        );
        request.on('error', reject);
        request.end();
      });
      assert.equal(await withTimeout(firstChunk.promise, 3_000, 'first chunk while the app is still answering'), 'first chunk\n');
      gate.resolve();
      assert.equal(await withTimeout(done, 3_000, 'the rest'), 'first chunk\nthe rest\n');
    } finally {
      gate.resolve();
    }
  });

  test('the response is not buffered: the client gets the first chunk before the app finishes (HTTP/2)', async () => {
    const gate = Promise.withResolvers<void>();
    streamApp.gate = gate.promise;
    const session = h2Connect(streamHost);
    try {
      const stream = session.request({ ':path': '/gated' });
      const first = once(stream, 'data') as Promise<[Buffer]>;
      let text = '';
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const [chunk] = await withTimeout(first, 3_000, 'first chunk while the app is still answering');
      assert.equal(chunk.toString(), 'first chunk\n');
      gate.resolve();
      await withTimeout(once(stream, 'end'), 3_000, 'the rest');
      assert.equal(text, 'first chunk\nthe rest\n');
    } finally {
      gate.resolve();
      session.close();
    }
  });

  // The other direction: the client sends one chunk and sends the rest only once the app has it.
  test('the request is not buffered: the app gets the first chunk before the client finishes (HTTP/1.1 chunked)', async () => {
    const appGotFirst = Promise.withResolvers<void>();
    streamApp.onUploadChunk = () => appGotFirst.resolve();
    try {
      const parts = [randomBytes(1_000), randomBytes(200_000)];
      const reply = new Promise<Reply>((resolve, reject) => {
        const request = https.request(
          {
            host: '127.0.0.1', port: gw.httpsPort, servername: streamHost, path: '/sha256', method: 'POST',
            headers: { host: streamHost, 'transfer-encoding': 'chunked' }, ca: gw.caPem, agent: false,
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (c: Buffer) => chunks.push(c));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), socket: response.socket, alpn: null }));
          },
        );
        request.on('error', reject);
        request.write(parts[0]);
        withTimeout(appGotFirst.promise, 3_000, 'the app reads the first chunk while the client is still sending').then(
          () => request.end(parts[1]),
          (error: unknown) => {
            request.destroy();
            reject(error);
          },
        );
      });
      const { status, body } = await reply;
      assert.equal(status, 200);
      const seen = JSON.parse(body.toString()) as { sha256: string; bytes: number };
      assert.equal(seen.bytes, 201_000);
      assert.equal(seen.sha256, sha256(Buffer.concat(parts)));
    } finally {
      streamApp.onUploadChunk = undefined;
    }
  });

  test('the request is not buffered: the app gets the first chunk before the client finishes (HTTP/2)', async () => {
    const appGotFirst = Promise.withResolvers<void>();
    streamApp.onUploadChunk = () => appGotFirst.resolve();
    const session = h2Connect(streamHost);
    try {
      const parts = [randomBytes(1_000), randomBytes(200_000)];
      const stream = session.request({ ':path': '/sha256', ':method': 'POST' }, { endStream: false });
      let text = '';
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const ended = once(stream, 'end');
      stream.write(parts[0]);
      await withTimeout(appGotFirst.promise, 3_000, 'the app reads the first chunk while the client is still sending');
      stream.end(parts[1]);
      await withTimeout(ended, 3_000, 'the response');
      const seen = JSON.parse(text) as { sha256: string; bytes: number };
      assert.equal(seen.bytes, 201_000);
      assert.equal(seen.sha256, sha256(Buffer.concat(parts)));
    } finally {
      streamApp.onUploadChunk = undefined;
      session.close();
    }
  });

});

describe('headers', () => {
  test('hop-by-hop request headers are not forwarded (HTTP/1.1)', async () => {
    const result = await curlTo({
      host: echoHost,
      http: '1.1',
      headers: [
        'Connection: keep-alive, X-Custom-Hop, X-Other-Hop',
        'Keep-Alive: timeout=5',
        'TE: trailers',
        'Upgrade: h2c',
        'Proxy-Connection: keep-alive',
        'X-Custom-Hop: secret',
        'X-Other-Hop: secret',
        'X-End-To-End: kept',
      ],
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(curlResult(result).status, 200);
    const { headers } = lastEcho();
    for (const name of ['keep-alive', 'te', 'upgrade', 'proxy-connection', 'x-custom-hop', 'x-other-hop']) {
      assert.equal(headers[name], undefined, `${name} must not reach the app`);
    }
    // The ingress's own connection to the app may say keep-alive; the client's tokens are gone.
    assert.ok(headers.connection === undefined || headers.connection === 'keep-alive', `connection: ${String(headers.connection)}`);
    assert.equal(headers['x-end-to-end'], 'kept');
  });

  test('hop-by-hop request headers are not forwarded (HTTP/2, Node client)', async () => {
    const session = h2Connect(echoHost);
    try {
      // HTTP/2 forbids connection-specific headers except `te: trailers`, which must not reach an
      // HTTP/1.1 app either.
      const reply = await h2Request(session, '/h2-hop', { te: 'trailers', 'x-end-to-end': 'kept' });
      assert.equal(reply.status, 200);
      const seen = JSON.parse(reply.body.toString()) as EchoRequest;
      assert.equal(seen.headers.te, undefined);
      assert.equal(seen.headers['x-end-to-end'], 'kept');
    } finally {
      session.close();
    }
  });

  for (const version of ['1.1', '2'] as const) {
    test(`hop-by-hop response headers are not passed to the client (HTTP/${version})`, async () => {
      const result = await curlTo({ host: streamHost, http: version, path: '/hop', extra: ['-i'] });
      assert.equal(result.code, 0, result.stderr);
      const response = parseIncluded(curlResult(result).body);
      assert.equal(response.status, 200);
      assert.equal(response.body, 'ok');
      assert.deepEqual(response.headers['x-kept'], ['yes']);
      for (const name of ['x-app-hop', 'proxy-connection', 'upgrade']) {
        assert.equal(response.headers[name], undefined, `${name} must not reach the client`);
      }
      if (version === '2') {
        assert.equal(response.headers['connection'], undefined);
        assert.equal(response.headers['keep-alive'], undefined);
      } else {
        // The ingress's own HTTP/1.1 connection headers, not the app's.
        assert.ok(!(response.headers['connection'] ?? []).join(',').toLowerCase().includes('x-app-hop'));
        assert.ok(!(response.headers['keep-alive'] ?? []).join(',').includes('timeout=7'), 'the app\'s Keep-Alive is not passed on');
      }
    });
  }

  for (const version of ['1.1', '2'] as const) {
    test(`X-Forwarded-For/-Proto/-Host and X-Request-Id as the app sees them (HTTP/${version})`, async () => {
      const sent = await curlTo({
        host: echoHost,
        http: version,
        headers: ['X-Forwarded-For: 203.0.113.7, 198.51.100.2', 'X-Forwarded-Proto: http', 'X-Forwarded-Host: evil.example', 'X-Request-Id: client-chosen'],
      });
      assert.equal(sent.code, 0, sent.stderr);
      const first = lastEcho().headers;
      assert.equal(first['x-forwarded-for'], '203.0.113.7, 198.51.100.2, 127.0.0.1', 'the client address is appended');
      assert.equal(first['x-forwarded-proto'], 'https');
      assert.equal(first['x-forwarded-host'], `${echoHost}:${gw.httpsPort}`);
      assert.match(String(first['x-request-id']), UUID, 'a client-sent X-Request-Id is replaced');

      const plain = await curlTo({ host: echoHost, http: version });
      assert.equal(plain.code, 0, plain.stderr);
      const second = lastEcho().headers;
      assert.equal(second['x-forwarded-for'], '127.0.0.1');
      assert.equal(second['x-forwarded-proto'], 'https');
      assert.match(String(second['x-request-id']), UUID);
      assert.notEqual(second['x-request-id'], first['x-request-id'], 'a fresh id per request');
    });
  }

  test('a fresh X-Request-Id for each request on one keep-alive connection', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ids = new Set<string>();
      const sockets = new Set<net.Socket>();
      for (let i = 0; i < 5; i++) {
        const reply = await h1Request(echoHost, `/id/${i}`, { agent, headers: { 'x-request-id': 'same' } });
        sockets.add(reply.socket);
        const id = (JSON.parse(reply.body.toString()) as EchoRequest).headers['x-request-id'];
        assert.match(String(id), UUID);
        ids.add(String(id));
      }
      assert.equal(sockets.size, 1, 'one client connection');
      assert.equal(ids.size, 5);
    } finally {
      agent.destroy();
    }
  });
});

describe('pooled keep-alive connections to the app', () => {
  let pooled: EchoApp;
  let host: string;
  let upstreamConnections = 0;

  before(async () => {
    pooled = await startEchoApp();
    pooled.server.on('connection', () => upstreamConnections++);
    host = await gw.putApp('pooled', 'env1', { targetPort: pooled.port });
  });
  after(async () => {
    await gw.deleteApp('pooled');
    await pooled.close();
  });

  test('sequential requests from several client connections share one upstream connection', async () => {
    const clientSockets = new Set<net.Socket>();
    for (let client = 0; client < 3; client++) {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; i < 10; i++) {
          const reply = await h1Request(host, `/c${client}/r${i}`, { agent });
          assert.equal(reply.status, 200);
          clientSockets.add(reply.socket);
        }
      } finally {
        agent.destroy();
      }
    }
    const session = h2Connect(host);
    try {
      for (let i = 0; i < 10; i++) assert.equal((await h2Request(session, `/h2/r${i}`)).status, 200);
    } finally {
      session.close();
    }
    assert.equal(clientSockets.size, 3, 'three HTTP/1.1 client connections (plus one HTTP/2)');
    assert.equal(pooled.received.length, 40);
    assert.equal(upstreamConnections, 1, 'every request reused the one pooled upstream connection');
  });

  test('concurrent clients use no more upstream connections than requests in flight', async () => {
    const before = upstreamConnections;
    const start = pooled.received.length;
    await Promise.all(
      [0, 1, 2].map(async (client) => {
        const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
        try {
          for (let i = 0; i < 10; i++) assert.equal((await h1Request(host, `/p${client}/r${i}`, { agent })).status, 200);
        } finally {
          agent.destroy();
        }
      }),
    );
    assert.equal(pooled.received.length - start, 30);
    assert.ok(upstreamConnections - before <= 3, `${upstreamConnections - before} new upstream connections for 30 requests`);
  });
});

describe('the response timeout (responseTimeoutMs)', { concurrency: true }, () => {
  // undici arms its headers timeout on a coarse timer (about 1 s resolution), so the 504 comes
  // between responseTimeoutMs and about a second later; the app would answer after 3 s.
  test(`the app does not send headers within responseTimeoutMs (${RESPONSE_TIMEOUT_MS} ms): 504`, async () => {
    await Promise.all(
      (['1.1', '2'] as const).map(async (version) => {
        const started = Date.now();
        const result = await curlTo({ host: streamHost, http: version, path: '/slow' });
        const elapsed = Date.now() - started;
        assert.equal(result.code, 0, result.stderr);
        const { status, body } = curlResult(result);
        assert.equal(status, 504, body);
        assert.match(body, /app_timeout/);
        assert.ok(elapsed >= RESPONSE_TIMEOUT_MS - 20 && elapsed < 2_500, `HTTP/${version} answered after ${elapsed} ms`);
      }),
    );
    await assertStillServing('1.1');
    await assertStillServing('2');
  });

  // A client that uploads slowly is not an app that is slow to answer: the response timeout must not
  // cut off an upload that is still arriving (the app answers as soon as the body is complete). The
  // upload takes 1.2 s, past the moment the timeout fires (see above).
  test(`an upload that takes longer than the response timeout (${RESPONSE_TIMEOUT_MS} ms) is not answered 504`, async () => {
    const session = h2Connect(streamHost);
    try {
      const stream = session.request({ ':path': '/sha256', ':method': 'POST' }, { endStream: false });
      let text = '';
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const ended = once(stream, 'end');
      const parts: Buffer[] = [];
      for (let i = 0; i < 12; i++) {
        const part = randomBytes(100);
        parts.push(part);
        stream.write(part);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      stream.end();
      await withTimeout(ended, 3_000, 'the response');
      assert.equal(status, 200, text);
      assert.equal((JSON.parse(text) as { sha256: string }).sha256, sha256(Buffer.concat(parts)));
    } finally {
      session.close();
    }
  });
});

describe('app failures', () => {
  test('the app refuses the connection (closed targetPort): 503, then the gateway still serves', async () => {
    const host = await gw.putApp('refusing', 'env1', { targetPort: await closedPort() });
    for (const version of ['1.1', '2'] as const) {
      const result = await curlTo({ host, http: version });
      assert.equal(result.code, 0, result.stderr);
      const { status, body } = curlResult(result);
      assert.equal(status, 503);
      assert.match(body, /app_unavailable/);
      await assertStillServing(version);
    }
  });

  test('an app without targetPort: 503', async () => {
    const host = await gw.putApp('no-port', 'env1', { external: true });
    for (const version of ['1.1', '2'] as const) {
      const result = await curlTo({ host, http: version });
      assert.equal(result.code, 0, result.stderr);
      const { status, body } = curlResult(result);
      assert.equal(status, 503);
      assert.match(body, /targetPort/);
      await assertStillServing(version);
    }
  });

  for (const version of ['1.1', '2'] as const) {
    for (const framing of ['chunked', 'content-length'] as const) {
      test(`the app resets mid-response (HTTP/${version}, ${framing}): curl fails, never a clean truncated 200`, async () => {
        const result = await curlTo({ host: streamHost, http: version, path: framing === 'chunked' ? '/reset' : '/reset?length' });
        // 18: partial file (transfer closed with outstanding read data); 56: receive failure;
        // 92: HTTP/2 stream not closed cleanly; 16: HTTP/2 framing error.
        assert.notEqual(result.code, 0, `curl reported success: ${result.stdout.slice(-40)}`);
        assert.ok([16, 18, 56, 92].includes(result.code), `curl exit ${result.code}: ${result.stderr}`);
        await assertStillServing(version);
      });
    }
  }

  test('the app resets mid-response (Node http2 client): the stream errors instead of ending', async () => {
    const session = h2Connect(streamHost);
    try {
      const outcome = await new Promise<string>((resolve) => {
        const stream = session.request({ ':path': '/reset' });
        stream.on('data', () => {});
        stream.on('end', () => resolve('end'));
        stream.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
        stream.on('close', () => resolve(`close rstCode=${stream.rstCode}`));
      });
      assert.notEqual(outcome, 'end', 'a truncated response must not end cleanly');
    } finally {
      session.close();
    }
  });
});

/**
 * An app speaking raw HTTP/1.1 from a script: `answer(request, n)` gets each request head (and the
 * number of the request on its connection, from 1) and returns the bytes to send, or 'destroy'.
 */
async function startRawApp(answer: (head: string, n: number) => string | 'destroy') {
  const connections: net.Socket[] = [];
  const server = net.createServer((socket) => {
    connections.push(socket);
    let buffered = '';
    let n = 0;
    socket.on('error', () => {});
    socket.on('data', (data: Buffer) => {
      buffered += data.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const head = buffered.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        const reply = answer(head, ++n);
        if (reply === 'destroy') {
          socket.destroy();
          return;
        }
        socket.write(reply, 'latin1');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () => new Promise<void>((resolve) => {
      for (const socket of connections) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('idle client connections (keepAliveTimeoutMs 3 s here)', () => {
  test('an idle keep-alive connection is closed after the keep-alive time, not before', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername: echoHost, ca: gw.caPem });
    await once(socket, 'secureConnect');
    socket.write(`GET /idle HTTP/1.1\r\nHost: ${echoHost}\r\n\r\n`);
    await once(socket, 'data');
    const idleFrom = performance.now();
    socket.resume();
    const closed = once(socket, 'close').then(() => performance.now() - idleFrom);
    const elapsed = await withTimeout(closed, 8_000, 'the idle connection to close');
    // 3 s, noticed by a sweep a quarter of a second apart at most (plus this machine's slack).
    assert.ok(elapsed >= 2_900 && elapsed < 5_000, `closed after ${Math.round(elapsed)} ms`);
  });

  test('a connection with a response still in flight is not idle, however long the client takes to read it', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername: streamHost, ca: gw.caPem });
    await once(socket, 'secureConnect');
    socket.pause();
    socket.write(`GET /download?length HTTP/1.1\r\nHost: ${streamHost}\r\n\r\n`);
    // The client reads nothing for longer than the keep-alive time: 4 MiB cannot all be sent.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    assert.equal(socket.destroyed, false, 'the connection is still open');
    const chunks: Buffer[] = [];
    let received = 0;
    const complete = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        const all = Buffer.concat(chunks);
        const headEnd = all.indexOf('\r\n\r\n');
        if (headEnd !== -1 && all.length - headEnd - 4 >= DOWNLOAD.length) resolve();
      });
      socket.on('close', () => reject(new Error(`closed after ${received} bytes`)));
    });
    socket.resume();
    await withTimeout(complete, 5_000, 'the whole answer');
    const all = Buffer.concat(chunks);
    assert.equal(sha256(all.subarray(all.indexOf('\r\n\r\n') + 4)), sha256(DOWNLOAD));
    socket.destroy();
  });
});

describe('the upstream client against apps that misbehave', () => {
  test('bytes after a response (an app smuggling a second one) never reach the next client', async () => {
    let requests = 0;
    const app = await startRawApp(() =>
      ++requests === 1
        ? 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled'
        : 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh',
    );
    try {
      const host = await gw.putApp('smuggler', 'env1', { targetPort: app.port });
      const first = curlResult(await curlTo({ host }));
      assert.deepEqual([first.status, first.body], [200, 'ok']);
      const second = curlResult(await curlTo({ host }));
      assert.deepEqual([second.status, second.body], [200, 'fresh']);
      assert.equal(app.connections.length, 2, 'the connection with the extra bytes was dropped');
    } finally {
      await app.close();
    }
  });

  test('an app that closes a kept-alive connection as the next request arrives: a GET is sent again, a POST gets 502', async () => {
    // (Each request below is the second on a connection the app then closes, except where noted.)
    const app = await startRawApp((head, n) => (n === 1 ? `HTTP/1.1 200 OK\r\nContent-Length: ${head.length}\r\n\r\n${head}` : 'destroy'));
    try {
      const host = await gw.putApp('closer', 'env1', { targetPort: app.port });
      assert.equal(curlResult(await curlTo({ host, path: '/one' })).status, 200);
      // On the connection the app will close: sent again on a new one, and answered.
      const again = curlResult(await curlTo({ host, path: '/two' }));
      assert.equal(again.status, 200);
      assert.match(again.body, /^GET \/two HTTP\/1\.1/);
      assert.equal(app.connections.length, 2);
      // A request with a body is not repeated (the app may have acted on it).
      const post = curlResult(await curlTo({ host, path: '/three', extra: ['--data-binary', 'payload'] }));
      assert.equal(post.status, 502);
      // Nor is a POST without one: not idempotent. (A GET first, so the POST goes out on a reused connection.)
      assert.equal(curlResult(await curlTo({ host, path: '/four' })).status, 200);
      const emptyPost = curlResult(await curlTo({ host, path: '/five', extra: ['-X', 'POST'] }));
      assert.equal(emptyPost.status, 502);
      await assertStillServing();
    } finally {
      await app.close();
    }
  });

  for (const [label, response] of [
    ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
    ['differing Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!'],
    ['a header split by a bare LF', 'HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nok'],
  ] as const) {
    test(`${label}: 502, the connection dropped, the gateway still serves`, async () => {
      const app = await startRawApp(() => response);
      try {
        const host = await gw.putApp(`bad-${label.length}`, 'env1', { targetPort: app.port });
        const result = curlResult(await curlTo({ host }));
        assert.equal(result.status, 502);
        assert.match(result.body, /app_error/);
        await assertStillServing();
      } finally {
        await app.close();
      }
    });
  }
});

describe('WebSocket', () => {
  let wsHost: string;
  let wsAcceptHost: string;
  before(async () => {
    wsHost = await gw.putApp('ws', 'env1', { targetPort: wsApp.port });
    wsAcceptHost = await gw.putApp('ws-accept', 'env1', { targetPort: wsApp.port, clientCertificateMode: 'accept' });
  });

  async function upgrade(host: string, tlsOptions: { cert?: Buffer; key?: Buffer } = {}) {
    const key = randomBytes(16).toString('base64');
    const { response, socket, head } = await new Promise<{ response: http.IncomingMessage; socket: Duplex; head: Buffer }>((resolve, reject) => {
      const request = https.request({
        host: '127.0.0.1',
        port: gw.httpsPort,
        servername: host,
        path: '/chat?room=1',
        ca: gw.caPem,
        agent: false,
        ...tlsOptions,
        headers: {
          host,
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-key': key,
          'sec-websocket-version': '13',
          'x-forwarded-client-cert': 'forged',
        },
      });
      request.on('upgrade', (res, sock, hd) => resolve({ response: res, socket: sock, head: hd }));
      request.on('response', (res) => reject(new Error(`no upgrade: HTTP ${res.statusCode}`)));
      request.on('error', reject);
      request.end();
    });
    return { key, response, socket, head };
  }

  test('upgrade through the ingress: 101 with the app\'s Sec-WebSocket-Accept, then the app\'s first frame', async () => {
    const { key, response, socket, head } = await upgrade(wsHost);
    try {
      assert.equal(response.statusCode, 101);
      assert.equal(String(response.headers.upgrade).toLowerCase(), 'websocket');
      assert.equal(response.headers['sec-websocket-accept'], wsAccept(key));
      const greeting = await withTimeout(frameReader(socket, head)(), 3_000, 'greeting');
      assert.equal(greeting.text, 'hello from the app');
      assert.equal(greeting.masked, false);
    } finally {
      socket.destroy();
    }
  });

  test('the tunnel carries bytes in both directions', async () => {
    const { response, socket, head } = await upgrade(wsHost);
    try {
      assert.equal(response.statusCode, 101);
      const next = frameReader(socket, head);
      assert.equal((await withTimeout(next(), 3_000, 'greeting')).text, 'hello from the app');
      for (const text of ['ping 1', 'ping 2']) {
        socket.write(wsFrame(text, true));
        const reply = await withTimeout(next(), 3_000, `echo of ${text}`);
        assert.equal(reply.text, `echo: ${text}`);
        assert.equal(reply.masked, false);
      }
      const seen = wsApp.upgrades.at(-1);
      assert.ok(seen);
      assert.equal(seen.url, '/chat?room=1');
      assert.equal(String(seen.headers.upgrade).toLowerCase(), 'websocket');
      assert.match(String(seen.headers.connection), /upgrade/i);
      assert.equal(seen.headers['x-forwarded-proto'], 'https');
      assert.match(String(seen.headers['x-request-id']), UUID);
      assert.equal(seen.headers['x-forwarded-client-cert'], undefined, 'a client-sent XFCC never reaches the app');
    } finally {
      socket.destroy();
    }
  });

  test('on an accept app with a client certificate, the upgrade request carries X-Forwarded-Client-Cert', async () => {
    const { response, socket, head } = await upgrade(wsAcceptHost, {
      cert: readFileSync(join(VECTORS, 'self.pem')),
      key: readFileSync(join(VECTORS, 'self.key')),
    });
    try {
      assert.equal(response.statusCode, 101);
      const next = frameReader(socket, head);
      assert.equal((await withTimeout(next(), 3_000, 'greeting')).text, 'hello from the app');
      socket.write(wsFrame('with cert', true));
      assert.equal((await withTimeout(next(), 3_000, 'echo')).text, 'echo: with cert');
      const seen = wsApp.upgrades.at(-1);
      assert.ok(seen);
      assert.equal(seen.headers['x-forwarded-client-cert'], expectedSelfSigned);
    } finally {
      socket.destroy();
    }
  });
});

describe('the plain-HTTP port', () => {
  let insecureHost: string;
  before(async () => {
    insecureHost = await gw.putApp('insecure', 'env1', { targetPort: echo.port, allowInsecure: true, clientCertificateMode: 'accept' });
  });

  test('allowInsecure false (default): 308 to https://<host>:<httpsPort>/path?query', async () => {
    const before = echo.received.length;
    const result = await curlHttp({ host: echoHost, port: gw.httpPort, path: '/a/b?x=1&y=two', extra: ['-i'] });
    assert.equal(result.code, 0, result.stderr);
    const response = parseIncluded(curlResult(result).body);
    assert.equal(response.status, 308);
    assert.deepEqual(response.headers['location'], [`https://${echoHost}:${gw.httpsPort}/a/b?x=1&y=two`]);
    assert.equal(echo.received.length, before, 'the app is not reached over plain HTTP');
  });

  test('the redirect leads to the app over HTTPS (curl -L)', async () => {
    const before = echo.received.length;
    const result = await curlHttp({
      host: echoHost,
      port: gw.httpPort,
      path: '/followed?q=1',
      extra: ['-L', '--resolve', `${echoHost}:${gw.httpsPort}:127.0.0.1`, '--cacert', caFile],
    });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 200);
    const seen = JSON.parse(body) as EchoRequest;
    assert.equal(seen.url, '/followed?q=1');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(echo.received.length, before + 1, 'only the HTTPS request reached the app');
  });

  test('allowInsecure true: served over HTTP, a client-sent X-Forwarded-Client-Cert is stripped', async () => {
    const result = await curlHttp({
      host: insecureHost,
      port: gw.httpPort,
      path: '/insecure?x=1',
      headers: ['X-Forwarded-Client-Cert: Hash=forged;Cert="forged"', 'X-ARR-ClientCert: forged', 'X-Forwarded-For: 203.0.113.9'],
    });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 200);
    const seen = JSON.parse(body) as EchoRequest;
    assert.equal(seen.url, '/insecure?x=1');
    assert.equal(seen.headers['x-forwarded-client-cert'], undefined);
    assert.equal(seen.headers['x-arr-clientcert'], undefined);
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.match(String(seen.headers['x-request-id']), UUID);
  });

  test('an unknown Host on the HTTP port: 404 naming the host', async () => {
    const result = await curlHttp({ host: 'nothing.env1.certgate.localhost', port: gw.httpPort, path: '/x' });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 404);
    assert.match(body, /nothing\.env1\.certgate\.localhost/);
  });
});

describe('unknown SNI or no SNI on the HTTPS port', () => {
  function peerCertificate(servername: string | undefined): Promise<{ subjectAltName: string; authorized: boolean }> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, ca: gw.caPem, rejectUnauthorized: false, ...(servername ? { servername } : {}) }, () => {
        const cert = socket.getPeerX509Certificate();
        socket.destroy();
        if (!cert) reject(new Error('no certificate'));
        else resolve({ subjectAltName: cert.subjectAltName ?? '', authorized: socket.authorized });
      });
      socket.on('error', reject);
    });
  }

  /** An HTTP/1.1 request over a TLS connection without SNI (Node sends none to an IP address). */
  function requestWithoutSni(hostHeader: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, ca: gw.caPem, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
        socket.write(`GET /x HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
  }

  test('an app name gets the environment wildcard (control)', async () => {
    const { subjectAltName, authorized } = await peerCertificate(echoHost);
    assert.match(subjectAltName, /DNS:\*\.env1\.certgate\.localhost/);
    assert.equal(authorized, true);
  });

  for (const [label, servername] of [
    ['no SNI', undefined],
    ['an unknown name', 'unknown.example'],
    ['an unknown name under the environment domain', 'ghost.env1.certgate.localhost'],
  ] as const) {
    test(`${label}: the default certificate, not the environment wildcard`, async () => {
      const { subjectAltName } = await peerCertificate(servername);
      assert.match(subjectAltName, /DNS:localhost/);
      assert.doesNotMatch(subjectAltName, /env1/);
    });
  }

  test('no SNI: 404 naming the Host', async () => {
    const response = await requestWithoutSni('nothing.example');
    assert.match(response, /^HTTP\/1\.1 404 /);
    assert.match(response, /no app is served at nothing\.example/);
  });

  test('no SNI with curl (IP address URL): 404 naming the Host', async () => {
    const result = await curl({ host: '127.0.0.1', port: gw.httpsPort, extra: ['-k'], headers: ['Host: nothing.example'] });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 404);
    assert.match(body, /nothing\.example/);
  });

  test('an unknown SNI (curl): 404 naming the host', async () => {
    for (const version of ['1.1', '2'] as const) {
      const result = await curl({ host: 'ghost.env1.certgate.localhost', port: gw.httpsPort, http: version, extra: ['-k'] });
      assert.equal(result.code, 0, result.stderr);
      const { status, body } = curlResult(result);
      assert.equal(status, 404);
      assert.match(body, /no app is served at ghost\.env1\.certgate\.localhost/);
    }
  });

  test('unknown SNI: the default certificate does not verify for that name', async () => {
    const result = await curlTo({ host: 'ghost.env1.certgate.localhost' });
    assert.notEqual(result.code, 0, 'curl must reject the certificate (it names localhost only)');
    assert.match(result.stderr, /SSL|certificate/i);
  });
});

