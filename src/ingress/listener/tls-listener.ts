// The bytes and TLS stages. Each TCP connection's ClientHello is read (bounded in size and time)
// to learn the SNI before any TLS is spoken; the SNI picks the app's route and with it the TLS
// policy, so each app's client-certificate mode is enforced in its own handshake on the shared port.
import { performance } from 'node:perf_hooks';
import net from 'node:net';
import tls from 'node:tls';
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Logger } from 'pino';
import { readClientHello } from './clienthello.ts';
import { peerChain, rfc9440Headers, type ClientCertificateHeaders, type PeerChain } from './client-certificate.ts';
import { NONE, type ConnectionDecision, type ConnectionVerdicts } from '../verify/verdicts.ts';
import { attachConnectionState, type ConnectionState } from './connection.ts';
import type { LingeringCloses } from './lingering-close.ts';
import { readProxyHeader, type ProxyProtocolSettings } from './proxy-accept.ts';
import type { IngressObserver } from '../../observe/observer.ts';
import { connectionVerdict } from '../../observe/verdict.ts';
import { handshakeFailureReason, type IngressReason } from '../reasons.ts';
import { environmentDomainOf, routesFor, type ListenerKind, type Route, type RouteSnapshot } from '../snapshot.ts';

export interface TlsListenerLimits {
  /** The whole ClientHello must arrive within this time. */
  readonly clientHelloTimeoutMs: number;
  readonly maxClientHelloBytes: number;
  /** From the ClientHello to a finished handshake. */
  readonly handshakeTimeoutMs: number;
}

export const DEFAULT_TLS_LIMITS: TlsListenerLimits = Object.freeze({
  clientHelloTimeoutMs: 10_000,
  maxClientHelloBytes: 16_384,
  handshakeTimeoutMs: 10_000,
});

/** ALPN in wire format (length-prefixed names), made once rather than for every connection. */
const ALPN_PROTOCOLS = Buffer.from([2, ...Buffer.from('h2'), 8, ...Buffer.from('http/1.1')]);

export interface TlsListenerDeps {
  readonly snapshot: () => RouteSnapshot;
  readonly http1: http.Server;
  readonly http2: http2.Http2Server;
  readonly log: Logger;
  readonly limits: TlsListenerLimits;
  /** Every live TLS socket, for draining on shutdown. */
  readonly sockets: Set<net.Socket>;
  /** Which apps this listener serves (internal: all; external: external apps only). */
  readonly listener: ListenerKind;
  /** The listener's name in logs (`https`, `internal-https`). */
  readonly name: string;
  /** Set when the listener expects a PROXY-protocol header before the ClientHello. */
  readonly proxyProtocol: ProxyProtocolSettings | undefined;
  /** The ingress's X-Forwarded-Client-Cert values (one cache per ingress, bounded). */
  readonly clientCertificates: ClientCertificateHeaders;
  /** The ingress's lingering closes after failed handshakes. */
  readonly lingering: LingeringCloses;
  /** The ingress's client-certificate verdicts (one cache per ingress, bounded). */
  readonly verdicts: ConnectionVerdicts;
  /** Metrics, access log and recent refusals (src/observe/). */
  readonly observer: IngressObserver;
}

/**
 * A TLS alert record, fatal `access_denied` (49), sent in the clear before any handshake: a client
 * an app's IP restrictions refuse learns why (curl: "tlsv1 alert access denied") at no TLS cost.
 */
const ACCESS_DENIED_ALERT = Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x31]);

export function createTlsListener(deps: TlsListenerDeps): net.Server {
  const server = net.createServer({ pauseOnConnect: false, noDelay: true }, (socket) => {
    if (deps.proxyProtocol) readProxyHeader(socket, deps.proxyProtocol, deps.log, deps.name, (client) => acceptConnection(deps, socket, client), deps.observer);
    else acceptConnection(deps, socket, socket.remoteAddress ?? '');
  });
  // Errors while starting to listen are the caller's (listen rejects); later ones are logged.
  server.on('error', (error) => {
    if (server.listening) deps.log.error({ err: error }, 'HTTPS listener error');
  });
  return server;
}

function acceptConnection(deps: TlsListenerDeps, socket: net.Socket, peer: string): void {
  const { log, limits } = deps;
  // One buffer for the whole hello: appending costs only the new bytes, however they trickle in.
  let buffer: Buffer | undefined;
  let length = 0;
  const fail = (reason: IngressReason, message: string, cause?: string) => {
    cleanup();
    log.info({ client: peer, reason, message, ...(cause === undefined ? {} : { cause }) }, 'connection closed before TLS');
    deps.observer.refusal({ reason, clientAddress: peer, cause, listener: deps.name });
    socket.destroy();
  };
  const timer = setTimeout(() => fail('clienthello_timeout', 'ClientHello not received in time'), limits.clientHelloTimeoutMs);
  const onData = (chunk: Buffer) => {
    if (length + chunk.length > limits.maxClientHelloBytes) {
      fail('clienthello_too_large', `ClientHello larger than ${limits.maxClientHelloBytes} bytes`);
      return;
    }
    let received: Buffer;
    if (length === 0) {
      // The usual case: the whole hello in the first chunk, read in place (no copy).
      received = chunk;
    } else {
      buffer ??= Buffer.allocUnsafe(limits.maxClientHelloBytes);
      chunk.copy(buffer, length);
      received = buffer.subarray(0, length + chunk.length);
    }
    const hello = readClientHello(received, limits.maxClientHelloBytes);
    if (hello.status === 'incomplete') {
      if (length === 0) {
        // Keep what came so far: the next chunk is appended to it.
        buffer = Buffer.allocUnsafe(limits.maxClientHelloBytes);
        chunk.copy(buffer, 0);
      }
      length += chunk.length;
      return;
    }
    if (hello.status === 'error') {
      fail(hello.reason, hello.message);
      return;
    }
    cleanup();
    socket.pause();
    // Give the bytes back: the TLS socket reads the ClientHello from the socket's buffer. A chunk
    // read in place is the socket's own; the reassembly buffer is copied out (it is not kept).
    socket.unshift(received === chunk ? chunk : Buffer.from(received));
    startTls(deps, socket, hello.serverName, peer);
  };
  const onEarlyClose = () => cleanup();
  const onEarlyError = (error: NodeJS.ErrnoException) => fail('client_socket_error', 'socket error', error.code ?? error.message);
  function cleanup() {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onEarlyClose);
    socket.off('error', onEarlyError);
  }
  socket.on('data', onData);
  socket.on('close', onEarlyClose);
  socket.on('error', onEarlyError);
}

function startTls(deps: TlsListenerDeps, socket: net.Socket, servername: string | undefined, peer: string): void {
  const snapshot = deps.snapshot();
  const route: Route | undefined = servername === undefined ? undefined : routesFor(snapshot, deps.listener).get(servername);
  // IP restrictions, once per connection, before the handshake does any work for the app.
  if (route?.app.ipRules && !route.app.ipRules.allows(peer)) {
    deps.log.info({ client: peer, servername, app: route.app.id, reason: 'ip_forbidden' }, 'connection refused by the app\'s IP restrictions');
    deps.observer.refusal({ reason: 'ip_forbidden', clientAddress: peer, app: route.app, servername, listener: deps.name });
    socket.end(ACCESS_DENIED_ALERT);
    // The alert is tiny; a client that does not read it is not waited for.
    setTimeout(() => socket.destroy(), 1_000).unref();
    return;
  }
  // A name under an environment's domain that no app claims (a typo, a deleted app) gets the
  // environment's wildcard, so the client hears "no app named ... in ..." rather than a certificate
  // error; any other unknown name gets the fallback.
  const policy = route?.tls ?? environmentDomainOf(snapshot, servername)?.domain.tls ?? snapshot.fallback;
  const tlsSocket = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: policy.secureContext,
    requestCert: policy.requestCert,
    rejectUnauthorized: policy.rejectUnauthorized,
    ALPNProtocols: ALPN_PROTOCOLS,
  });
  deps.sockets.add(tlsSocket);
  let secure = false;
  const started = performance.now();
  const timer = setTimeout(() => {
    deps.log.info({ client: peer, servername, reason: 'handshake_timeout', message: 'TLS handshake not finished in time' }, 'TLS handshake failed');
    deps.observer.refusal({ reason: 'handshake_timeout', clientAddress: peer, app: route?.app, servername, listener: deps.name });
    tlsSocket.destroy();
  }, deps.limits.handshakeTimeoutMs);
  const logFailure = (error: NodeJS.ErrnoException) => {
    const cause = error.code ?? error.message;
    const reason = handshakeFailureReason(cause);
    deps.log.info({ client: peer, servername, app: route?.app.id, reason, cause }, 'TLS handshake failed');
    deps.observer.refusal({ reason, clientAddress: peer, app: route?.app, servername, cause, listener: deps.name, ...(reason === 'cert_missing' ? { verdict: NONE } : {}) });
  };
  // The client must read the alert that says why (certificate_required): close without a reset.
  deps.lingering.onHandshakeFailure(tlsSocket, socket, (error) => {
    clearTimeout(timer);
    logFailure(error);
  });
  tlsSocket.on('error', (error: NodeJS.ErrnoException) => {
    if (!secure && !tlsSocket.destroyed) logFailure(error);
    tlsSocket.destroy();
  });
  tlsSocket.on('close', () => {
    clearTimeout(timer);
    deps.sockets.delete(tlsSocket);
  });
  tlsSocket.once('secure', () => {
    secure = true;
    clearTimeout(timer);
    // What the client sent is read once, for X-Forwarded-Client-Cert and the verdict alike.
    const chain = route?.tls.requestCert ? peerChain(tlsSocket) : undefined;
    const pending = route && chain ? deps.verdicts.decide(route.app.verification, chain.certificates, chain.key, tlsSocket.isSessionReused()) : undefined;
    // An online revocation fetch (not cached) delays this connection alone: its bytes wait in the
    // socket until the HTTP server gets it; every other connection goes on (the fetch is bounded in time).
    if (pending instanceof Promise) {
      pending.then(
        (decision) => {
          if (!tlsSocket.destroyed) serve(decision, chain);
        },
        () => tlsSocket.destroy(),
      );
      return;
    }
    serve(pending, chain);
  });
  const serve = (decision: ConnectionDecision | undefined, chain: PeerChain | undefined): void => {
    if (decision?.refused) {
      deps.log.info({ client: peer, servername, app: route?.app.id, reason: decision.verdict.code.toLowerCase(), verdict: decision.verdict.code, thumbprint: decision.verdict.thumbprint, revocation: decision.revocation }, 'client certificate refused by the app\'s verification');
    }
    if (decision?.verdict.revocation === 'unknown') {
      deps.log.info({ client: peer, servername, app: route?.app.id, verdict: decision.verdict.code, thumbprint: decision.verdict.thumbprint, revocation: decision.revocation }, 'revocation status unknown, served (SoftFail)');
    }
    const state: ConnectionState = Object.freeze({
      servername,
      route,
      clientCertificate: route && chain && route.app.rfc9440 !== 'rfc9440' ? deps.clientCertificates.decide(tlsSocket, route.app.clientCertificate, chain) : undefined,
      clientAddress: peer,
      proto: 'https',
      listener: deps.listener,
      // Apps that verify nothing still get the certificate's facts (access log, inventory).
      verdict: decision === undefined ? NONE : decision.verdict.code === 'UNVERIFIED' ? connectionVerdict(tlsSocket) : decision.verdict,
      verdictHeaders: route?.app.rfc9440 !== undefined && chain !== undefined && chain.certificates.length > 0 ? [...(decision?.headers ?? []), ...rfc9440Headers(chain.certificates)] : decision?.headers,
      verificationRefused: decision?.refused === true,
      tlsVersion: tlsSocket.getProtocol() ?? undefined,
      resumed: tlsSocket.isSessionReused(),
    });
    attachConnectionState(tlsSocket, state);
    deps.observer.handshake(state, state.tlsVersion ?? null, state.resumed === true, performance.now() - started);
    if (tlsSocket.alpnProtocol === 'h2') {
      // Node's HTTP/2 server waits for a handshake it already missed unless told it is done.
      (tlsSocket as unknown as { secureConnecting: boolean }).secureConnecting = false;
      deps.http2.emit('connection', tlsSocket);
    } else {
      deps.http1.emit('connection', tlsSocket);
    }
  };
}
