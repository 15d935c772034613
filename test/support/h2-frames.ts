// A raw HTTP/2 client for abuse tests: hand-built frames over a real TLS connection (ALPN h2), so a
// test can send what no well-behaved client library would (thousands of streams past the
// advertised limit, HEADERS and RST_STREAM back to back), and read what the server answers.
import tls from 'node:tls';
import { once } from 'node:events';

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;
export const CANCEL = 0x8;
export const ENHANCE_YOUR_CALM = 0xb;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/** A literal header field without indexing; `nameIndex` names a static-table entry, else the name is literal. */
function literal(name: string | number, value: string): Buffer {
  const v = Buffer.from(value, 'latin1');
  if (v.length > 126) throw new Error('value too long for this encoder');
  if (typeof name === 'number') return Buffer.concat([Buffer.from([name]), Buffer.from([v.length]), v]);
  const n = Buffer.from(name, 'latin1');
  return Buffer.concat([Buffer.from([0, n.length]), n, Buffer.from([v.length]), v]);
}

/** An HPACK block for a request (static-table indexes only, no Huffman, no dynamic table). */
export function requestBlock(method: 'GET' | 'POST', authority: string, path = '/'): Buffer {
  return Buffer.concat([
    Buffer.from([method === 'GET' ? 0x82 : 0x83, 0x87 /* :scheme https */]),
    path === '/' ? Buffer.from([0x84]) : literal(4, path),
    literal(1, authority),
  ]);
}

export function headersFrame(streamId: number, block: Buffer, endStream: boolean): Buffer {
  return frame(FRAME.HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), streamId, block);
}

export function rstStream(streamId: number, code = CANCEL): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, payload);
}

export interface RawH2Connection {
  socket: tls.TLSSocket;
  /** The server's SETTINGS (identifier → value), once received. */
  settings: Map<number, number>;
  /** GOAWAY's error code, once received. */
  goaway: number | undefined;
  rstReceived: number;
  headersReceived: number;
  closed: Promise<void>;
  write(data: Buffer): boolean;
  close(): void;
}

/**
 * Connects, sends the preface and an empty SETTINGS, and ACKs the server's SETTINGS unless told not
 * to (before the ACK nghttp2 refuses streams past its limit one by one; after it, it closes the
 * connection).
 */
export async function rawH2Connect(options: { port: number; servername: string; ca: string; ackSettings?: boolean }): Promise<RawH2Connection> {
  const socket = tls.connect({ host: '127.0.0.1', port: options.port, servername: options.servername, ca: options.ca, ALPNProtocols: ['h2'] });
  socket.on('error', () => {});
  await once(socket, 'secureConnect');
  if (socket.alpnProtocol !== 'h2') throw new Error(`ALPN chose ${socket.alpnProtocol}`);
  const connection: RawH2Connection = {
    socket,
    settings: new Map(),
    goaway: undefined,
    rstReceived: 0,
    headersReceived: 0,
    closed: new Promise<void>((resolve) => socket.once('close', () => resolve())),
    write: (data) => !socket.destroyed && socket.write(data),
    close: () => socket.destroy(),
  };
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      const type = pending[3]!;
      const flags = pending[4]!;
      const payload = pending.subarray(9, 9 + length);
      pending = pending.subarray(9 + length);
      if (type === FRAME.SETTINGS && !(flags & ACK)) {
        for (let i = 0; i + 6 <= payload.length; i += 6) connection.settings.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2));
        if (options.ackSettings !== false) connection.write(frame(FRAME.SETTINGS, ACK, 0));
      } else if (type === FRAME.GOAWAY) {
        connection.goaway = payload.readUInt32BE(4);
      } else if (type === FRAME.RST_STREAM) {
        connection.rstReceived++;
      } else if (type === FRAME.HEADERS) {
        connection.headersReceived++;
      }
    }
  });
  socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(FRAME.SETTINGS, 0, 0)]));
  return connection;
}
