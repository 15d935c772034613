// One real connection on loopback, for unit tests of code that holds the server's side of it.
import { once } from 'node:events';
import type net from 'node:net';

/**
 * Listens on an ephemeral loopback port, connects with `connect(port)`, and returns the server's
 * side of the connection once `event` ('connection', or 'secureConnection' for TLS) gave it.
 */
export async function serverSide<S extends net.Socket>(
  server: net.Server,
  event: 'connection' | 'secureConnection',
  connect: (port: number) => net.Socket,
): Promise<{ socket: S; close(): void }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, event) as Promise<[S]>;
  const client = connect((server.address() as net.AddressInfo).port);
  client.on('error', () => {});
  const [socket] = await accepted;
  return {
    socket,
    close() {
      client.destroy();
      socket.destroy();
      server.close();
    },
  };
}
