// The HTTP stage: requests from HTTP/1.1 and HTTP/2 connections (already past TLS) are admitted
// against the route snapshot, their headers rewritten, and forwarded to the app.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { admitRequest, type Admission } from './admission.ts';
import { connectionState, type ConnectionState } from './connection.ts';
import type { KeepAliveSweeper } from './keep-alive.ts';
import { upstreamRequestHeaders } from './headers.ts';
import { proxyRequest, sendPlain, type ClientRequest, type ClientResponse } from './proxy.ts';
import { corsPreflight, corsResponseHeaders } from './cors.ts';
import { DEFAULT_HEADER_COUNT_LIMIT, type CompiledApp, type RouteSnapshot } from './snapshot.ts';
import type { UpstreamPools } from './upstream.ts';
import { proxyUpgrade, rejectUpgrade } from './websocket.ts';
import { hostFromAuthority } from '../model/hostnames.ts';
import { MAX_HEADER_COUNT_LIMIT } from '../model/ingress.ts';

export interface HttpTimeouts {
  /** A client must send its request headers within this time (slow-headers attacks). */
  readonly headersTimeoutMs: number;
  /** Idle keep-alive connections are closed after this time. */
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = Object.freeze({ headersTimeoutMs: 20_000, keepAliveTimeoutMs: 60_000 });

export interface HttpStageDeps {
  readonly snapshot: () => RouteSnapshot;
  /** Closes idle HTTP/1.1 connections (Node's own keepAliveTimeout is off: see keep-alive.ts). */
  readonly keepAlive: KeepAliveSweeper;
  readonly pools: UpstreamPools;
  readonly log: Logger;
  readonly draining: () => boolean;
  readonly httpsPort: () => number;
}

function http1Options(timeouts: HttpTimeouts): http.ServerOptions {
  return {
    headersTimeout: timeouts.headersTimeoutMs,
    // Bodies may stream for as long as they flow; the upstream body timeout bounds stalls.
    requestTimeout: 0,
    // Idle connections are closed by the KeepAliveSweeper instead (no socket timer per request).
    keepAliveTimeout: 0,
    // Node checks headersTimeout on this interval (default 30 s): check often enough to honour it.
    connectionsCheckingInterval: Math.min(1_000, timeouts.headersTimeoutMs),
  };
}

/** Node servers that never listen themselves: the listener hands them connections after TLS. */
export function createHttpServers(deps: HttpStageDeps, timeouts: HttpTimeouts) {
  const http1 = http.createServer(http1Options(timeouts));
  http1.on('connection', (socket: Duplex) => deps.keepAlive.add(socket));
  http1.on('request', (req, res) => handleTlsRequest(deps, req, res));
  http1.on('upgrade', (req, socket, head) => handleUpgrade(deps, req, socket, head));
  http1.on('clientError', (error, socket) => onClientError(deps.log, error, socket));

  const http2Server = http2.createServer({
    settings: { enableConnectProtocol: false },
    maxSessionMemory: 10,
    // Node's default (128 entries) would reset streams below a larger environment headerCountLimit;
    // the limit itself is checked per request (431), pseudo-headers not counted.
    maxHeaderListPairs: MAX_HEADER_COUNT_LIMIT + 8,
  });
  // Idle HTTP/2 sessions close after the keep-alive time, as HTTP/1.1 connections do.
  // (Without a 'timeout' listener Node destroys the session abruptly.)
  http2Server.setTimeout(timeouts.keepAliveTimeoutMs);
  http2Server.on('timeout', (session: http2.ServerHttp2Session) => session.close());
  http2Server.on('request', (req, res) => handleTlsRequest(deps, req, res));
  http2Server.on('sessionError', (error) => deps.log.info({ err: error }, 'HTTP/2 session error'));
  const sessions = new Set<http2.ServerHttp2Session>();
  http2Server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  return { http1, http2: http2Server, sessions };
}

/** The plain-HTTP listener's server: redirects to HTTPS, or serves apps that allow insecure access. */
export function createPlainHttpServer(deps: HttpStageDeps, timeouts: HttpTimeouts): http.Server {
  const server = http.createServer(http1Options(timeouts));
  server.on('connection', (socket: Duplex) => deps.keepAlive.add(socket));
  server.on('request', (req, res) => handlePlainRequest(deps, req, res));
  server.on('upgrade', (req, socket, head) => {
    deps.keepAlive.forget(socket);
    const host = hostFromAuthority(req.headers.host ?? '');
    const route = host === undefined ? undefined : deps.snapshot().routes.get(host);
    if (!route?.app.allowInsecure || !route.app.upstream) {
      rejectUpgrade(socket, route ? 400 : 404, route ? 'use https' : `no app is served at ${host ?? '(no host)'}`);
      return;
    }
    forwardUpgrade(deps, req, socket, head, route.app, plainConnection(req.socket), route.hostname);
  });
  server.on('clientError', (error, socket) => onClientError(deps.log, error, socket));
  return server;
}

function handleTlsRequest(deps: HttpStageDeps, req: ClientRequest, res: ClientResponse): void {
  if (!('stream' in req)) deps.keepAlive.requestStarted(req.socket, res as http.ServerResponse);
  const connection = connectionState(req.socket as Socket);
  if (!connection) {
    sendPlain(res, 500, 'connection state missing');
    return;
  }
  const authority = requestAuthority(req);
  if (authority === false) {
    sendPlain(res, 400, 'the :authority and Host headers name different hosts');
    return;
  }
  const admission = admitCached(deps.snapshot(), connection, authority);
  if (!admission.admit) {
    sendPlain(res, admission.status, admission.message, admission.closeConnection);
    if (admission.closeConnection && 'stream' in req) req.stream.session?.close();
    return;
  }
  forward(deps, req, res, admission.app, connection, authority ?? admission.host);
}

/**
 * The connection's last admission, reused while the snapshot and the Host are the same: every request
 * of a keep-alive connection (or HTTP/2 session) names the same host, and admission depends on nothing
 * else.
 */
const admissions = new WeakMap<ConnectionState, { snapshot: RouteSnapshot; authority: string | undefined; admission: Admission }>();

function admitCached(snapshot: RouteSnapshot, connection: ConnectionState, authority: string | undefined): Admission {
  const last = admissions.get(connection);
  if (last !== undefined && last.snapshot === snapshot && last.authority === authority) return last.admission;
  const admission = admitRequest(snapshot, connection.route, authority, connection.servername);
  admissions.set(connection, { snapshot, authority, admission });
  return admission;
}

function handlePlainRequest(deps: HttpStageDeps, req: http.IncomingMessage, res: http.ServerResponse): void {
  deps.keepAlive.requestStarted(req.socket, res);
  const host = hostFromAuthority(req.headers.host ?? '');
  const route = host === undefined ? undefined : deps.snapshot().routes.get(host);
  if (!route || host === undefined) {
    sendPlain(res, host === undefined ? 400 : 404, host === undefined ? 'the request has no valid Host' : `no app is served at ${host}`);
    return;
  }
  if (!route.app.allowInsecure) {
    // allowInsecure false (the default): plain HTTP only ever redirects, it never reaches the app.
    const port = deps.httpsPort();
    const location = `https://${host}${port === 443 ? '' : `:${port}`}${req.url ?? '/'}`;
    res.writeHead(308, { location, 'content-length': 0, 'cache-control': 'no-store' });
    res.end();
    return;
  }
  forward(deps, req, res, route.app, plainConnection(req.socket), req.headers.host ?? host);
}

function forward(
  deps: HttpStageDeps,
  req: ClientRequest,
  res: ClientResponse,
  app: CompiledApp,
  connection: ConnectionState,
  hostHeader: string,
): void {
  if (deps.draining() && 'shouldKeepAlive' in res) res.shouldKeepAlive = false;
  if (headerCount(req.rawHeaders) > (app.headerCountLimit ?? DEFAULT_HEADER_COUNT_LIMIT)) {
    sendPlain(res, 431, `the request has more than ${app.headerCountLimit ?? DEFAULT_HEADER_COUNT_LIMIT} header fields (too_many_headers)`);
    return;
  }
  // The environment's ingress answers CORS preflights itself: the app never sees them.
  const preflight = corsPreflight(app.cors, req.method ?? '', req.headers);
  if (preflight !== undefined) {
    (res as http.ServerResponse).writeHead(preflight.status, preflight.headers as string[]);
    res.end();
    return;
  }
  if (!app.upstream) {
    sendPlain(res, 503, `${app.name} has no targetPort (app_unavailable)`);
    return;
  }
  const headers = upstreamRequestHeaders(req.rawHeaders, {
    clientAddress: connection.clientAddress,
    proto: connection.proto,
    host: hostHeader,
    requestId: randomUUID(),
    // Written by the upstream client as a line of its own (below), unchecked: it is certgate's.
    clientCertificate: undefined,
  });
  const certificate = app.mode === 'ignore' ? undefined : connection.clientCertificate;
  const trustedHeadLines = certificate === undefined ? '' : `x-forwarded-client-cert: ${certificate}\r\n`;
  const cors = corsResponseHeaders(app.cors, req.headers.origin);
  proxyRequest(req, res, app.upstream, headers, trustedHeadLines, deps.pools, deps.log, cors);
}

/** Header fields as ACA's headerCountLimit counts them: HTTP/2 pseudo-headers (:method, ...) are not fields. */
function headerCount(rawHeaders: readonly string[]): number {
  let count = rawHeaders.length / 2;
  for (let i = 0; i < rawHeaders.length && rawHeaders[i]!.startsWith(':'); i += 2) count--;
  return count;
}

function handleUpgrade(deps: HttpStageDeps, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  deps.keepAlive.forget(socket);
  const connection = connectionState(req.socket);
  if (!connection) {
    socket.destroy();
    return;
  }
  const admission = admitRequest(deps.snapshot(), connection.route, req.headers.host, connection.servername);
  if (!admission.admit) {
    rejectUpgrade(socket, admission.status, admission.message);
    return;
  }
  forwardUpgrade(deps, req, socket, head, admission.app, connection, admission.host);
}

function forwardUpgrade(
  deps: HttpStageDeps,
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  app: CompiledApp,
  connection: ConnectionState,
  host: string,
): void {
  const protocol = req.headers.upgrade;
  if (headerCount(req.rawHeaders) > (app.headerCountLimit ?? DEFAULT_HEADER_COUNT_LIMIT)) {
    rejectUpgrade(socket, 431, `the request has more than ${app.headerCountLimit ?? DEFAULT_HEADER_COUNT_LIMIT} header fields (too_many_headers)`);
    return;
  }
  if (!app.upstream || !protocol) {
    rejectUpgrade(socket, app.upstream ? 400 : 503, app.upstream ? 'missing Upgrade header' : `${app.name} has no targetPort`);
    return;
  }
  const headers = upstreamRequestHeaders(req.rawHeaders, {
    clientAddress: connection.clientAddress,
    proto: connection.proto,
    host: req.headers.host ?? host,
    requestId: randomUUID(),
    clientCertificate: app.mode === 'ignore' ? undefined : connection.clientCertificate,
  });
  proxyUpgrade(req, socket, head, app.upstream, headers, protocol, deps.pools, deps.log);
}

/** HTTP/2: :authority (or Host when absent); both present must agree. HTTP/1.1: Host. */
function requestAuthority(req: ClientRequest): string | undefined | false {
  if (!('stream' in req)) return req.headers.host;
  const authority = req.headers[':authority'];
  const host = req.headers.host;
  if (authority !== undefined && host !== undefined && hostFromAuthority(authority) !== hostFromAuthority(host)) return false;
  return authority ?? host;
}

const plainStates = new WeakMap<Socket, ConnectionState>();

function plainConnection(socket: Socket): ConnectionState {
  let state = plainStates.get(socket);
  if (!state) {
    state = Object.freeze({
      servername: undefined,
      route: undefined,
      clientCertificate: undefined,
      clientAddress: socket.remoteAddress ?? '',
      proto: 'http' as const,
    });
    plainStates.set(socket, state);
  }
  return state;
}

function onClientError(log: Logger, error: Error & { code?: string }, socket: Duplex): void {
  log.info({ reason: error.code ?? error.message }, 'malformed HTTP request; connection closed');
  if (socket.writable && !(socket as Socket).destroyed) {
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  } else {
    socket.destroy();
  }
}
