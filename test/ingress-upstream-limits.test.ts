// The app's upstream pool under floods: one client connection holds at most its share of the app's
// connections, the queue of waiting requests is bounded and has a deadline (503 queue_full /
// queue_timeout, never a hang), requests whose client left leave the queue at once, and the app
// answers at once when a flood stops. Small limits keep every flood under a few seconds.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import type tls from 'node:tls';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { h1Request, h2Request, h2Session, sleep, tlsConnect, waitUntil, type Answer } from './support/http-clients.ts';

const MAX_CONNECTIONS = 8;
const PER_CLIENT = 2;
const MAX_QUEUED = 12;
const QUEUED_PER_CLIENT = 4;
const QUEUE_TIMEOUT_MS = 1_000;

let gw: TestGateway;
let app: EchoApp;
let host: string;
/** While true, the app keeps requests to /hold unanswered (they hold their connection). */
let holding = true;
const held = new Set<http.ServerResponse>();
/** Requests to /hold the app holds now, by their `who` parameter. */
const heldBy = (who: string) => [...held].filter((res) => res.req.url?.includes(`who=${who}`)).length;
let appConnections = 0;

function release(): void {
  holding = false;
  for (const res of held) res.end('released');
  held.clear();
}

before(async () => {
  app = await startEchoApp((req, res) => {
    if (!req.url?.startsWith('/hold') || !holding) return false;
    held.add(res);
    res.once('close', () => held.delete(res));
    return true;
  });
  app.server.on('connection', () => appConnections++);
  gw = await startTestGateway({
    upstream: {
      maxConnectionsPerApp: MAX_CONNECTIONS,
      maxConnectionsPerClient: PER_CLIENT,
      // Every client here is 127.0.0.1; the per-address share is ingress-address-share.test.ts's.
      maxConnectionsPerAddress: MAX_CONNECTIONS,
      maxQueuedPerApp: MAX_QUEUED,
      maxQueuedPerClient: QUEUED_PER_CLIENT,
      queueTimeoutMs: QUEUE_TIMEOUT_MS,
      responseTimeoutMs: 10_000,
    },
  });
  await gw.createEnvironment('env1');
  host = await gw.putApp('pooled', 'env1', { targetPort: app.port, clientCertificateMode: 'ignore' });
});

after(async () => {
  release();
  await gw?.close();
  await app?.close();
});

beforeEach(() => {
  holding = true;
});

const reason = (answer: Answer) => /\((\w+)\)\s*$/.exec(answer.body)?.[1];

test('one HTTP/2 connection with many streams holds at most its share of the app; other clients are answered at once', async () => {
  const session = h2Session(gw, host);
  try {
    const flood = Array.from({ length: 30 }, (_, i) => h2Request(session, `/hold?who=h2flood&i=${i}`).answer);
    await waitUntil(() => heldBy('h2flood') >= PER_CLIENT, 3_000, 'the flood reaches the app');
    await sleep(200);
    assert.equal(heldBy('h2flood'), PER_CLIENT, `one connection holds ${PER_CLIENT} of the app's ${MAX_CONNECTIONS} connections`);

    // Another client, HTTP/1.1 and HTTP/2, is served at once while the flood waits.
    const other = await h1Request(gw, host, '/fast');
    assert.equal(other.status, 200);
    assert.ok(other.ms < 1_500, `another client answered after ${Math.round(other.ms)} ms`);
    const otherSession = h2Session(gw, host);
    try {
      const second = await h2Request(otherSession, '/fast').answer;
      assert.equal(second.status, 200);
      assert.ok(second.ms < 1_500, `another HTTP/2 client answered after ${Math.round(second.ms)} ms`);
    } finally {
      otherSession.close();
    }

    release();
    const answers = await Promise.all(flood);
    const ok = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 503 && reason(a) === 'queue_full').length;
    // Its own queue (requests waiting for a new connection count in it) and at most its share on
    // connections; the rest refused at once rather than kept waiting.
    assert.ok(ok >= QUEUED_PER_CLIENT && ok <= PER_CLIENT + QUEUED_PER_CLIENT, JSON.stringify(answers.map((a) => a.status)));
    assert.equal(refused, 30 - ok);
  } finally {
    session.close();
  }
});

test('one HTTP/1.1 connection pipelining many requests holds at most its share of the app', async () => {
  const socket = await tlsConnect(gw, host);
  try {
    let request = '';
    for (let i = 0; i < 20; i++) request += `GET /hold?who=pipe&i=${i} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    socket.write(request);
    await waitUntil(() => heldBy('pipe') >= 1, 3_000, 'the pipelined requests reach the app');
    await sleep(300);
    assert.ok(heldBy('pipe') <= PER_CLIENT, `one connection holds ${heldBy('pipe')} app connections`);
    const other = await h1Request(gw, host, '/fast');
    assert.equal(other.status, 200);
    assert.ok(other.ms < 1_500, `another client answered after ${Math.round(other.ms)} ms`);
  } finally {
    socket.destroy();
  }
  await waitUntil(() => heldBy('pipe') === 0, 2_000, 'the app connections are freed when the client leaves');
});

/** `count` HTTP/1.1 requests to /hold, each on a connection of its own (each its own client). */
function holders(who: string, count: number, sockets?: tls.TLSSocket[]): Promise<Answer>[] {
  return Array.from({ length: count }, (_, i) =>
    h1Request(gw, host, `/hold?who=${who}&i=${i}`, { onSocket: (socket) => sockets?.push(socket) }).catch(() => ({ status: 0, body: '', ms: 0 })),
  );
}

test('the queue is bounded (503 queue_full at once) and has a deadline (503 queue_timeout), then the app answers at once', async () => {
  const inFlight = holders('busy', MAX_CONNECTIONS);
  await waitUntil(() => heldBy('busy') === MAX_CONNECTIONS, 3_000, 'every app connection is busy');
  const queued = holders('queued', MAX_QUEUED);
  await sleep(300);

  const full = await h1Request(gw, host, '/hold?who=late');
  assert.equal(full.status, 503);
  assert.equal(reason(full), 'queue_full', full.body);
  assert.ok(full.ms < 1_000, `refused after ${Math.round(full.ms)} ms`);

  const timedOut = await Promise.all(queued);
  for (const answer of timedOut) {
    assert.equal(answer.status, 503, answer.body);
    assert.equal(reason(answer), 'queue_timeout', answer.body);
    assert.ok(answer.ms >= QUEUE_TIMEOUT_MS - 50 && answer.ms < QUEUE_TIMEOUT_MS + 1_500, `queue_timeout after ${Math.round(answer.ms)} ms`);
  }
  assert.equal(heldBy('queued'), 0, 'no request that timed out in the queue reached the app');

  release();
  for (const answer of await Promise.all(inFlight)) assert.equal(answer.status, 200);
  const afterwards = await h1Request(gw, host, '/fast');
  assert.equal(afterwards.status, 200);
  assert.ok(afterwards.ms < 1_500, `answered ${Math.round(afterwards.ms)} ms after the flood`);
});

test('a request whose client left while it waited leaves the queue at once', async () => {
  const inFlight = holders('busy2', MAX_CONNECTIONS);
  await waitUntil(() => heldBy('busy2') === MAX_CONNECTIONS, 3_000, 'every app connection is busy');
  const sockets: tls.TLSSocket[] = [];
  const gone = holders('gone', MAX_QUEUED, sockets);
  await waitUntil(() => sockets.length === MAX_QUEUED, 2_000, 'the queued clients connected');
  await sleep(300);
  for (const socket of sockets) socket.destroy();
  await Promise.all(gone);
  await sleep(100);

  // The queue has room again (the clients that left are not counted), and these are served first.
  const waiting = holders('next', MAX_QUEUED);
  await sleep(300);
  release();
  for (const answer of await Promise.all(waiting)) assert.equal(answer.status, 200, answer.body);
  for (const answer of await Promise.all(inFlight)) assert.equal(answer.status, 200);
  assert.equal(app.received.filter((r) => r.url.includes('who=gone')).length, 0, 'nothing of the clients that left reached the app');
});

test('after a flood from many clients stops, the pool opens connections for the waiting work at once', async () => {
  const sockets: tls.TLSSocket[] = [];
  const flood = holders('flood', MAX_CONNECTIONS, sockets);
  await waitUntil(() => heldBy('flood') === MAX_CONNECTIONS, 3_000, 'every app connection is busy');
  // A client waiting behind the flood; then the attackers leave.
  holding = false;
  const waiting = Array.from({ length: 4 }, (_, i) => h1Request(gw, host, `/fast?i=${i}`));
  await sleep(200);
  const connectionsBefore = appConnections;
  for (const socket of sockets) socket.destroy();
  await Promise.all(flood);
  const answers = await Promise.all(waiting);
  for (const answer of answers) {
    assert.equal(answer.status, 200);
    assert.ok(answer.ms < 2_000, `served ${Math.round(answer.ms)} ms after it was sent`);
  }
  assert.ok(appConnections - connectionsBefore <= 4, 'no more new connections than waiting requests');
});
