import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { LingeringCloses } from './lingering-close.ts';

const vectors = new URL('../../../test/fixtures/xfcc-vectors/', import.meta.url);
const secureContext = tls.createSecureContext({ cert: readFileSync(new URL('self.pem', vectors)), key: readFileSync(new URL('self.key', vectors)) });

/**
 * A server failing every handshake as `require` does with no certificate (the listener's own
 * wiring: a TLSSocket over the accepted TCP socket), its lingering closes in `closes`.
 */
async function requireServer(closes: LingeringCloses, others: LingeringCloses[] = [], afterFailure?: () => void) {
  const failures: Error[] = [];
  /** How many sockets lingered in `closes`, and in `others`, just after each failure. */
  const lingeringAfterFailure: number[][] = [];
  const server = net.createServer((raw) => {
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext, requestCert: true, rejectUnauthorized: true });
    closes.onHandshakeFailure(socket, raw, (error) => {
      failures.push(error);
      // The linger starts once this returns, before any further I/O.
      queueMicrotask(() => {
        lingeringAfterFailure.push([closes.size, ...others.map((other) => other.size)]);
        afterFailure?.();
      });
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, failures, lingeringAfterFailure, close: () => server.close() };
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition());
};

test("a failed handshake lingers in its own ingress's set until the client closes; another ingress's stays empty", async () => {
  const closes = new LingeringCloses({ ms: 10_000, bytes: 1024 });
  const other = new LingeringCloses();
  const server = await requireServer(closes, [other]);
  try {
    const client = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false });
    const alert = new Promise<Error>((resolve) => client.on('error', resolve));
    // TLS 1.3: the client is done with its side first, and sends at once what a request would be.
    await once(client, 'secureConnect');
    client.write('GET / HTTP/1.1\r\n\r\n');
    // The client read the alert that says why (not a reset), and closed: the linger ends.
    assert.match((await alert).message, /certificate required|alert number 116/);
    assert.deepEqual(server.lingeringAfterFailure, [[1, 0]]);
    await until(() => closes.size === 0);
  } finally {
    closes.close();
    server.close();
  }
});

test('shutdown ends every linger at once', async () => {
  const closes = new LingeringCloses({ ms: 60_000, bytes: 1024 });
  const sizes: number[] = [];
  const server = await requireServer(closes, [], () => {
    sizes.push(closes.size);
    closes.close();
    sizes.push(closes.size);
  });
  const client = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false });
  client.on('error', () => {});
  try {
    await once(client, 'secureConnect');
    client.write('x');
    await until(() => sizes.length === 2);
    assert.deepEqual(sizes, [1, 0]);
  } finally {
    client.destroy();
    server.close();
  }
});
