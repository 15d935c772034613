// Open WebSocket tunnels follow policy changes: an upgrade is admitted like a request, but a tunnel
// lives on. When the configuration changes so that its upgrade request would no longer be admitted
// (an IP rule that now excludes the client, external: false, ignore -> require, allowInsecure off),
// the tunnel is closed; an unchanged app's tunnel stays open. A raw upstream answers 101 and logs
// every byte the tunnel carries.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import type { IngressSettings } from '../src/model/ingress.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { startRawUpstream, type RawUpstream } from './support/raw-upstream.ts';
import { sleep, waitUntil } from './support/http-clients.ts';

let gw: TestGateway;
let upstream: RawUpstream;

before(async () => {
  upstream = await startRawUpstream();
  gw = await startTestGateway();
  await gw.createEnvironment('env1');
});

after(async () => {
  await gw?.close();
  await upstream?.close();
});

const settings = (extra: Partial<IngressSettings> = {}): IngressSettings =>
  ({ targetPort: upstream.port, clientCertificateMode: 'ignore', allowInsecure: true, ...extra }) as IngressSettings;

/** A tunnel to `host` (TLS, or plain TCP), with bytes through it already seen by the app. */
async function openTunnel(host: string, plain = false): Promise<net.Socket> {
  const socket: net.Socket = plain
    ? net.connect({ host: '127.0.0.1', port: gw.httpPort })
    : tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername: host, ca: gw.caPem, ALPNProtocols: ['http/1.1'] });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once(plain ? 'connect' : 'secureConnect', resolve));
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  socket.write(`GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  await waitUntil(() => answer.includes('\r\n\r\n'), 3_000, 'the upgrade is answered');
  assert.match(answer, /^HTTP\/1\.1 101 /, answer);
  const marker = `through-${host}-${plain ? 'plain' : 'tls'}`;
  socket.write(marker);
  await waitUntil(() => upstream.log().includes(marker), 2_000, 'bytes through the tunnel reach the app');
  return socket;
}

const closedWithin = (socket: net.Socket, ms: number) =>
  socket.destroyed || socket.closed
    ? Promise.resolve()
    : Promise.race([new Promise<void>((resolve) => socket.once('close', () => resolve())), sleep(ms).then(() => assert.fail(`the tunnel is still open after ${ms} ms`))]);

for (const [change, next, plain] of [
  ['an IP rule that now excludes the client', () => settings({ ipSecurityRestrictions: [{ name: 'other', ipAddressRange: '10.0.0.0/8', action: 'Allow' }] }), false],
  ['external: false', () => settings({ external: false }), false],
  ['clientCertificateMode ignore -> require', () => settings({ clientCertificateMode: 'require' }), false],
  ['allowInsecure true -> false (plain-HTTP tunnel)', () => settings({ allowInsecure: false }), true],
  ['an IP rule that now excludes the client (plain-HTTP tunnel)', () => settings({ ipSecurityRestrictions: [{ name: 'other', ipAddressRange: '10.0.0.0/8', action: 'Allow' }] }), true],
] as const) {
  test(`an open tunnel is closed when the app's policy changes: ${change}; another app's tunnel stays open`, async () => {
    const name = `ws${Math.random().toString(36).slice(2, 8)}`;
    const host = await gw.putApp(name, 'env1', settings());
    const bystanderHost = await gw.putApp(`${name}b`, 'env1', settings());
    const tunnel = await openTunnel(host, plain);
    const bystander = await openTunnel(bystanderHost, plain);
    try {
      await gw.putApp(name, 'env1', next());
      await closedWithin(tunnel, 3_000);
      assert.ok(!bystander.destroyed, "an unchanged app's tunnel stays open");
      bystander.write(`still-${name}`);
      await waitUntil(() => upstream.log().includes(`still-${name}`), 2_000, 'the other tunnel still carries bytes');
    } finally {
      tunnel.destroy();
      bystander.destroy();
    }
  });
}
