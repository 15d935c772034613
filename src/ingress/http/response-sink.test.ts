import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { Http1Sink, Http2Sink } from './response-sink.ts';

async function http1(handler: (sink: Http1Sink, path: string) => void, work: (port: number) => Promise<void>) {
  const server = http.createServer((req, res) => handler(new Http1Sink(res), req.url ?? '/'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await work((server.address() as net.AddressInfo).port);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/** A keep-alive client: a Connection: close in the answer is the server's own. */
const keepAlive = new http.Agent({ keepAlive: true });

function get(port: number, path = '/'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: keepAlive }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

test("HTTP/1.1: the ingress's short answer is plain text, sized, never cached; close adds Connection: close", () =>
  http1(
    (sink, path) => sink.plain(503, 'the app is unavailable (app_unavailable)', path === '/close'),
    async (port) => {
      const reply = await get(port);
      assert.equal(reply.status, 503);
      assert.equal(reply.body, 'the app is unavailable (app_unavailable)\n');
      assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(reply.headers['content-length'], String(Buffer.byteLength(reply.body)));
      assert.equal(reply.headers['cache-control'], 'no-store');
      assert.equal(reply.headers['connection'], 'keep-alive');
      assert.equal((await get(port, '/close')).headers['connection'], 'close');
    },
  ));

test('HTTP/1.1: an answer before the body is read closes the connection (plainBeforeBody)', () =>
  http1(
    (sink) => sink.plainBeforeBody(408, 'too slow'),
    async (port) => {
      const reply = await get(port);
      assert.equal(reply.status, 408);
      assert.equal(reply.headers['connection'], 'close');
    },
  ));

test('HTTP/1.1: a failure after the head cuts the response off; the client never sees it complete', () =>
  http1(
    (sink) => {
      sink.head(200, ['content-length', '100']);
      sink.write(Buffer.from('partial'));
      setTimeout(() => sink.plain(502, 'too late'), 20);
    },
    async (port) => {
      await assert.rejects(get(port), /aborted|socket hang up|ECONNRESET/);
    },
  ));

/** An h2c server whose streams get an Http2Sink; `resets` counts the streams the client reset. */
async function http2Server(handler: (sink: Http2Sink) => void, work: (client: http2.ClientHttp2Session, resets: () => number) => Promise<void>) {
  let resets = 0;
  const server = http2.createServer();
  server.on('stream', (stream) => handler(new Http2Sink(stream, () => resets++)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  client.on('error', () => {});
  try {
    await work(client, () => resets);
  } finally {
    client.destroy();
    server.close();
  }
}

test('HTTP/2: a short answer with close sends GOAWAY after it (the client reconnects)', () =>
  http2Server(
    (sink) => sink.plain(421, 'reconnect', true),
    async (client) => {
      const goaway = once(client, 'goaway');
      const stream = client.request({ ':path': '/' });
      const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
      assert.equal(headers[':status'], 421);
      stream.resume();
      await goaway;
    },
  ));

test('HTTP/2: abort resets the stream with INTERNAL_ERROR and is not counted as a client reset', () =>
  http2Server(
    (sink) => {
      sink.head(200, ['content-type', 'text/plain']);
      sink.write(Buffer.from('partial'));
      setTimeout(() => sink.abort(new Error('the app reset')), 20);
    },
    async (client, resets) => {
      const stream = client.request({ ':path': '/' });
      stream.resume();
      stream.on('error', () => {});
      // Not events.once: it rejects on the stream's 'error', which is what is expected here.
      await new Promise((resolve) => stream.on('close', resolve));
      assert.equal(stream.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
      assert.equal(resets(), 0);
    },
  ));

test("HTTP/2: a stream the client resets is counted once and its exchange is abandoned", () => {
  let abandoned = 0;
  return http2Server(
    (sink) => {
      sink.onAbandoned(() => abandoned++);
      sink.head(200, []);
    },
    async (client, resets) => {
      const stream = client.request({ ':path': '/' });
      await once(stream, 'response');
      stream.close(http2.constants.NGHTTP2_CANCEL);
      for (let i = 0; i < 50 && resets() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(resets(), 1);
      assert.equal(abandoned, 1);
    },
  );
});
