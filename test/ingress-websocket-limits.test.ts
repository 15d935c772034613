// WebSocket tunnels are bounded: per client address at an app and per app (503 with a reason once
// full, while another client still gets through), in the time the app may take to answer the
// upgrade (504), and in idle time (the tunnel is closed). Small limits through IngressOptions.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { sleep, waitUntil } from './support/http-clients.ts';

const PER_CLIENT = 3;
const PER_APP = 5;
const HANDSHAKE_MS = 600;
const IDLE_MS = 800;

let gw: TestGateway;
let app: http.Server;
let host: string;
/** Tunnels the app holds open now. */
const tunnels = new Set<net.Socket>();
/** Upgrade requests to /silent the app holds unanswered now. */
const silent = new Set<net.Socket>();

before(async () => {
  app = http.createServer((_req, res) => res.end('plain'));
  app.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    // /silent: never answers the upgrade (the handshake deadline's case).
    socket.on('error', () => {});
    // A server closes its side when its peer does (upgraded sockets are half-open in Node).
    socket.on('end', () => socket.end());
    if (req.url === '/silent') {
      silent.add(socket);
      socket.on('close', () => silent.delete(socket));
      return;
    }
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    tunnels.add(socket);
    socket.on('close', () => tunnels.delete(socket));
    // An echo: what the client sends comes back.
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  gw = await startTestGateway({
    upstream: {
      websocketMaxTunnelsPerClient: PER_CLIENT,
      websocketMaxTunnelsPerApp: PER_APP,
      websocketHandshakeTimeoutMs: HANDSHAKE_MS,
      websocketIdleTimeoutMs: IDLE_MS,
    },
  });
  await gw.createEnvironment('env1');
  host = await gw.putApp('ws', 'env1', { targetPort: (app.address() as net.AddressInfo).port, clientCertificateMode: 'ignore' });
});

after(async () => {
  for (const socket of [...tunnels, ...silent]) socket.destroy();
  app?.closeAllConnections();
  await new Promise((resolve) => app?.close(resolve));
  await gw?.close();
});

interface Upgrade {
  socket: tls.TLSSocket;
  /** The status of the gateway's answer, and its whole text so far. */
  status: number;
  text: string;
}

/** A WebSocket upgrade from `localAddress`; resolves with the answer's status line (or 0 if closed first). */
async function upgrade(localAddress: string, path = '/ws'): Promise<Upgrade> {
  const tcp = net.connect({ host: '127.0.0.1', port: gw.httpsPort, localAddress });
  const socket = tls.connect({ socket: tcp, servername: host, ca: gw.caPem, ALPNProtocols: ['http/1.1'] });
  socket.on('error', () => {});
  await once(socket, 'secureConnect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  const result: Upgrade = { socket, status: 0, text: '' };
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      result.text += chunk.toString('latin1');
      if (result.text.includes('\r\n\r\n')) resolve();
    });
    socket.once('close', () => resolve());
  });
  result.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(result.text)?.[1] ?? 0);
  return result;
}

/** Whether an open tunnel still echoes. */
async function echoes(socket: tls.TLSSocket, text: string): Promise<boolean> {
  let seen = '';
  const onData = (chunk: Buffer) => (seen += chunk.toString('latin1'));
  socket.on('data', onData);
  socket.write(text);
  await waitUntil(() => seen.includes(text) || socket.destroyed, 3_000, 'the echo');
  socket.off('data', onData);
  return seen.includes(text);
}

test('tunnels from one client address past the bound get 503; another client still upgrades, and a closed tunnel frees its slot', async () => {
  const first = await Promise.all(Array.from({ length: PER_CLIENT + 3 }, () => upgrade('127.0.0.1')));
  const opened = first.filter((answer) => answer.status === 101);
  const refused = first.filter((answer) => answer.status === 503);
  assert.equal(opened.length, PER_CLIENT, first.map((answer) => answer.status).join(','));
  assert.equal(refused.length, 3);
  for (const answer of refused) assert.match(answer.text, /\(websocket_client_tunnels_full\)/);
  for (const answer of opened) assert.ok(await echoes(answer.socket, 'hello'), 'the tunnels that opened work');

  // Another client address (loopback is 127.0.0.0/8) has a share of its own.
  const other = await upgrade('127.0.0.2');
  assert.equal(other.status, 101, other.text);
  assert.ok(await echoes(other.socket, 'from another client'));
  // The app's bound (5): 3 + 1 open, one more from a third address fits, the next does not.
  const third = await upgrade('127.0.0.3');
  assert.equal(third.status, 101, third.text);
  const fourth = await upgrade('127.0.0.4');
  assert.equal(fourth.status, 503, fourth.text);
  assert.match(fourth.text, /\(websocket_tunnels_full\)/);
  assert.ok(gw.logs.some((line) => line.reason === 'websocket_tunnels_full'));
  assert.ok(gw.gateway.ingress.observer.refusals.recent(1_000).some((refusal) => refusal.reason === 'websocket_tunnels_full' && refusal.clientAddress === '127.0.0.4'), 'among the recent refusals');

  // A tunnel that closes gives its slot back.
  opened[0]!.socket.destroy();
  await waitUntil(() => tunnels.size === PER_APP - 1, 3_000, 'the app sees the tunnel close');
  const again = await upgrade('127.0.0.1');
  assert.equal(again.status, 101, again.text);
  for (const answer of [...opened, other, third, again]) answer.socket.destroy();
  await waitUntil(() => tunnels.size === 0, 3_000, 'every tunnel closed');
});

test('an idle tunnel is closed after the idle timeout; one that carries bytes stays open', async () => {
  const idle = await upgrade('127.0.0.5');
  // The idle clock started when the app answered the upgrade: measure from there, not after the second upgrade.
  const opened = performance.now();
  const busy = await upgrade('127.0.0.6');
  assert.equal(idle.status, 101);
  assert.equal(busy.status, 101);
  const idleClosed = once(idle.socket, 'close').then(() => performance.now() - opened);
  // The busy one sends a byte every 200 ms for twice the idle timeout.
  for (let elapsed = 0; elapsed < IDLE_MS * 2; elapsed += 200) {
    assert.ok(await echoes(busy.socket, '.'), 'the busy tunnel still echoes');
    await sleep(200);
  }
  const after = await idleClosed;
  assert.ok(after >= IDLE_MS - 150 && after < IDLE_MS + 1_500, `closed after ${Math.round(after)} ms`);
  assert.ok(!busy.socket.destroyed, 'the busy tunnel is open');
  assert.ok(gw.logs.some((line) => line.reason === 'websocket_idle_timeout'));
  busy.socket.destroy();
  await waitUntil(() => tunnels.size === 0, 3_000, 'every tunnel closed');
});

test('an app that never answers the upgrade: 504 after the handshake deadline, and the slot is freed', async () => {
  const started = performance.now();
  const answers = await Promise.all(Array.from({ length: PER_CLIENT }, () => upgrade('127.0.0.7', '/silent')));
  const elapsed = performance.now() - started;
  for (const answer of answers) {
    assert.equal(answer.status, 504, answer.text);
    assert.match(answer.text, /\(websocket_handshake_timeout\)/);
  }
  assert.ok(elapsed >= HANDSHAKE_MS - 50 && elapsed < HANDSHAKE_MS + 2_000, `answered after ${Math.round(elapsed)} ms`);
  // The app's connections of the abandoned handshakes are closed, and they took no slot with them.
  await waitUntil(() => silent.size === 0, 3_000, 'the abandoned handshakes closed at the app');
  const later = await upgrade('127.0.0.7');
  assert.equal(later.status, 101, later.text);
  later.socket.destroy();
});
