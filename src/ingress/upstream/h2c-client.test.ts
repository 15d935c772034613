import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { H2cOriginPool } from './h2c-client.ts';
import type { ExchangeHandler, OutgoingRequest } from './http1-client.ts';

let server: http2.Http2Server;
let origin: string;
const held: http2.ServerHttp2Stream[] = [];

before(async () => {
  server = http2.createServer();
  server.on('stream', (stream, headers) => {
    if (headers[':path'] === '/hold') {
      held.push(stream);
      return;
    }
    stream.respond({ ':status': 200 });
    stream.end(`ok ${String(headers['x-forwarded-client-cert'] ?? '')}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const get = (path: string, clientCertificate?: string): OutgoingRequest => ({ method: 'GET', path, headers: ['host', 'app.example'], clientCertificate, body: null, bodyLength: undefined, owner: {}, ownerAddress: '192.0.2.1' });

function collect(): ExchangeHandler & { done: Promise<{ status?: number; body: string; error?: Error }> } {
  let resolve!: (value: { status?: number; body: string; error?: Error }) => void;
  const done = new Promise<{ status?: number; body: string; error?: Error }>((r) => (resolve = r));
  let status: number | undefined;
  let body = '';
  return {
    done,
    onHead: (code) => ((status = code), true),
    onBody: (chunk) => ((body += chunk.toString()), true),
    onEnd: () => resolve({ status, body }),
    onError: (error) => resolve({ status, body, error }),
  };
}

const options = { responseTimeoutMs: 5_000, bodyTimeoutMs: 5_000, connectTimeoutMs: 2_000, maxSessions: 1, maxStreamsPerSession: 1, maxQueued: 1, keepAliveTimeoutMs: 5_000, clientWriteTimeoutMs: 5_000 };

test('streams per session and the queue are bounded: the request beyond them fails at once (CERTGATE_QUEUE_FULL), the queued one runs when a stream frees', async () => {
  const pool = new H2cOriginPool(origin, options);
  const first = collect();
  pool.request(get('/hold'), first);
  const second = collect();
  pool.request(get('/', 'Hash=abc'), second);
  const third = collect();
  pool.request(get('/'), third);
  const refused = await third.done;
  assert.equal((refused.error as { code?: string } | undefined)?.code, 'CERTGATE_QUEUE_FULL');
  await new Promise((resolve) => setTimeout(resolve, 100));
  held.shift()!.respond({ ':status': 204 }, { endStream: true });
  assert.equal((await first.done).status, 204);
  const queued = await second.done;
  assert.equal(queued.status, 200);
  assert.equal(queued.body, 'ok Hash=abc', "the ingress's own header lines reach the app");
  pool.close();
});

test('a request that cannot be written (CONNECT, a bad header) fails before anything is sent', async () => {
  const pool = new H2cOriginPool(origin, options);
  const connect = collect();
  pool.request({ ...get('/'), method: 'CONNECT' }, connect);
  assert.equal(((await connect.done).error as { code?: string }).code, 'CERTGATE_BAD_REQUEST');
  const bad = collect();
  pool.request({ ...get('/'), headers: ['x bad', 'v'] }, bad);
  assert.equal(((await bad.done).error as { code?: string }).code, 'CERTGATE_BAD_REQUEST');
  pool.close();
});
