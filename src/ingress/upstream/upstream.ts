// Connections to apps: per app origin, one pool of the ingress's own HTTP/1.1 client
// (http1-client.ts) or of its h2c client (h2c-client.ts), reused by every client connection.
// WebSocket upgrades open a connection of their own (websocket.ts), which becomes the tunnel; how
// many may be opening at once is bounded here, how many may be open in websocket-tunnels.ts.
import { OriginPool, type ExchangeHandler, type OriginPoolOptions, type OutgoingRequest } from './http1-client.ts';
import { H2cOriginPool } from './h2c-client.ts';
import type { Upstream } from '../snapshot.ts';
import { TunnelCounts } from '../http/websocket-tunnels.ts';

/** What the proxy holds of one request to an app, whichever client carries it. */
export interface ExchangeHandle {
  abort(): void;
  resume(): void;
}

/** A pool of connections to one app: HTTP/1.1 (OriginPool) or h2c (H2cOriginPool). */
export interface AppPool {
  request(request: OutgoingRequest, handler: ExchangeHandler): ExchangeHandle;
  close(): void;
  /** Open connections and waiting requests, for the metrics (read at scrape time). */
  readonly connectionCount?: number;
  readonly queuedCount?: number;
}

export interface UpstreamOptions {
  /** How long the app may take to send its response headers before the client gets 504. */
  readonly responseTimeoutMs: number;
  /** How long the app may pause between body chunks before the response is aborted. */
  readonly bodyTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxConnectionsPerApp: number;
  /** Idle connections to an app are closed after this time. */
  readonly keepAliveTimeoutMs: number;
  /** Requests waiting for a connection to one app, all clients together; beyond: 503 queue_full. */
  readonly maxQueuedPerApp: number;
  /** Requests of one client connection waiting for a connection to one app; beyond: 503 queue_full. */
  readonly maxQueuedPerClient: number;
  /** How long a request may wait for a connection to its app; then 503 queue_timeout. */
  readonly queueTimeoutMs: number;
  /**
   * How many of an app's connections one client connection (an HTTP/1.1 connection, an HTTP/2
   * session) may hold at once; its further requests wait. Default: max(8, maxConnectionsPerApp / 8),
   * at most half the app's connections, so one connection never takes an app from everyone else.
   */
  readonly maxConnectionsPerClient?: number;
  /**
   * How many of an app's connections all connections from one client address (after PROXY
   * protocol) may hold at once: many connections each within their share would otherwise still take
   * the app. Default: half the app's connections (at least the per-connection share). Behind an L4
   * balancer without PROXY protocol every client has the balancer's address: enable PROXY protocol,
   * or raise this.
   */
  readonly maxConnectionsPerAddress?: number;
  /** The whole request body must reach the app within this time; else 408 request_body_timeout. */
  readonly requestBodyTimeoutMs: number;
  /**
   * A request body may pause at most this long, and from then on must average at least
   * `requestBodyMinBytesPerSecond` since it began (slow uploads hold app connections); else 408.
   */
  readonly requestBodyIdleTimeoutMs: number;
  readonly requestBodyMinBytesPerSecond: number;
  /**
   * How long an answer may stay paused because its client reads nothing (nginx's send_timeout);
   * then the client's response is aborted and the app's connection freed (client_write_timeout).
   */
  readonly clientWriteTimeoutMs: number;
  /**
   * WebSocket tunnels open (or being set up) to one app, all clients together; beyond: 503
   * websocket_tunnels_full. A tunnel holds a connection to the app for as long as it lives.
   */
  readonly websocketMaxTunnelsPerApp: number;
  /** Tunnels to one app from one client address; beyond: 503 websocket_client_tunnels_full. */
  readonly websocketMaxTunnelsPerClient: number;
  /** From the upgrade request to the app's 101 (waiting for a connection included); then 504. */
  readonly websocketHandshakeTimeoutMs: number;
  /** A tunnel that carries no byte either way for this long is closed. */
  readonly websocketIdleTimeoutMs: number;
}

export const DEFAULT_UPSTREAM_OPTIONS: UpstreamOptions = Object.freeze({
  responseTimeoutMs: 60_000,
  bodyTimeoutMs: 300_000,
  connectTimeoutMs: 5_000,
  maxConnectionsPerApp: 256,
  keepAliveTimeoutMs: 30_000,
  maxQueuedPerApp: 1_024,
  // Above the usual HTTP/2 limit of 100 concurrent streams: a browser's burst waits, a flood is cut.
  maxQueuedPerClient: 128,
  queueTimeoutMs: 10_000,
  requestBodyTimeoutMs: 300_000,
  requestBodyIdleTimeoutMs: 10_000,
  // Kestrel's MinRequestBodyDataRate is 240 bytes/s; 1 KiB/s is still a 2G link's pace.
  requestBodyMinBytesPerSecond: 1_024,
  // nginx's send_timeout: a client that stops reading releases the app's connection after this.
  clientWriteTimeoutMs: 60_000,
  // Per worker process. A tunnel per browser tab is the usual pattern: 64 from one address leaves
  // room for an office behind one NAT, and keeps one client from holding all of an app's tunnels.
  websocketMaxTunnelsPerApp: 1_024,
  websocketMaxTunnelsPerClient: 64,
  websocketHandshakeTimeoutMs: 10_000,
  // Envoy's stream idle timeout for upgrades is 5 minutes too; chat apps ping well within it.
  websocketIdleTimeoutMs: 300_000,
});

/** max(8, 1/8 of the app's connections), but never more than half of them (256: 32; 8: 4; 1: 1). */
function defaultClientShare(maxConnectionsPerApp: number): number {
  return Math.max(1, Math.min(Math.max(8, Math.floor(maxConnectionsPerApp / 8)), Math.ceil(maxConnectionsPerApp / 2)));
}

/** What a pool is built with: the per-app options, with the per-client share worked out. */
export function originPoolOptions(options: UpstreamOptions): OriginPoolOptions {
  // A zero or negative bound would refuse or expire everything: a configuration error, said at start.
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined && (typeof value !== 'number' || !(value >= (name === 'requestBodyMinBytesPerSecond' ? 0 : 1)))) {
      throw new RangeError(`upstream option ${name} must be a positive number (got ${String(value)})`);
    }
  }
  const clientShare = options.maxConnectionsPerClient ?? defaultClientShare(options.maxConnectionsPerApp);
  return Object.freeze({
    responseTimeoutMs: options.responseTimeoutMs,
    bodyTimeoutMs: options.bodyTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs,
    maxConnections: options.maxConnectionsPerApp,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs,
    maxQueued: options.maxQueuedPerApp,
    maxQueuedPerClient: options.maxQueuedPerClient,
    queueTimeoutMs: options.queueTimeoutMs,
    maxConnectionsPerClient: clientShare,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? Math.max(clientShare, Math.ceil(options.maxConnectionsPerApp / 2)),
    requestBodyTimeoutMs: options.requestBodyTimeoutMs,
    requestBodyIdleTimeoutMs: options.requestBodyIdleTimeoutMs,
    requestBodyMinBytesPerSecond: options.requestBodyMinBytesPerSecond,
    clientWriteTimeoutMs: options.clientWriteTimeoutMs,
  });
}

/** Streams per h2c session to an app (nghttp2's and most servers' default limit is 100). */
const H2C_STREAMS_PER_SESSION = 100;

export class UpstreamPools {
  readonly #origins = new Map<string, AppPool>();
  /** Upgrades waiting for their app's answer, per origin (each holds a connection being set up). */
  readonly #upgrading = new Map<string, number>();
  readonly #poolOptions: OriginPoolOptions;
  readonly options: UpstreamOptions;
  /** WebSocket tunnels per app and per client address (websocket.ts). */
  readonly tunnels: TunnelCounts;

  constructor(options: UpstreamOptions) {
    this.options = options;
    this.#poolOptions = originPoolOptions(options);
    this.tunnels = new TunnelCounts(options.websocketMaxTunnelsPerApp, options.websocketMaxTunnelsPerClient);
  }

  /**
   * Takes one of the app's upgrade slots (as many as it has pooled connections), or returns false
   * when all are taken: a flood of upgrades that the app answers slowly cannot open connections
   * without bound. The slot is given back with `upgradeDone` once the app answered (or failed).
   */
  startUpgrade(upstream: Upstream): boolean {
    const busy = this.#upgrading.get(upstream.origin) ?? 0;
    if (busy >= this.options.maxConnectionsPerApp) return false;
    this.#upgrading.set(upstream.origin, busy + 1);
    return true;
  }

  upgradeDone(upstream: Upstream): void {
    const busy = (this.#upgrading.get(upstream.origin) ?? 1) - 1;
    if (busy <= 0) this.#upgrading.delete(upstream.origin);
    else this.#upgrading.set(upstream.origin, busy);
  }

  /** The app's pool's counts, without making a pool; undefined when it has none. */
  stats(upstream: Upstream): { connections: number; queued: number } | undefined {
    const pool = this.#origins.get(upstream.poolKey ?? upstream.origin);
    return pool ? { connections: pool.connectionCount ?? 0, queued: pool.queuedCount ?? 0 } : undefined;
  }

  origin(upstream: Upstream): AppPool {
    let pool = this.#origins.get(upstream.poolKey ?? upstream.origin);
    if (!pool && upstream.protocol === 'h2c') {
      pool = new H2cOriginPool(upstream.origin, {
        responseTimeoutMs: upstream.requestIdleTimeoutMs ?? this.options.responseTimeoutMs,
        bodyTimeoutMs: upstream.requestIdleTimeoutMs ?? this.options.bodyTimeoutMs,
        connectTimeoutMs: this.options.connectTimeoutMs,
        // As many requests in flight as the HTTP/1.1 pool allows connections, over a few sessions.
        maxSessions: Math.max(1, Math.ceil(this.options.maxConnectionsPerApp / H2C_STREAMS_PER_SESSION)),
        maxStreamsPerSession: H2C_STREAMS_PER_SESSION,
        maxQueued: this.options.maxConnectionsPerApp * 4,
        keepAliveTimeoutMs: this.options.keepAliveTimeoutMs,
        clientWriteTimeoutMs: this.options.clientWriteTimeoutMs,
      });
      this.#origins.set(upstream.poolKey ?? upstream.origin, pool);
    }
    if (!pool) {
      pool = new OriginPool(upstream.host, upstream.port, {
        ...this.#poolOptions,
        // The environment's requestIdleTimeout replaces both: how long the app may stay silent.
        ...(upstream.requestIdleTimeoutMs === undefined ? {} : { responseTimeoutMs: upstream.requestIdleTimeoutMs, bodyTimeoutMs: upstream.requestIdleTimeoutMs }),
        tls: upstream.tls === true,
      });
      this.#origins.set(upstream.poolKey ?? upstream.origin, pool);
    }
    return pool;
  }

  /** Closes the pools no app uses any more (in-flight requests finish first). */
  retainOnly(upstreams: readonly Upstream[]): void {
    const keys = new Set(upstreams.map((upstream) => upstream.poolKey ?? upstream.origin));
    for (const [key, pool] of this.#origins) {
      if (keys.has(key)) continue;
      this.#origins.delete(key);
      pool.close();
    }
  }

  async close(): Promise<void> {
    for (const pool of this.#origins.values()) pool.close();
    this.#origins.clear();
  }
}
