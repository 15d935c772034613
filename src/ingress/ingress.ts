// The ingress: the HTTPS listeners (TLS per app, then HTTP/1.1 or HTTP/2) and the plain-HTTP
// listeners, external and internal, serving whatever route snapshot was swapped in last. Swapping
// is one assignment: connections and requests already admitted keep the objects they hold.
import type http from 'node:http';
import net from 'node:net';
import type { Logger } from 'pino';
import { ClientCertificateHeaders } from './listener/client-certificate.ts';
import { ConnectionVerdicts } from './verify/verdicts.ts';
import { RevocationChecker } from './revocation/checker.ts';
import { attachConnectionState } from './listener/connection.ts';
import { createHttpServers, createPlainHttpServer, DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts } from './http/http.ts';
import { compileRangeList } from './listener/ip-rules.ts';
import { DEFAULT_HTTP2_LIMITS, type Http2Limits } from './http/http2-session.ts';
import { KeepAliveSweeper } from './http/keep-alive.ts';
import { LingeringCloses } from './listener/lingering-close.ts';
import { DEFAULT_PROXY_PROTOCOL_LIMITS, readProxyHeader, type ProxyProtocolLimits, type ProxyProtocolListener, type ProxyProtocolSettings } from './listener/proxy-accept.ts';
import type { ConfigurationProblem } from '../model/outcome.ts';
import type { ListenerKind, RouteSnapshot, TlsCipherProfile, Upstream } from './snapshot.ts';
import { createTlsListener, DEFAULT_TLS_LIMITS, type TlsListenerLimits } from './listener/tls-listener.ts';
import { TunnelRegistry } from './http/tunnels.ts';
import { DEFAULT_UPSTREAM_OPTIONS, UpstreamPools, type UpstreamOptions } from './upstream/upstream.ts';
import { DEFAULT_TCP_LIMITS, TcpProxy, type TcpLimits } from './listener/tcp-proxy.ts';
import { IngressObserver, type ObserverOptions } from '../observe/observer.ts';

export interface ProxyProtocolOptions {
  readonly listeners: readonly ProxyProtocolListener[];
  /** Addresses or CIDR ranges of the balancers; connections from anywhere else are closed. */
  readonly trustedFrom: readonly string[];
  readonly limits?: Partial<ProxyProtocolLimits>;
}

export interface IngressOptions {
  readonly bindAddress: string;
  readonly httpsPort: number;
  /** The plain-HTTP port (redirects and `allowInsecure` apps); undefined: no plain listener. */
  readonly httpPort: number | undefined;
  /** The HTTPS port users reach, for redirects (default: the listening port). */
  readonly publicHttpsPort?: number;
  /**
   * The internal listener: apps with `external: false` are served here only, external apps here
   * too (as in ACA, where an external app is reachable from inside the environment). Undefined: none.
   */
  readonly internal?: { readonly bindAddress: string; readonly httpsPort: number; readonly httpPort: number | undefined };
  /** PROXY protocol v1/v2 on the listed listeners; undefined: on none. */
  readonly proxyProtocol?: ProxyProtocolOptions;
  readonly tls?: Partial<TlsListenerLimits>;
  readonly http?: Partial<HttpTimeouts>;
  /** Bounds per HTTP/2 session (concurrent streams, rapid reset, memory). */
  readonly http2?: Partial<Http2Limits>;
  readonly upstream?: Partial<UpstreamOptions>;
  /** TLS 1.2 suites offered: `modern` (AEAD only, the default) or `compatible` (adds CBC). */
  readonly tlsCiphers?: TlsCipherProfile;
  readonly tcp?: Partial<TcpLimits>;
  /** Metrics and access log (src/observe/); unset: neither (the ring of recent refusals is kept). */
  readonly observe?: ObserverOptions;
}

/** How long a stop waits for requests in flight when no environment sets terminationGracePeriodSeconds. */
export const DEFAULT_DRAIN_GRACE_MS = 10_000;

export interface IngressAddresses {
  readonly httpsPort: number;
  readonly httpPort: number | undefined;
  readonly internalHttpsPort?: number;
  readonly internalHttpPort?: number;
}

/** The external listeners' ports (HTTPS, HTTP): an app may not expose them as TCP ports. */
export function ingressPorts(addresses: IngressAddresses): number[] {
  return [addresses.httpsPort, ...(addresses.httpPort === undefined ? [] : [addresses.httpPort])];
}

type ListenerName = 'https' | 'http' | 'internal-https' | 'internal-http';

/** One listening socket: which apps it serves, how, and where. New kinds of port add a row here. */
interface Listener {
  readonly name: ListenerName;
  readonly kind: ListenerKind;
  readonly host: string;
  readonly port: number;
  readonly server: net.Server;
  boundPort: number;
}

export class Ingress {
  #snapshot: RouteSnapshot;
  #draining = false;
  readonly #options: IngressOptions;
  readonly #log: Logger;
  readonly #pools: UpstreamPools;
  readonly #keepAlive: KeepAliveSweeper;
  /** This ingress's X-Forwarded-Client-Cert values: per instance, never shared between gateways. */
  readonly #clientCertificates = new ClientCertificateHeaders();
  readonly #verdicts = new ConnectionVerdicts(undefined, undefined, new RevocationChecker());
  /** Sockets waiting for their clients to read a handshake-failure alert (this ingress's only). */
  readonly #lingering = new LingeringCloses();
  readonly #sockets = new Set<net.Socket>();
  readonly #listeners: Listener[] = [];
  readonly #plainHttp: http.Server;
  readonly #http;
  readonly #tunnels = new TunnelRegistry();
  readonly #tcp: TcpProxy;
  /** The TCP listeners' reconciliation in progress (one at a time, in snapshot order). */
  #tcpApplied: Promise<void> = Promise.resolve();
  readonly observer: IngressObserver;

  constructor(initial: RouteSnapshot, options: IngressOptions, log: Logger) {
    this.#snapshot = initial;
    this.#options = options;
    this.#log = log;
    this.#pools = new UpstreamPools({ ...DEFAULT_UPSTREAM_OPTIONS, ...options.upstream });
    this.observer = new IngressObserver(options.observe);
    const pools = this.#pools;
    this.observer.metrics?.attachPools({ stats: (app) => (app.upstream ? pools.stats(app.upstream) : undefined) });
    this.observer.prepare(initial);
    const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...options.http };
    this.#keepAlive = new KeepAliveSweeper(timeouts.keepAliveTimeoutMs);
    const deps = {
      snapshot: () => this.#snapshot,
      keepAlive: this.#keepAlive,
      pools: this.#pools,
      log,
      draining: () => this.#draining,
      tunnels: this.#tunnels,
      observer: this.observer,
      httpsPort: (kind: ListenerKind) =>
        (kind === 'internal' ? this.#boundPort('internal-https') : (this.#options.publicHttpsPort ?? this.#boundPort('https'))) ?? 0,
    };
    this.#http = createHttpServers(deps, timeouts, { ...DEFAULT_HTTP2_LIMITS, ...options.http2 });
    this.#tcp = new TcpProxy(options.bindAddress, { ...DEFAULT_TCP_LIMITS, ...options.tcp }, log, this.observer);
    // One plain-HTTP server for every plain listener: each connection carries its listener's kind.
    this.#plainHttp = createPlainHttpServer(deps, timeouts);
    const proxy = proxyProtocolSettings(options.proxyProtocol);
    const tlsListener = (name: ListenerName, kind: ListenerKind) =>
      createTlsListener({
        snapshot: () => this.#snapshot,
        http1: this.#http.http1,
        http2: this.#http.http2,
        log,
        limits: { ...DEFAULT_TLS_LIMITS, ...options.tls },
        sockets: this.#sockets,
        listener: kind,
        name,
        proxyProtocol: proxy?.(name),
        clientCertificates: this.#clientCertificates,
        verdicts: this.#verdicts,
        lingering: this.#lingering,
        observer: this.observer,
      });
    const add = (name: ListenerName, kind: ListenerKind, host: string, port: number, server: net.Server) =>
      this.#listeners.push({ name, kind, host, port, server, boundPort: 0 });
    add('https', 'external', options.bindAddress, options.httpsPort, tlsListener('https', 'external'));
    if (options.httpPort !== undefined) add('http', 'external', options.bindAddress, options.httpPort, this.#plainListener('http', 'external', proxy?.('http')));
    if (options.internal) {
      add('internal-https', 'internal', options.internal.bindAddress, options.internal.httpsPort, tlsListener('internal-https', 'internal'));
      if (options.internal.httpPort !== undefined) {
        add('internal-http', 'internal', options.internal.bindAddress, options.internal.httpPort, this.#plainListener('internal-http', 'internal', proxy?.('internal-http')));
      }
    }
  }

  #plainListener(name: ListenerName, kind: ListenerKind, proxy: ProxyProtocolSettings | undefined): net.Server {
    const hand = (socket: net.Socket, clientAddress: string) => {
      attachConnectionState(socket, Object.freeze({ servername: undefined, route: undefined, clientCertificate: undefined, clientAddress, proto: 'http', listener: kind }));
      this.#plainHttp.emit('connection', socket);
    };
    const server = net.createServer({ noDelay: true }, (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      if (proxy) readProxyHeader(socket, proxy, this.#log, name, (client) => hand(socket, client), this.observer);
      else hand(socket, socket.remoteAddress ?? '');
    });
    server.on('error', (error) => {
      if (server.listening) this.#log.error({ err: error, listener: name }, 'HTTP listener error');
    });
    return server;
  }

  /** The port a listener took; undefined when there is no such listener. */
  #boundPort(name: ListenerName): number | undefined {
    return this.#listeners.find((listener) => listener.name === name)?.boundPort;
  }

  get snapshot(): RouteSnapshot {
    return this.#snapshot;
  }

  /**
   * Takes effect for the next connection and the next request; the returned promise resolves once
   * the TCP listeners match the snapshot too, with what they could not apply (a port another
   * process holds), so that such a write is not acknowledged as enforced.
   */
  swap(snapshot: RouteSnapshot): Promise<ConfigurationProblem[]> {
    // The metric children of its apps exist before its first connection.
    this.observer.prepare(snapshot);
    this.#snapshot = snapshot;
    // Requests are admitted per request; tunnels only at their upgrade: check them again now.
    const closed = this.#tunnels.recheck(snapshot);
    if (closed > 0) this.#log.info({ closed, reason: 'tunnel_not_admitted' }, 'WebSocket tunnels closed: the new configuration no longer admits them');
    const applied = this.#applyTcp(snapshot);
    // The internal routes are all of them (external apps included).
    const upstreams: Upstream[] = [];
    for (const route of snapshot.internalRoutes.values()) if (route.app.upstream) upstreams.push(route.app.upstream);
    this.#pools.retainOnly(upstreams);
    return applied;
  }

  /** The exposed TCP ports listened on. */
  get tcpPorts(): number[] {
    return this.#tcp.ports;
  }

  #applyTcp(snapshot: RouteSnapshot): Promise<ConfigurationProblem[]> {
    const applied = this.#tcpApplied.then(async () => (this.#draining ? [] : this.#tcp.apply(snapshot.tcpPorts ?? new Map())));
    this.#tcpApplied = applied.then(() => undefined);
    return applied;
  }

  async listen(): Promise<IngressAddresses> {
    try {
      for (const listener of this.#listeners) listener.boundPort = await listenOn(listener.server, listener.host, listener.port);
    } catch (error) {
      // One port taken: release the others, so that nothing half-started keeps listening.
      await Promise.all(this.#listeners.map((listener) => closeServer(listener.server)));
      throw error;
    }
    for (const problem of await this.#applyTcp(this.#snapshot)) this.#log.warn({ problem: problem.message, resource: problem.resource, reason: problem.reason }, 'configuration left out of the ingress');
    return {
      httpsPort: this.#boundPort('https')!,
      httpPort: this.#boundPort('http'),
      ...(this.#options.internal ? { internalHttpsPort: this.#boundPort('internal-https')!, internalHttpPort: this.#boundPort('internal-http') } : {}),
    };
  }

  /**
   * Graceful stop: no new connections, idle ones closed, in-flight requests given `graceMs` to
   * finish, then everything left is closed. Without `graceMs`: the environments'
   * terminationGracePeriodSeconds (the largest), else 10 s.
   */
  async close(graceMs = this.#snapshot.drainGraceMs ?? DEFAULT_DRAIN_GRACE_MS): Promise<void> {
    this.#draining = true;
    const stopped = Promise.all(this.#listeners.map((listener) => closeServer(listener.server)));
    // TCP connections carry no requests to wait for: they close with their listeners.
    await this.#tcpApplied;
    await this.#tcp.close();
    const deadline = Date.now() + graceMs;
    while (this.#sockets.size > 0 && Date.now() < deadline) {
      this.#http.http1.closeIdleConnections();
      this.#plainHttp.closeIdleConnections();
      for (const session of this.#http.sessions) session.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (this.#sockets.size > 0) {
      this.#log.warn({ connections: this.#sockets.size, graceMs }, 'closing connections still open after the grace period');
    }
    for (const socket of this.#sockets) socket.destroy();
    this.#lingering.close();
    await stopped;
    // Stops Node's headersTimeout checkers (http.ts startHeadersTimeout).
    this.#http.http1.close();
    this.#plainHttp?.close();
    this.#keepAlive.close();
    await this.#pools.close();
  }
}

/** For each listener name, its PROXY-protocol settings when the protocol is on there. */
function proxyProtocolSettings(options: ProxyProtocolOptions | undefined): ((name: ListenerName) => ProxyProtocolSettings | undefined) | undefined {
  if (!options || options.listeners.length === 0) return undefined;
  const settings: ProxyProtocolSettings = Object.freeze({
    ...DEFAULT_PROXY_PROTOCOL_LIMITS,
    ...options.limits,
    trusted: compileRangeList(options.trustedFrom),
  });
  const on = new Set(options.listeners);
  return (name) => (on.has(name === 'internal-https' || name === 'internal-http' ? 'internal' : name) ? settings : undefined);
}

function listenOn(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
}
