// The ingress: the HTTPS listener (TLS per app, then HTTP/1.1 or HTTP/2) and the plain-HTTP
// listener, serving whatever route snapshot was swapped in last. Swapping is one assignment:
// connections and requests already admitted keep the objects they hold.
import type http from 'node:http';
import net from 'node:net';
import type { Logger } from 'pino';
import { createHttpServers, createPlainHttpServer, DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts } from './http.ts';
import { KeepAliveSweeper } from './keep-alive.ts';
import type { RouteSnapshot, Upstream } from './snapshot.ts';
import { createTlsListener, DEFAULT_TLS_LIMITS, type TlsListenerLimits } from './tls-listener.ts';
import { DEFAULT_UPSTREAM_OPTIONS, UpstreamPools, type UpstreamOptions } from './upstream.ts';
import { DEFAULT_TCP_LIMITS, TcpProxy, type TcpLimits } from './tcp-proxy.ts';

export interface IngressOptions {
  readonly bindAddress: string;
  readonly httpsPort: number;
  /** The plain-HTTP port (redirects and `allowInsecure` apps); undefined: no plain listener. */
  readonly httpPort: number | undefined;
  /** The HTTPS port users reach, for redirects (default: the listening port). */
  readonly publicHttpsPort?: number;
  readonly tls?: Partial<TlsListenerLimits>;
  readonly http?: Partial<HttpTimeouts>;
  readonly upstream?: Partial<UpstreamOptions>;
  readonly tcp?: Partial<TcpLimits>;
}

/** How long a stop waits for requests in flight when no environment sets terminationGracePeriodSeconds. */
export const DEFAULT_DRAIN_GRACE_MS = 10_000;

export interface IngressAddresses {
  readonly httpsPort: number;
  readonly httpPort: number | undefined;
}

export class Ingress {
  #snapshot: RouteSnapshot;
  #draining = false;
  readonly #options: IngressOptions;
  readonly #log: Logger;
  readonly #pools: UpstreamPools;
  readonly #keepAlive: KeepAliveSweeper;
  readonly #sockets = new Set<net.Socket>();
  readonly #tlsServer: net.Server;
  readonly #plainServer: net.Server | undefined;
  readonly #plainHttp: http.Server | undefined;
  readonly #http;
  readonly #tcp: TcpProxy;
  /** The TCP listeners' reconciliation in progress (one at a time, in snapshot order). */
  #tcpApplied: Promise<void> = Promise.resolve();
  #httpsPort = 0;

  constructor(initial: RouteSnapshot, options: IngressOptions, log: Logger) {
    this.#snapshot = initial;
    this.#options = options;
    this.#log = log;
    this.#pools = new UpstreamPools({ ...DEFAULT_UPSTREAM_OPTIONS, ...options.upstream });
    const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...options.http };
    this.#keepAlive = new KeepAliveSweeper(timeouts.keepAliveTimeoutMs);
    const deps = {
      snapshot: () => this.#snapshot,
      keepAlive: this.#keepAlive,
      pools: this.#pools,
      log,
      draining: () => this.#draining,
      httpsPort: () => this.#options.publicHttpsPort ?? this.#httpsPort,
    };
    this.#http = createHttpServers(deps, timeouts);
    this.#tcp = new TcpProxy(options.bindAddress, { ...DEFAULT_TCP_LIMITS, ...options.tcp }, log);
    this.#tlsServer = createTlsListener({
      snapshot: () => this.#snapshot,
      http1: this.#http.http1,
      http2: this.#http.http2,
      log,
      limits: { ...DEFAULT_TLS_LIMITS, ...options.tls },
      sockets: this.#sockets,
    });
    if (options.httpPort !== undefined) {
      const plain = createPlainHttpServer(deps, timeouts);
      this.#plainServer = net.createServer({ noDelay: true }, (socket) => {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        plain.emit('connection', socket);
      });
      this.#plainHttp = plain;
    }
  }

  get snapshot(): RouteSnapshot {
    return this.#snapshot;
  }

  /**
   * Takes effect for the next connection and the next request; the returned promise resolves once
   * the TCP listeners match the snapshot too.
   */
  swap(snapshot: RouteSnapshot): Promise<void> {
    this.#snapshot = snapshot;
    const applied = this.#applyTcp(snapshot);
    const upstreams: Upstream[] = [];
    for (const route of snapshot.routes.values()) if (route.app.upstream) upstreams.push(route.app.upstream);
    this.#pools.retainOnly(upstreams);
    return applied;
  }

  /** The exposed TCP ports listened on. */
  get tcpPorts(): number[] {
    return this.#tcp.ports;
  }

  #applyTcp(snapshot: RouteSnapshot): Promise<void> {
    this.#tcpApplied = this.#tcpApplied.then(async () => {
      if (this.#draining) return;
      for (const problem of await this.#tcp.apply(snapshot.tcpPorts ?? new Map())) this.#log.warn({ problem }, 'configuration left out of the ingress');
    });
    return this.#tcpApplied;
  }

  async listen(): Promise<IngressAddresses> {
    this.#httpsPort = await listenOn(this.#tlsServer, this.#options.bindAddress, this.#options.httpsPort);
    const httpPort = this.#plainServer
      ? await listenOn(this.#plainServer, this.#options.bindAddress, this.#options.httpPort ?? 0)
      : undefined;
    await this.#applyTcp(this.#snapshot);
    return { httpsPort: this.#httpsPort, httpPort };
  }

  /**
   * Graceful stop: no new connections, idle ones closed, in-flight requests given `graceMs` to
   * finish, then everything left is closed. Without `graceMs`: the environments'
   * terminationGracePeriodSeconds (the largest), else 10 s.
   */
  async close(graceMs = this.#snapshot.drainGraceMs ?? DEFAULT_DRAIN_GRACE_MS): Promise<void> {
    this.#draining = true;
    const stopped = Promise.all([closeServer(this.#tlsServer), this.#plainServer ? closeServer(this.#plainServer) : undefined]);
    // TCP connections carry no requests to wait for: they close with their listeners.
    await this.#tcpApplied;
    await this.#tcp.close();
    const deadline = Date.now() + graceMs;
    while (this.#sockets.size > 0 && Date.now() < deadline) {
      this.#http.http1.closeIdleConnections();
      this.#plainHttp?.closeIdleConnections();
      for (const session of this.#http.sessions) session.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (this.#sockets.size > 0) {
      this.#log.warn({ connections: this.#sockets.size, graceMs }, 'closing connections still open after the grace period');
    }
    for (const socket of this.#sockets) socket.destroy();
    await stopped;
    this.#keepAlive.close();
    await this.#pools.close();
  }
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
