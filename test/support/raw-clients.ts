// Hand-written HTTP/1.1 requests over TLS or plain TCP, for requests real clients will not send
// (forged header spellings, absolute-form targets, odd Upgrade tokens). Each resolves with the raw
// bytes the gateway sent back once it closes the connection (or after `waitMs`).
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

export interface RawOptions {
  port: number;
  /** TLS SNI; without it the request goes over plain TCP. */
  servername?: string;
  ca?: string;
  identity?: { certFile: string; keyFile: string };
  /** Give up waiting for the close after this long and resolve with what came (default 5 s). */
  waitMs?: number;
  /** Written once the first bytes of the answer came (what a client sends after a 101). */
  then?: string;
}

export function rawRequest(options: RawOptions, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket =
      options.servername === undefined
        ? net.connect({ host: '127.0.0.1', port: options.port })
        : tls.connect({
            host: '127.0.0.1',
            port: options.port,
            servername: options.servername,
            ca: options.ca,
            cert: options.identity ? readFileSync(options.identity.certFile) : undefined,
            key: options.identity ? readFileSync(options.identity.keyFile) : undefined,
            ALPNProtocols: ['http/1.1'],
          });
    let response = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(response);
    }, options.waitMs ?? 5_000);
    socket.on(options.servername === undefined ? 'connect' : 'secureConnect', () => socket.write(request));
    let then = options.then;
    socket.on('data', (chunk: Buffer) => {
      response += chunk.toString('latin1');
      if (then !== undefined) {
        socket.write(then);
        then = undefined;
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(response);
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (response) resolve(response);
      else reject(error);
    });
  });
}

/** The status code of a raw response. */
export function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
}

/** An HTTP/2 session to `host` on the gateway's HTTPS port (SNI = host), with an optional client certificate. */
export function h2Session(port: number, host: string, ca: string, identity?: { certFile: string; keyFile: string }): http2.ClientHttp2Session {
  return http2.connect(`https://${host}:${port}`, {
    host: '127.0.0.1',
    servername: host,
    ca,
    cert: identity ? readFileSync(identity.certFile) : undefined,
    key: identity ? readFileSync(identity.keyFile) : undefined,
  });
}
