// The HTTP stage: requests from HTTP/1.1 and HTTP/2 connections (already past TLS) are admitted
// against the route snapshot, their headers rewritten, and forwarded to the app.
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { admitRequest, noAppAt, type Admission } from './admission.ts';
import { acmeChallengeAnswer } from './acme-challenge.ts';
import { certificateGate } from '../verify/gate.ts';
import { attachConnectionState, connectionState, type ConnectionState } from '../listener/connection.ts';
import { createHttp2Server, type Http2Limits } from './http2-session.ts';
import type { KeepAliveSweeper } from './keep-alive.ts';
import { traceIdOf, upstreamRequestHeaders } from './headers.ts';
import { proxyRequest, type ClientRequestLine } from '../upstream/proxy.ts';
import { Http1Sink, sendPlain, type Http2Sink, type ResponseSink } from './response-sink.ts';
import { DEFAULT_HEADER_COUNT_LIMIT, routesFor, type CompiledApp, type ListenerKind, type Route, type RouteSnapshot } from '../snapshot.ts';
import { corsPreflight, corsResponseHeaders, type HeaderLookup } from './cors.ts';
import type { UpstreamPools } from '../upstream/upstream.ts';
import { originFormTarget } from './request-target.ts';
import { INGRESS_REASONS, type IngressReason } from '../reasons.ts';
import { isWebSocketUpgrade, proxyUpgrade, rejectUpgrade } from './websocket.ts';
import type { TunnelRegistry } from './tunnels.ts';
import { hostFromAuthority } from '../../model/hostnames.ts';
import type { IngressObserver } from '../../observe/observer.ts';
import { RequestRecord } from '../../observe/request-record.ts';

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
  /** The HTTPS port users reach on each listener kind, for redirects. */
  readonly httpsPort: (listener: ListenerKind) => number;
  /** Open WebSocket tunnels, checked again on every snapshot swap (tunnels.ts). */
  readonly tunnels: TunnelRegistry;
  /** Metrics, access log and recent refusals (src/observe/). */
  readonly observer: IngressObserver;
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
    // Only WebSocket becomes a tunnel; any other Upgrade is served as a plain request (websocket.ts).
    shouldUpgradeCallback: isWebSocketUpgrade,
  };
}

/**
 * Node enforces headersTimeout (408, then close) with a checker it starts when the server begins
 * listening; these servers never listen (connections are handed to them), so it is started here.
 * Without it a client trickling header bytes (slowloris) keeps its connection until the idle sweep.
 * It also bounds a connection that never sends a request, and `closeIdleConnections()` needs it.
 * Stopped by `server.close()`.
 */
function startHeadersTimeout(server: http.Server): http.Server {
  server.emit('listening');
  return server;
}

/** Node servers that never listen themselves: the listener hands them connections after TLS. */
export function createHttpServers(stageDeps: HttpStageDeps, timeouts: HttpTimeouts, http2Limits: Http2Limits) {
  const deps: TlsStage = { ...stageDeps, admissions: new WeakMap() };
  const http1 = startHeadersTimeout(http.createServer(http1Options(timeouts)));
  http1.on('connection', (socket: Duplex) => deps.keepAlive.add(socket));
  http1.on('request', (req, res) => handleTlsRequest(deps, req, res));
  http1.on('upgrade', (req, socket, head) => handleUpgrade(deps, req, socket, head));
  http1.on('clientError', (error, socket) => onClientError(deps.log, deps.observer, error, socket));
  const { server: http2Server, sessions } = createHttp2Server(
    http2Limits,
    timeouts.keepAliveTimeoutMs,
    deps.log,
    (sink, headers, rawHeaders, connection) => handleStream(deps, sink, headers, rawHeaders, connection),
    deps.observer,
  );
  return { http1, http2: http2Server, sessions };
}

/** The plain-HTTP listener's server: redirects to HTTPS, or serves apps that allow insecure access. */
export function createPlainHttpServer(deps: HttpStageDeps, timeouts: HttpTimeouts): http.Server {
  const server = startHeadersTimeout(http.createServer(http1Options(timeouts)));
  server.on('connection', (socket: Duplex) => deps.keepAlive.add(socket));
  server.on('request', (req, res) => handlePlainRequest(deps, req, res));
  server.on('upgrade', (req, socket, head) => {
    deps.keepAlive.forget(socket);
    const connection = plainConnection(req.socket);
    const host = hostFromAuthority(req.headers.host ?? '');
    const route = host === undefined ? undefined : routesFor(deps.snapshot(), connection.listener).get(host);
    if (route && !ipAllowed(route, connection)) {
      rejectUpgrade(socket, 403, FORBIDDEN);
      return;
    }
    if (!route?.app.allowInsecure || !route.app.upstream) {
      rejectUpgrade(socket, route ? 400 : 404, route ? 'use https (https_required)' : host === undefined ? 'no app is served at (no host) (no_app)' : noAppAt(deps.snapshot(), host).message);
      return;
    }
    if (!toOriginForm(req, socket, route.hostname)) return;
    // Checked again on each swap: the route must still allow insecure access, and the client's address.
    const hostname = route.hostname;
    deps.tunnels.add(socket, (snapshot) => {
      const now = routesFor(snapshot, connection.listener).get(hostname);
      return now !== undefined && now.app.allowInsecure && ipAllowed(now, connection);
    });
    forwardUpgrade(deps, req, socket, head, route.app, connection, route.hostname);
  });
  server.on('clientError', (error, socket) => onClientError(deps.log, deps.observer, error, socket));
  return server;
}

function handleTlsRequest(deps: TlsStage, req: http.IncomingMessage, res: http.ServerResponse): void {
  const connection = connectionState(req.socket);
  const sink = new Http1Sink(res);
  const record = connection !== undefined && deps.observer.followsRequests ? followHttp1(deps.observer, req, res, sink, connection) : undefined;
  deps.keepAlive.requestStarted(req.socket, res, record);
  if (!connection) {
    sendPlain(res, 500, 'connection state missing (internal_error)');
    return;
  }
  const authority = req.headers.host;
  const admission = admitCached(deps, connection, authority);
  if (!admission.admit) {
    sink.plain(admission.status, admission.message, admission.closeConnection);
    return;
  }
  if (record !== undefined) record.app = admission.app;
  if (!toOriginForm(req, res, admission.host)) return;
  if (deps.draining()) res.shouldKeepAlive = false;
  forward(deps, http1RequestLine(req, connection), req.rawHeaders, req.headers, sink, admission.app, connection, authority ?? admission.host, record);
}

/**
 * Follows an HTTP/1.1 request to its end for the metrics and the access log: one record, which the
 * keep-alive sweeper's close hook (there for every request anyway) ends.
 */
function followHttp1(observer: IngressObserver, req: http.IncomingMessage, res: http.ServerResponse, sink: Http1Sink, connection: ConnectionState): RequestRecord {
  const record = new RequestRecord(observer, connection, performance.now(), req.method ?? 'GET', req.url ?? '/', 'HTTP/1.1', res);
  sink.record = record;
  return record;
}

/** The same for an HTTP/2 stream, ended by the stream's close. */
function followHttp2(observer: IngressObserver, sink: Http2Sink, headers: http2.IncomingHttpHeaders, connection: ConnectionState): RequestRecord {
  const record = new RequestRecord(observer, connection, performance.now(), headers[':method'] ?? 'GET', headers[':path'] ?? '/', 'HTTP/2');
  sink.record = record;
  // 'close' comes once: `on` spares once()'s wrapper.
  sink.stream.on('close', () => record.closed(performance.now()));
  return record;
}

/** An HTTP/2 request stream (Node's core API), on the next turn after it arrived (http2-session.ts). */
function handleStream(
  deps: TlsStage,
  sink: Http2Sink,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
  connection: ConnectionState | undefined,
): void {
  if (!connection) {
    sink.plain(500, 'connection state missing (internal_error)');
    return;
  }
  const record = deps.observer.followsRequests ? followHttp2(deps.observer, sink, headers, connection) : undefined;
  // :authority (or Host when absent); both present must agree.
  const authority = headers[':authority'];
  const host = headers.host;
  if (authority !== undefined && host !== undefined && hostFromAuthority(authority) !== hostFromAuthority(host)) {
    sink.plain(400, 'the :authority and Host headers name different hosts (authority_mismatch)');
    return;
  }
  const admission = admitCached(deps, connection, authority ?? host);
  if (!admission.admit) {
    sink.plain(admission.status, admission.message, admission.closeConnection);
    return;
  }
  if (record !== undefined) record.app = admission.app;
  const stream = sink.stream;
  const body = stream.endAfterHeaders ? null : stream;
  const expect = headers.expect;
  if (expect !== undefined) {
    // As Node's HTTP/1.1 server (and the compatibility API) do: 100 for 100-continue, 417 for
    // expectations nobody can meet. The app gets the body as it streams, without Expect.
    if (expect.toLowerCase() !== '100-continue') {
      sink.plain(417, 'only the expectation 100-continue is supported (expectation_unsupported)');
      return;
    }
    if (body !== null) stream.additionalHeaders({ ':status': 100 });
  }
  const method = headers[':method'] ?? 'GET';
  const target = originFormTarget(method, headers[':path'] ?? '/', admission.host);
  if (!target.ok) {
    sink.plain(target.status, target.message);
    return;
  }
  const request: ClientRequestLine = {
    method,
    path: target.path,
    body,
    contentLength: headers['content-length'],
    clientConnection: stream.session!,
    clientAddress: connection.clientAddress,
  };
  forward(deps, request, rawHeaders, headers, sink, admission.app, connection, authority ?? host ?? admission.host, record);
}

function http1RequestLine(req: http.IncomingMessage, connection: ConnectionState): ClientRequestLine {
  const contentLength = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (contentLength ?? '0') !== '0';
  return { method: req.method ?? 'GET', path: req.url ?? '/', body: hasBody ? req : null,
    contentLength,
    clientConnection: req.socket,
    clientAddress: connection.clientAddress,
  };
}

/**
 * Rewrites an absolute-form target into origin form when it names the admitted host; otherwise
 * answers 400 or 421 (request-target.ts). Returns whether the request may go on.
 */
function toOriginForm(req: http.IncomingMessage, res: http.ServerResponse | Duplex, host: string): boolean {
  const url = req.url ?? '/';
  if (url.charCodeAt(0) === 47 /* '/' */) return true;
  const target = originFormTarget(req.method ?? 'GET', url, host);
  if (target.ok) {
    req.url = target.path;
    return true;
  }
  if ('writeHead' in res) sendPlain(res, target.status, target.message);
  else rejectUpgrade(res, target.status, target.message);
  return false;
}

/** Each connection's last admission (admitCached), per HTTP stage: entries go with their connections. */
type AdmissionCache = WeakMap<ConnectionState, { snapshot: RouteSnapshot; authority: string | undefined; admission: Admission }>;

/** The TLS servers' stage: the deps, and the per-connection state the stage keeps itself. */
interface TlsStage extends HttpStageDeps {
  readonly admissions: AdmissionCache;
}

/**
 * The connection's last admission, reused while the snapshot and the Host are the same: every request
 * of a keep-alive connection (or HTTP/2 session) names the same host, and admission depends on nothing
 * else.
 */
function admitCached(stage: TlsStage, connection: ConnectionState, authority: string | undefined): Admission {
  const snapshot = stage.snapshot();
  const last = stage.admissions.get(connection);
  if (last !== undefined && last.snapshot === snapshot && last.authority === authority) return last.admission;
  const admission = admitRequest(snapshot, connection.route, authority, connection.servername, connection.listener, connection.clientAddress);
  stage.admissions.set(connection, { snapshot, authority, admission });
  return admission;
}

/** What a client an app's IP restrictions refuse gets over plain HTTP (ACA answers 403 too). */
const FORBIDDEN = 'Forbidden (ip_forbidden)';

function ipAllowed(route: Route, connection: ConnectionState): boolean {
  return route.app.ipRules === undefined || route.app.ipRules.allows(connection.clientAddress);
}

function handlePlainRequest(deps: HttpStageDeps, req: http.IncomingMessage, res: http.ServerResponse): void {
  const connection = plainConnection(req.socket);
  const sink = new Http1Sink(res);
  const record = deps.observer.followsRequests ? followHttp1(deps.observer, req, res, sink, connection) : undefined;
  deps.keepAlive.requestStarted(req.socket, res, record);
  const host = hostFromAuthority(req.headers.host ?? '');
  const answer = acmeChallengeAnswer(deps.snapshot(), req.method, host, req.url);
  if (answer !== undefined) {
    deps.log.info({ client: connection.clientAddress, host }, 'ACME HTTP-01 challenge answered');
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(answer), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : answer);
    return;
  }
  const route = host === undefined ? undefined : routesFor(deps.snapshot(), connection.listener).get(host);
  if (!route || host === undefined) {
    sink.plain(host === undefined ? 400 : 404, host === undefined ? 'the request has no valid Host (bad_host)' : noAppAt(deps.snapshot(), host).message);
    return;
  }
  if (record !== undefined) record.app = route.app;
  // Checked per request: on plain HTTP the Host is the only thing that names the app.
  if (!ipAllowed(route, connection)) {
    deps.log.info({ client: connection.clientAddress, app: route.app.id, reason: 'ip_forbidden' }, "request refused by the app's IP restrictions");
    sink.plain(403, FORBIDDEN);
    return;
  }
  if (!toOriginForm(req, res, host)) return;
  if (!route.app.allowInsecure) {
    // allowInsecure false (the default): plain HTTP only ever redirects, it never reaches the app.
    const port = deps.httpsPort(connection.listener ?? 'external');
    const location = `https://${host}${port === 443 ? '' : `:${port}`}${req.url ?? '/'}`;
    res.writeHead(308, { location, 'content-length': 0, 'cache-control': 'no-store' });
    res.end();
    return;
  }
  if (deps.draining()) res.shouldKeepAlive = false;
  forward(deps, http1RequestLine(req, connection), req.rawHeaders, req.headers, sink, route.app, connection, req.headers.host ?? host, record);
}

/** Both protocols: the headers rewritten for the app, and the request forwarded. */
function forward(
  deps: HttpStageDeps,
  request: ClientRequestLine,
  rawHeaders: readonly string[],
  requestHeaders: HeaderLookup,
  sink: ResponseSink,
  app: CompiledApp,
  connection: ConnectionState,
  hostHeader: string,
  record?: RequestRecord,
): void {
  const refused = certificateGate(app.verification, connection, request.path);
  if (refused !== undefined) {
    sink.plain(refused.status, refused.message, refused.closeConnection);
    return;
  }
  if (headerCount(rawHeaders) > (app.headerCountLimit ?? DEFAULT_HEADER_COUNT_LIMIT)) {
    sink.plain(431, `the request has more than ${app.headerCountLimit ?? DEFAULT_HEADER_COUNT_LIMIT} header fields (too_many_headers)`);
    return;
  }
  // The environment's ingress answers CORS preflights itself: the app never sees them.
  const preflight = corsPreflight(app.cors, request.method, requestHeaders);
  if (preflight !== undefined) {
    sink.head(preflight.status, preflight.headers as string[]);
    sink.end();
    return;
  }
  if (!app.upstream) {
    sink.plain(503, `${app.name} has no targetPort (app_unavailable)`);
    return;
  }
  const requestId = randomUUID();
  const headers = forwardedHeaders(rawHeaders, app, connection, hostHeader, requestId);
  const cors = corsResponseHeaders(app.cors, requestHeaders['origin']);
  if (record !== undefined) {
    record.requestId = requestId;
    record.traceId = traceIdOf(headers);
    record.forwarded = true;
  }
  // RFC 6797 7.2: HSTS only over a secure transport. The app's own header, if any, wins.
  proxyRequest(request, sink, app.upstream, headers, connection.clientCertificate, deps.pools, deps.log, connection.proto === 'https' ? app.hsts : undefined, cors, record);
}

/**
 * The client's headers rewritten for the app, for requests and upgrades alike. The connection's
 * X-Forwarded-Client-Cert is not among them: it was decided at the handshake and is written by the
 * upstream request writer (http1-client.ts `requestHead`), for requests and upgrades alike.
 */
function forwardedHeaders(rawHeaders: readonly string[], app: CompiledApp, connection: ConnectionState, host: string, requestId: string = randomUUID()): string[] {
  const headers = upstreamRequestHeaders(rawHeaders, {
    clientAddress: connection.clientAddress,
    proto: connection.proto,
    host,
    requestId,
    stripHeaders: app.stripHeaders,
  });
  // A verifying app's verdict headers, decided at the handshake (the client's own were removed above).
  const verdict = connection.verdictHeaders;
  if (verdict !== undefined) for (const value of verdict) headers.push(value);
  return headers;
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
  const admission = admitRequest(deps.snapshot(), connection.route, req.headers.host, connection.servername, connection.listener, connection.clientAddress);
  if (!admission.admit) {
    rejectUpgrade(socket, admission.status, admission.message);
    return;
  }
  if (!toOriginForm(req, socket, admission.host)) return;
  // Checked again on each swap, as its request was (IP rules, listener, TLS policy).
  const authority = req.headers.host;
  deps.tunnels.add(
    socket,
    (snapshot) => admitRequest(snapshot, connection.route, authority, connection.servername, connection.listener, connection.clientAddress).admit,
  );
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
  const refused = certificateGate(app.verification, connection, req.url ?? '/');
  if (refused !== undefined) {
    rejectUpgrade(socket, refused.status, refused.message);
    return;
  }
  const protocol = req.headers.upgrade;
  if (headerCount(req.rawHeaders) > (app.headerCountLimit ?? DEFAULT_HEADER_COUNT_LIMIT)) {
    rejectUpgrade(socket, 431, `the request has more than ${app.headerCountLimit ?? DEFAULT_HEADER_COUNT_LIMIT} header fields (too_many_headers)`);
    return;
  }
  if (!app.upstream || !protocol) {
    rejectUpgrade(socket, app.upstream ? 400 : 503, app.upstream ? 'missing Upgrade header (missing_upgrade)' : `${app.name} has no targetPort (app_unavailable)`);
    return;
  }
  const headers = forwardedHeaders(req.rawHeaders, app, connection, req.headers.host ?? host);
  proxyUpgrade(req, socket, head, app.upstream, headers, connection.clientCertificate, protocol, connection.clientAddress, deps.pools, deps.log, (reason) =>
    deps.observer.refusal({ reason, clientAddress: connection.clientAddress, app, servername: connection.servername, verdict: connection.verdict, tlsVersion: connection.tlsVersion }),
  );
}

/** The plain listener attached the state at accept (listener, PROXY-protocol address); else made here, once. */
function plainConnection(socket: Socket): ConnectionState {
  const attached = connectionState(socket);
  if (attached) return attached;
  const state: ConnectionState = Object.freeze({
    servername: undefined,
    route: undefined,
    clientCertificate: undefined,
    clientAddress: socket.remoteAddress ?? '',
    proto: 'http' as const,
  });
  attachConnectionState(socket, state);
  return state;
}

function onClientError(log: Logger, observer: IngressObserver, error: Error & { code?: string }, socket: Duplex): void {
  const reason = clientErrorReason(error.code);
  log.info({ reason, cause: error.code ?? error.message }, 'HTTP/1.1 request refused; connection closed');
  const connection = connectionState(socket as Socket);
  observer.refusal({ reason, clientAddress: connection?.clientAddress ?? (socket as Socket).remoteAddress ?? '', app: connection?.route?.app, servername: connection?.servername, verdict: connection?.verdict, cause: error.code });
  if (socket.writable && !(socket as Socket).destroyed) {
    const status = INGRESS_REASONS[reason].status ?? 400;
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  } else {
    socket.destroy();
  }
}

/** Node's HTTP/1.1 server reports these for a request it did not hand over (its code is logged as `cause`). */
function clientErrorReason(code: string | undefined): IngressReason {
  if (code === 'HPE_HEADER_OVERFLOW') return 'request_head_too_large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_head_timeout';
  return code?.startsWith('HPE_') ? 'malformed_request' : 'client_socket_error';
}
