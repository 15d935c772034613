// The PROXY-protocol stage of the accept path, on listeners where it is turned on: only trusted
// sources (the load balancers) may connect, each must send a valid header first, within a bounded
// size and time, and the client address it names replaces the socket's for IP restrictions,
// X-Forwarded-For and logs. Anything else closes the connection before a byte reaches TLS or HTTP:
// an untrusted client could otherwise claim any address and walk past an app's Allow list.
import type net from 'node:net';
import type { Logger } from 'pino';
import type { IngressObserver } from '../../observe/observer.ts';
import { parseProxyHeader } from './proxy-protocol.ts';
import type { ProxyProtocolReason } from '../reasons.ts';

/** Listener groups the PROXY protocol can be turned on for (`internal`: both internal ports). */
export const PROXY_PROTOCOL_LISTENERS = ['https', 'http', 'internal'] as const;
export type ProxyProtocolListener = (typeof PROXY_PROTOCOL_LISTENERS)[number];

export interface ProxyProtocolLimits {
  /** The whole header must arrive within this time (a balancer sends it at once). */
  readonly headerTimeoutMs: number;
  /** A v2 header's size bound (TLVs included); a v1 line is at most 107 bytes anyway. */
  readonly maxHeaderBytes: number;
}

export const DEFAULT_PROXY_PROTOCOL_LIMITS: ProxyProtocolLimits = Object.freeze({ headerTimeoutMs: 5_000, maxHeaderBytes: 4_096 });

export interface ProxyProtocolSettings extends ProxyProtocolLimits {
  /** Whether a connection from this (socket) address may speak the PROXY protocol. */
  readonly trusted: (address: string) => boolean;
}

/**
 * Reads the header, then calls `next` with the client's address and the socket paused at the first
 * byte after the header (`next` attaches its reader, then the socket is resumed).
 */
export function readProxyHeader(
  socket: net.Socket,
  settings: ProxyProtocolSettings,
  log: Logger,
  listener: string,
  next: (clientAddress: string) => void,
  observer?: Pick<IngressObserver, 'refusal'>,
): void {
  const peer = socket.remoteAddress ?? '';
  if (!settings.trusted(peer)) {
    log.info({ client: peer, listener, reason: 'proxy_protocol_untrusted_source' }, 'connection closed: PROXY protocol from an untrusted source');
    observer?.refusal({ reason: 'proxy_protocol_untrusted_source', clientAddress: peer, listener });
    socket.destroy();
    return;
  }
  let received: Buffer = Buffer.alloc(0);
  const fail = (reason: ProxyProtocolReason) => {
    cleanup();
    log.info({ client: peer, listener, reason }, 'connection closed: no valid PROXY protocol header');
    observer?.refusal({ reason, clientAddress: peer, listener });
    socket.destroy();
  };
  const timer = setTimeout(() => fail('proxy_protocol_timeout'), settings.headerTimeoutMs);
  const onData = (chunk: Buffer) => {
    // Headers are small: a copy per chunk costs nothing next to the bound.
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    const header = parseProxyHeader(received, settings.maxHeaderBytes);
    if (header.status === 'incomplete') {
      if (received.length >= settings.maxHeaderBytes) fail('proxy_protocol_too_long');
      return;
    }
    if (header.status === 'error') {
      fail(header.reason);
      return;
    }
    cleanup();
    socket.pause();
    if (received.length > header.length) socket.unshift(received.subarray(header.length));
    next(header.source?.address ?? peer);
    socket.resume();
  };
  const onClose = () => cleanup();
  const onError = (error: NodeJS.ErrnoException) => {
    cleanup();
    log.info({ client: peer, listener, reason: 'proxy_protocol_socket_error', cause: error.code ?? error.message }, 'connection closed: no valid PROXY protocol header');
    observer?.refusal({ reason: 'proxy_protocol_socket_error', clientAddress: peer, listener, cause: error.code ?? error.message });
    socket.destroy();
  };
  function cleanup() {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
    socket.off('error', onError);
  }
  socket.on('data', onData);
  socket.on('close', onClose);
  socket.on('error', onError);
}
