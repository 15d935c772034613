// A TLS policy (ingress/snapshot.ts) served as the listener serves it, a TLSSocket over each
// accepted socket, answering "ok"; and one TLS 1.3 client connection to it, with its session
// ticket. For the ticket-key tests and bench/ticket-keys.ts.
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { TlsPolicy } from '../../src/ingress/snapshot.ts';

export async function servePolicy(policy: TlsPolicy): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((raw) => {
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: policy.secureContext });
    socket.on('error', () => socket.destroy());
    socket.on('secure', () => socket.end('ok'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** Whether it resumed `session`, and the first ticket the server gave (none when it resumed under the current key). */
export async function connectTls13(port: number, servername: string, session?: Buffer): Promise<{ reused: boolean; ticket: Buffer | undefined }> {
  const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, minVersion: 'TLSv1.3', ...(session ? { session } : {}) });
  let ticket: Buffer | undefined;
  socket.on('session', (value: Buffer) => (ticket ??= value));
  await once(socket, 'secureConnect');
  const reused = socket.isSessionReused();
  socket.resume();
  await once(socket, 'close');
  return { reused, ticket };
}
