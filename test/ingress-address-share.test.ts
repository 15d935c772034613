// The per-address share of an app's connections: many client connections, each within its
// per-connection share (slow uploads, HTTP/2 sessions full of POST streams without DATA, requests the
// app holds), must not take the whole app when they come from one address. The attacker connects
// from 127.0.0.2, the other client from 127.0.0.3 (loopback: Linux routes all of 127/8).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { sleep, waitUntil, type Answer } from './support/http-clients.ts';

const MAX_CONNECTIONS = 8;
const PER_CLIENT = 2;
const PER_ADDRESS = 4;

let gw: TestGateway;
let app: EchoApp;
let host: string;
/** Requests the app holds unanswered: GETs to /hold, and POSTs whose body never comes. */
const held = new Set<http.ServerResponse>();
/** Requests in progress at the app, by the address the ingress forwarded (X-Forwarded-For). */
const inFlight = new Set<http.IncomingMessage>();
const inFlightFrom = (address: string) => [...inFlight].filter((req) => req.headers['x-forwarded-for'] === address).length;

before(async () => {
  app = await startEchoApp((req, res) => {
    if (!req.url?.startsWith('/hold')) return false;
    held.add(res);
    res.once('close', () => held.delete(res));
    return true;
  });
  app.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    inFlight.add(req);
    res.once('close', () => inFlight.delete(req));
  });
  gw = await startTestGateway({
    upstream: {
      maxConnectionsPerApp: MAX_CONNECTIONS,
      maxConnectionsPerClient: PER_CLIENT,
      maxConnectionsPerAddress: PER_ADDRESS,
      queueTimeoutMs: 3_000,
      responseTimeoutMs: 10_000,
    },
  });
  await gw.createEnvironment('env1');
  host = await gw.putApp('shared', 'env1', { targetPort: app.port, clientCertificateMode: 'ignore' });
});

after(async () => {
  for (const res of held) res.end();
  await gw?.close();
  await app?.close();
});

/** An HTTP/1.1 request on a connection of its own, from `localAddress`. */
function h1From(localAddress: string, path: string, method = 'GET'): { answer: Promise<Answer>; request: http.ClientRequest } {
  const started = performance.now();
  let request!: http.ClientRequest;
  const answer = new Promise<Answer>((resolve) => {
    request = https.request(
      { host: '127.0.0.1', port: gw.httpsPort, servername: host, path, method, headers: { host }, ca: gw.caPem, agent: false, localAddress },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body, ms: performance.now() - started }));
        response.on('error', () => resolve({ status: 0, body, ms: 0 }));
      },
    );
    request.on('error', () => resolve({ status: 0, body: '', ms: 0 }));
  });
  return { answer, request };
}

/** An HTTP/2 session from `localAddress`. */
function h2From(localAddress: string): http2.ClientHttp2Session {
  const session = http2.connect(`https://${host}:${gw.httpsPort}`, {
    createConnection: () => tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername: host, ca: gw.caPem, ALPNProtocols: ['h2'], localAddress } as tls.ConnectionOptions),
  });
  session.on('error', () => {});
  return session;
}

test('many connections from one address, each within its share, hold at most the per-address share: another address is served at once', async () => {
  // Six HTTP/1.1 connections the app holds, and two HTTP/2 sessions of POST streams without DATA
  // (each session within its per-connection share): before the fix, all eight app connections.
  const h1 = Array.from({ length: 6 }, (_, i) => h1From('127.0.0.2', `/hold?i=${i}`));
  for (const { request } of h1) request.end();
  const sessions = Array.from({ length: 2 }, () => {
    return h2From('127.0.0.2');
  });
  const streams = sessions.flatMap((session) =>
    Array.from({ length: 20 }, (_, i) => {
      const stream = session.request({ ':path': `/hold-upload?i=${i}`, ':method': 'POST' }, { endStream: false });
      stream.on('error', () => {});
      return stream;
    }),
  );
  try {
    await waitUntil(() => inFlightFrom('127.0.0.2') >= PER_ADDRESS, 3_000, 'the attack reaches the app');
    await sleep(300);
    assert.equal(inFlightFrom('127.0.0.2'), PER_ADDRESS, `127.0.0.2 holds ${inFlightFrom('127.0.0.2')} app connections`);
    const other = h1From('127.0.0.3', '/fast');
    other.request.end();
    const answer = await Promise.race([other.answer, sleep(2_000).then((): Answer => assert.fail('the other address got no answer within 2 s'))]);
    assert.equal(answer.status, 200);
    // And over HTTP/2 from yet another address.
    const session = h2From('127.0.0.4');
    try {
      const status = await Promise.race([
        new Promise<number>((resolve) => {
          const stream = session.request({ ':path': '/fast' });
          stream.on('response', (headers) => resolve(Number(headers[':status'])));
          stream.on('error', () => resolve(0));
          stream.resume();
        }),
        sleep(2_000).then((): number => assert.fail('the HTTP/2 client got no answer within 2 s')),
      ]);
      assert.equal(status, 200);
    } finally {
      session.destroy();
    }
  } finally {
    for (const stream of streams) stream.destroy();
    for (const session of sessions) session.destroy();
    for (const { request } of h1) request.destroy();
  }
  await waitUntil(() => inFlightFrom('127.0.0.2') === 0, 2_000, 'the app connections are freed when the attacker leaves');
});
