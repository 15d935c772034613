// HTTP/2 abuse against a real gateway and a real upstream app: the concurrent-stream bound in
// SETTINGS, one connection opening thousands of streams, rapid reset (CVE-2023-44487) and a reset
// stream releasing its upstream connection. Attacks are hand-built frames (test/support/h2-frames.ts)
// over real TLS; the normal client is Node's http2 client on a connection of its own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { h2Probe } from './support/http-clients.ts';
import { ENHANCE_YOUR_CALM, FRAME, frame, headersFrame, rawH2Connect, requestBlock, rstStream } from './support/h2-frames.ts';

const MAX_STREAMS = 50;

/** An app that counts the requests reaching it, answers GETs at once and holds everything else open. */
interface CountingApp {
  port: number;
  /** Requests whose head reached the app. */
  requests: number;
  /** Requests the app holds (not answered) and has not seen closed. */
  readonly held: Set<http.IncomingMessage>;
  /** Resolves with the next held request whose path is `path`. */
  nextHeld(path: string): Promise<http.IncomingMessage>;
  close(): Promise<void>;
}

async function startCountingApp(): Promise<CountingApp> {
  const waiting = new Map<string, (req: http.IncomingMessage) => void>();
  const app: CountingApp = {
    port: 0,
    requests: 0,
    held: new Set(),
    nextHeld: (path) => new Promise((resolve) => waiting.set(path, resolve)),
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    app.requests++;
    if (req.method === 'GET' && !req.url?.startsWith('/hold')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
      res.end('ok');
      return;
    }
    // Held: a POST whose body never ends, or /hold. Released only when the ingress lets go.
    app.held.add(req);
    req.socket.once('close', () => app.held.delete(req));
    req.resume();
    waiting.get(req.url ?? '')?.(req);
    waiting.delete(req.url ?? '');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  app.port = (server.address() as AddressInfo).port;
  app.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return app;
}

let gw: TestGateway;
let app: CountingApp;
let host: string;

before(async () => {
  app = await startCountingApp();
  gw = await startTestGateway({ http2: { maxConcurrentStreams: MAX_STREAMS } });
  await gw.createEnvironment('env1');
  host = await gw.putApp('counted', 'env1', { targetPort: app.port });
});

after(async () => {
  await gw?.close();
  await app?.close();
});

function connect(): http2.ClientHttp2Session {
  const session = http2.connect(`https://${host}:${gw.httpsPort}`, { host: '127.0.0.1', servername: host, ca: gw.caPem });
  session.on('error', () => {});
  return session;
}

/** A normal client: a GET on a connection of its own, answered within `ms`. */
const probe = (ms = 2_000) => h2Probe({ port: gw.httpsPort, host, ca: gw.caPem }, ms);

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const attacker = (options: { ackSettings?: boolean } = {}) => rawH2Connect({ port: gw.httpsPort, servername: host, ca: gw.caPem, ...options });

describe('HTTP/2: concurrent streams are bounded', () => {
  test('the SETTINGS frame advertises maxConcurrentStreams (Node http2 client)', async () => {
    const session = connect();
    try {
      await once(session, 'remoteSettings');
      assert.equal(session.remoteSettings.maxConcurrentStreams, MAX_STREAMS);
    } finally {
      session.destroy();
    }
  });

  test('one connection opening 3,000 POSTs without DATA: other clients are served during and after the attack', async () => {
    // The attacker reconnects whenever it is closed, for 1.5 s; a normal client probes meanwhile.
    const block = requestBlock('POST', host);
    let maxHeld = 0;
    let refused = 0;
    let connections = 0;
    const deadline = Date.now() + 1_500;
    let probing: Promise<number> | undefined;
    while (Date.now() < deadline) {
      // No SETTINGS ACK: nghttp2 refuses each stream past the bound (REFUSED_STREAM) instead of
      // closing the connection at once.
      const conn = await attacker({ ackSettings: false });
      connections++;
      try {
        // In writes of 100: one write of 3,000 overflows nghttp2's queue of RST_STREAM answers.
        for (let i = 0; i < 3_000 && !conn.socket.destroyed && Date.now() < deadline; i += 100) {
          conn.write(Buffer.concat(Array.from({ length: 100 }, (_, j) => headersFrame(1 + 2 * (i + j), block, false))));
          await new Promise((resolve) => setTimeout(resolve, 5));
          maxHeld = Math.max(maxHeld, app.held.size);
          probing ??= probe();
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
        maxHeld = Math.max(maxHeld, app.held.size);
      } finally {
        refused += conn.rstReceived;
        conn.close();
      }
    }
    assert.equal(await probing, 200, 'a normal client is answered during the attack');
    assert.ok(maxHeld > 0, 'the attack reached the app');
    // One attacker connection at a time; the one before may still be letting go of its streams.
    assert.ok(maxHeld <= 2 * MAX_STREAMS, `${maxHeld} requests held (bound ${MAX_STREAMS} per connection, ${connections} connections)`);
    assert.ok(refused > 0, 'streams past the bound were refused');
    // The attacker left: every request it had open is dropped at the app, and the app serves.
    await until(() => app.held.size === 0, 2_000, 'the held upstream requests are released');
    assert.equal(await probe(), 200, 'a normal client is answered after the attack');
  });

  test('the same after acknowledging the SETTINGS: the connection is closed (GOAWAY), nothing it opened is held', async () => {
    const conn = await attacker();
    await until(() => conn.settings.size > 0, 2_000, 'the server\'s SETTINGS');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const block = requestBlock('POST', host);
    const frames: Buffer[] = [];
    for (let i = 0; i < 3_000; i++) frames.push(headersFrame(1 + 2 * i, block, false));
    conn.write(Buffer.concat(frames));
    await Promise.race([conn.closed, new Promise((resolve) => setTimeout(resolve, 2_000))]);
    conn.close();
    assert.notEqual(conn.goaway, undefined, 'GOAWAY');
    await until(() => app.held.size === 0, 2_000, 'nothing held');
    assert.equal(await probe(), 200);
  });
});

describe('HTTP/2 rapid reset (CVE-2023-44487)', () => {
  test('HEADERS + RST_STREAM floods: GOAWAY ENHANCE_YOUR_CALM, few requests reach the app, others are served', async () => {
    const conn = await attacker();
    const block = requestBlock('GET', host);
    const before = app.requests;
    let opened = 0;
    let id = 1;
    const deadline = Date.now() + 3_000;
    const probing = probe();
    while (conn.goaway === undefined && !conn.socket.destroyed && Date.now() < deadline) {
      const frames: Buffer[] = [];
      for (let i = 0; i < 100; i++, id += 2, opened++) frames.push(headersFrame(id, block, true), rstStream(id));
      conn.write(Buffer.concat(frames));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.race([conn.closed, new Promise((resolve) => setTimeout(resolve, 500))]);
    conn.close();
    assert.equal(await probing, 200, 'a normal client is answered during the attack');
    const reached = app.requests - before - 1;
    assert.equal(conn.goaway, ENHANCE_YOUR_CALM, `GOAWAY code (opened ${opened} streams, ${reached} reached the app)`);
    assert.ok(reached < opened / 10, `${reached} of ${opened} reset streams reached the app`);
    assert.ok(
      gw.logs.some((line) => line['reason'] === 'h2_rapid_reset'),
      'the session close is logged with reason h2_rapid_reset',
    );
    assert.ok(gw.gateway.ingress.observer.refusals.recent(1_000).some((refusal) => refusal.reason === 'h2_rapid_reset'), 'and kept among the recent refusals (the refusals API)');
    assert.equal(await probe(), 200, 'a normal client is answered after the attack');
  });

  test('a client resetting streams a little after opening them (not in the same read) is closed too', async () => {
    const conn = await attacker();
    const block = requestBlock('GET', host, '/hold');
    const before = app.requests;
    let id = 1;
    let opened = 0;
    const deadline = Date.now() + 3_000;
    while (!conn.socket.destroyed && Date.now() < deadline) {
      const ids = Array.from({ length: 10 }, () => (id += 2));
      opened += ids.length;
      conn.write(Buffer.concat(ids.map((stream) => headersFrame(stream, block, true))));
      await new Promise((resolve) => setTimeout(resolve, 5));
      conn.write(Buffer.concat(ids.map((stream) => rstStream(stream))));
    }
    const closedByServer = conn.socket.destroyed;
    conn.close();
    assert.ok(closedByServer, `the server closed the connection (opened ${opened} streams, GOAWAY ${conn.goaway})`);
    assert.equal(conn.goaway, ENHANCE_YOUR_CALM, `GOAWAY code (${conn.rstReceived} RST_STREAM received)`);
    assert.ok(app.requests - before <= 2 * 100, `${app.requests - before} requests reached the app`);
    await until(() => app.held.size === 0, 2_000, 'the reset streams\' upstream requests are released');
  });
});

describe('HTTP/2: a reset stream releases its upstream connection', () => {
  test('the app holds the request, the client resets the stream: the app sees its connection closed at once', async () => {
    const session = connect();
    try {
      const held = app.nextHeld('/hold/reset');
      const stream = session.request({ ':path': '/hold/reset' });
      stream.on('error', () => {});
      const req = await held;
      const closed = once(req.socket, 'close');
      const start = performance.now();
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the app\'s connection stayed open')), 1_000))]);
      assert.ok(performance.now() - start < 1_000);
    } finally {
      session.destroy();
    }
  });
});

describe('HTTP/2 control-frame floods (PING, SETTINGS)', () => {
  for (const [kind, make] of [
    ['PING', () => frame(FRAME.PING, 0, 0, Buffer.alloc(8))],
    ['SETTINGS', () => frame(FRAME.SETTINGS, 0, 0)],
  ] as const) {
    test(`a ${kind} flood gets GOAWAY ENHANCE_YOUR_CALM and the connection closed; a few are fine; others are served`, async () => {
      // A handful, as normal clients send: the connection stays.
      const normal = await attacker();
      try {
        normal.write(Buffer.concat(Array.from({ length: 20 }, make)));
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(normal.goaway, undefined, 'twenty frames are not a flood');
        assert.ok(!normal.socket.destroyed);
      } finally {
        normal.close();
      }
      const flood = await attacker();
      try {
        for (let i = 0; i < 10 && !flood.socket.destroyed; i++) {
          flood.write(Buffer.concat(Array.from({ length: 100 }, make)));
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await Promise.race([flood.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the flooding connection is still open')), 3_000))]);
        assert.equal(flood.goaway, ENHANCE_YOUR_CALM);
        assert.ok(gw.logs.some((line) => line.reason === 'h2_control_flood'), 'logged with its reason');
        assert.ok(gw.gateway.ingress.observer.refusals.recent(1_000).some((refusal) => refusal.reason === 'h2_control_flood'), 'and kept among the recent refusals');
      } finally {
        flood.close();
      }
      assert.equal(await probe(), 200);
    });
  }
});
