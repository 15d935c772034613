// An app that logs every byte it receives, for tests about what reaches an app unparsed. It answers
// each request head with 200 `ok`, except one that asks to upgrade: that gets 101 and from then on
// the connection is a raw tunnel (whatever comes is logged, nothing answered), as an app that
// speaks the upgraded protocol would be.
import net from 'node:net';

export interface RawUpstream {
  port: number;
  /** Every byte received, all connections, in arrival order (latin1). */
  log(): string;
  /** The request lines received (first line of each request head). */
  requestLines(): string[];
  close(): Promise<void>;
}

export async function startRawUpstream(): Promise<RawUpstream> {
  let log = '';
  const lines: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    let tunnel = false;
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      log += text;
      if (tunnel) return;
      pending += text;
      let end: number;
      while (!tunnel && (end = pending.indexOf('\r\n\r\n')) >= 0) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        lines.push(head.slice(0, head.indexOf('\r\n') >= 0 ? head.indexOf('\r\n') : head.length));
        const upgrade = /^upgrade:\s*(.+)$/im.exec(head);
        if (upgrade) {
          tunnel = true;
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${upgrade[1]!.trim()}\r\nconnection: upgrade\r\n\r\n`);
        } else {
          socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    log: () => log,
    requestLines: () => [...lines],
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
