import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import pino from 'pino';
import { proxyRequest, type ClientRequestLine } from './proxy.ts';
import { upstreamFailure } from '../reasons.ts';
import type { ResponseSink } from '../http/response-sink.ts';
import { DEFAULT_UPSTREAM_OPTIONS, UpstreamPools } from './upstream.ts';

test('failures to reach the app map to stable statuses and reasons; anything unknown is 502 app_error', () => {
  const cases: [string, number, string][] = [
    ['CERTGATE_BAD_REQUEST', 400, 'bad_request'],
    ['CERTGATE_REQUEST_BODY_TIMEOUT', 408, 'request_body_timeout'],
    ['CERTGATE_QUEUE_FULL', 503, 'queue_full'],
    ['CERTGATE_QUEUE_TIMEOUT', 503, 'queue_timeout'],
    ['ECONNREFUSED', 503, 'app_unavailable'],
    ['EHOSTUNREACH', 503, 'app_unavailable'],
    ['ENETUNREACH', 503, 'app_unavailable'],
    ['EADDRNOTAVAIL', 503, 'app_unavailable'],
    ['ENOTFOUND', 503, 'app_unavailable'],
    ['EAI_AGAIN', 503, 'app_unavailable'],
    ['CERTGATE_CONNECT_TIMEOUT', 503, 'app_connect_timeout'],
    ['CERTGATE_RESPONSE_TIMEOUT', 504, 'app_timeout'],
    ['CERTGATE_BAD_RESPONSE', 502, 'app_error'],
    ['ECONNRESET', 502, 'app_error'],
  ];
  for (const [code, status, reason] of cases) {
    assert.deepEqual(upstreamFailure(Object.assign(new Error('x'), { code })), { status, reason }, code);
  }
  assert.deepEqual(upstreamFailure(new Error('no code')), { status: 502, reason: 'app_error' });
});

/** The client's side of one request as the proxy wrote it. */
class RecordingSink implements ResponseSink {
  headersSent = false;
  status: number | undefined;
  body = '';
  aborted: Error | undefined;
  closed = false;
  readonly done: Promise<void>;
  #finish!: () => void;

  constructor() {
    this.done = new Promise((resolve) => (this.#finish = resolve));
  }
  head(status: number): void {
    this.headersSent = true;
    this.status = status;
  }
  write(chunk: Buffer): boolean {
    this.body += chunk.toString();
    return true;
  }
  end(chunk?: Buffer): void {
    if (chunk) this.body += chunk.toString();
    this.#finish();
  }
  onDrain(): void {}
  abort(error: Error): void {
    this.aborted = error;
    this.#finish();
  }
  plain(status: number, message: string, close = false): void {
    this.status = status;
    this.body = message;
    this.closed = close;
    this.#finish();
  }
  plainBeforeBody(status: number, message: string): void {
    this.plain(status, message, true);
  }
  onAbandoned(): void {}
}

const log = pino({ level: 'silent' });
const request: ClientRequestLine = { method: 'GET', path: '/', body: null, contentLength: undefined, clientConnection: {}, clientAddress: '192.0.2.1' };

async function withApp(handler: http.RequestListener, work: (upstream: { host: string; port: number; origin: string }, pools: UpstreamPools) => Promise<void>) {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const pools = new UpstreamPools({ ...DEFAULT_UPSTREAM_OPTIONS, responseTimeoutMs: 200 });
  try {
    await work({ host: '127.0.0.1', port, origin: `http://127.0.0.1:${port}` }, pools);
  } finally {
    await pools.close();
    server.closeAllConnections();
    server.close();
  }
}

test("the app's answer reaches the sink; the connection's X-Forwarded-Client-Cert reaches the app", () =>
  withApp(
    (req, res) => res.end(`xfcc=${req.headers['x-forwarded-client-cert']}`),
    async (upstream, pools) => {
      const sink = new RecordingSink();
      proxyRequest(request, sink, upstream, ['host', 'app'], 'Hash=ab', pools, log);
      await sink.done;
      assert.equal(sink.status, 200);
      assert.equal(sink.body, 'xfcc=Hash=ab');
    },
  ));

test('an app that does not answer in time: 504 (app_timeout), as a plain answer', () =>
  withApp(
    () => {},
    async (upstream, pools) => {
      const sink = new RecordingSink();
      proxyRequest(request, sink, upstream, ['host', 'app'], undefined, pools, log);
      await sink.done;
      assert.equal(sink.status, 504);
      assert.match(sink.body, /\(app_timeout\)$/);
    },
  ));

test('an app that resets after its head: the answer is aborted, never passed off as complete', () =>
  withApp(
    (_req, res) => {
      res.writeHead(200, { 'content-length': 100 });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    },
    async (upstream, pools) => {
      const sink = new RecordingSink();
      proxyRequest(request, sink, upstream, ['host', 'app'], undefined, pools, log);
      await sink.done;
      assert.equal(sink.status, 200);
      assert.ok(sink.aborted, 'the sink was aborted');
    },
  ));

test('a request that cannot be written (a header that would split the head): 400, nothing sent to the app', () =>
  withApp(
    () => assert.fail('the app got the request'),
    async (upstream, pools) => {
      const sink = new RecordingSink();
      proxyRequest(request, sink, upstream, ['host', 'app', 'x-a', 'one\r\nx-b: two'], undefined, pools, log);
      await sink.done;
      assert.equal(sink.status, 400);
      assert.match(sink.body, /invalid request header/);
    },
  ));

test('a closed port: 503 (app_unavailable)', async () => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  const pools = new UpstreamPools(DEFAULT_UPSTREAM_OPTIONS);
  try {
    const sink = new RecordingSink();
    proxyRequest(request, sink, { host: '127.0.0.1', port, origin: `http://127.0.0.1:${port}` }, ['host', 'app'], undefined, pools, log);
    await sink.done;
    assert.equal(sink.status, 503);
    assert.match(sink.body, /\(app_unavailable\)$/);
  } finally {
    await pools.close();
  }
});
