// A TCP forwarder standing in for an L4 load balancer in front of replicas: one address for the
// clients, and the test chooses which replica the next connection reaches.
import net from 'node:net';

export interface Forwarder {
  readonly port: number;
  /** Where new connections go (host, port). */
  target: { host: string; port: number };
  close(): Promise<void>;
}

export async function startForwarder(target: { host: string; port: number }): Promise<Forwarder> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(forwarder.target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const forwarder: Forwarder = {
    port: (server.address() as net.AddressInfo).port,
    target,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return forwarder;
}
