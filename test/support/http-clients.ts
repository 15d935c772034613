// Node's own HTTPS clients against a test gateway (HTTP/1.1 over a fresh TLS connection, HTTP/2
// sessions, raw TLS sockets for hand-made bytes), for the abuse and limits tests.
import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import type { TestGateway } from './gateway.ts';

export interface Answer {
  status: number;
  body: string;
  /** From the request to the end of the answer. */
  ms: number;
}

/** One HTTP/1.1 request on a connection of its own (`agent: false`); `socket` lets a test drop it. */
export function h1Request(
  gw: TestGateway,
  host: string,
  path: string,
  options: { method?: string; body?: string; onSocket?: (socket: tls.TLSSocket) => void } = {},
): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        port: gw.httpsPort,
        servername: host,
        path,
        method: options.method ?? 'GET',
        headers: { host },
        ca: gw.caPem,
        agent: false,
        ALPNProtocols: ['http/1.1'],
      } as https.RequestOptions,
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body, ms: performance.now() - started }));
        response.on('error', reject);
      },
    );
    request.on('socket', (socket) => options.onSocket?.(socket as tls.TLSSocket));
    request.on('error', reject);
    request.end(options.body);
  });
}

export function h2Session(gw: TestGateway, host: string): http2.ClientHttp2Session {
  const session = http2.connect(`https://${host}:${gw.httpsPort}`, { host: '127.0.0.1', servername: host, ca: gw.caPem });
  session.on('error', () => {});
  return session;
}

/** A normal client: a GET on a new HTTP/2 connection of its own, answered within `ms`; resolves with the status. */
export async function h2Probe(target: { port: number; host: string; ca: string | Buffer }, ms = 2_000): Promise<number> {
  const session = http2.connect(`https://${target.host}:${target.port}`, { host: '127.0.0.1', servername: target.host, ca: target.ca });
  session.on('error', () => {});
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      const stream = session.request({ ':path': '/probe' });
      stream.on('response', (headers) => {
        clearTimeout(timer);
        resolve(Number(headers[':status']));
      });
      stream.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      stream.resume();
    });
  } finally {
    session.destroy();
  }
}

/** A stream on `session`; with `endStream: false` the request stays open (headers, no DATA). */
export function h2Request(
  session: http2.ClientHttp2Session,
  path: string,
  options: { method?: string; endStream?: boolean } = {},
): { stream: http2.ClientHttp2Stream; answer: Promise<Answer> } {
  const started = performance.now();
  const stream = session.request({ ':path': path, ':method': options.method ?? 'GET' }, { endStream: options.endStream ?? true });
  const answer = new Promise<Answer>((resolve) => {
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: string) => (body += chunk));
    // The answer is complete at its end, even if the request is still open (an early answer); a
    // reset stream answers status 0 (or the status it had): the caller judges.
    const done = () => resolve({ status, body, ms: performance.now() - started });
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', () => {});
  });
  return { stream, answer };
}

/** A TLS connection (ALPN http/1.1) to `host`, for writing hand-made HTTP/1.1 bytes. */
export function tlsConnect(gw: TestGateway, host: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername: host, ca: gw.caPem, ALPNProtocols: ['http/1.1'] });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 20 ms; fails with `what` after `ms`. */
export async function waitUntil(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(20);
  }
}
