// The shared setup of the proxying tests (test/ingress-*.test.ts split by behaviour): one gateway
// per test file with short upstream timeouts, the echo app, a streaming app and a WebSocket app on
// loopback, and the clients the tests use. `useProxyFixture()` registers the file's before/after
// hooks; the exported `let` bindings are live, so tests read `gw`, `echoHost`... once it has run.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { startEchoApp, type EchoApp, type EchoRequest } from './echo-app.ts';
import { startTestGateway, type TestGateway } from './gateway.ts';
import { curl, curlResult, type CurlOptions } from './clients.ts';

export const RESPONSE_TIMEOUT_MS = 300;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The large bodies: random bytes, so any reordering, loss or re-encoding changes the hash. */
export const UPLOAD = randomBytes(8 * 1024 * 1024);
export const DOWNLOAD = randomBytes(4 * 1024 * 1024);
export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export let gw: TestGateway;
export let dir: string;
export let caFile: string;
export let echo: EchoApp;
export let streamApp: StreamApp;
export let wsApp: WebSocketApp;
export let echoHost: string;
export let streamHost: string;

export function useProxyFixture(): void {
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
}

// ---------------------------------------------------------------------------------------------
// Upstream apps written for these tests.

export interface StreamApp {
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
export async function startStreamApp(): Promise<StreamApp> {
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

export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const wsAccept = (key: string) => createHash('sha1').update(key + WS_GUID).digest('base64');

/** One WebSocket frame, FIN set, text opcode; masked as a client must, unmasked as a server does. */
export function wsFrame(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text);
  assert.ok(payload.length < 126, 'short frames only');
  const header = Buffer.from([0x81, (masked ? 0x80 : 0) | payload.length]);
  if (!masked) return Buffer.concat([header, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([header, mask, body]);
}

/** Parses one short frame from the front of `buffer`; undefined until it is complete. */
export function wsParse(buffer: Buffer): { text: string; masked: boolean; rest: Buffer } | undefined {
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
export function frameReader(socket: Duplex, head: Buffer): () => Promise<{ text: string; masked: boolean }> {
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

export interface WebSocketApp {
  port: number;
  /** The upgrade requests the app received. */
  upgrades: http.IncomingMessage[];
  close(): Promise<void>;
}

/** A minimal WebSocket server: handshake, a greeting frame, then `echo: <text>` for each frame. */
export async function startWebSocketApp(): Promise<WebSocketApp> {
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

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  socket: net.Socket;
  alpn: string | false | null;
}

/** An HTTPS request over HTTP/1.1 (ALPN http/1.1), SNI and Host naming `host`. */
export function h1Request(
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

export function h2Connect(host: string, options: { cert?: Buffer; key?: Buffer } = {}): http2.ClientHttp2Session {
  const session = http2.connect(`https://${host}:${gw.httpsPort}`, {
    host: '127.0.0.1',
    servername: host,
    ca: gw.caPem,
    ...options,
  });
  session.on('error', () => {});
  return session;
}

export function h2Request(
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

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function lastEcho(): EchoRequest {
  const request = echo.received.at(-1);
  assert.ok(request, 'the app received a request');
  return request;
}

export const curlTo = (options: Omit<CurlOptions, 'port' | 'caFile'>) => curl({ port: gw.httpsPort, caFile, ...options });

/** A request to the echo app that must succeed: the gateway still works after a failure. */
export async function assertStillServing(http: '1.1' | '2' = '1.1'): Promise<void> {
  const result = await curlTo({ host: echoHost, http, path: '/still-ok' });
  assert.equal(result.code, 0, result.stderr);
  const { status, body } = curlResult(result);
  assert.equal(status, 200);
  assert.equal((JSON.parse(body) as EchoRequest).url, '/still-ok');
}

export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------------------------------------
