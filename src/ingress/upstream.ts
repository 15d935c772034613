// Connections to apps: per app origin, one pool of the ingress's own HTTP/1.1 client
// (http1-client.ts), reused by every client connection; WebSocket upgrades go through an undici
// pool, made only for origins that see one.
import { Pool } from 'undici';
import { OriginPool, type OriginPoolOptions } from './http1-client.ts';
import type { Upstream } from './snapshot.ts';
import { TunnelCounts } from './websocket-tunnels.ts';

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
  /** The whole request body must reach the app within this time; else 408 request_body_timeout. */
  readonly requestBodyTimeoutMs: number;
  /**
   * A request body may pause at most this long, and from then on must average at least
   * `requestBodyMinBytesPerSecond` since it began (slow uploads hold app connections); else 408.
   */
  readonly requestBodyIdleTimeoutMs: number;
  readonly requestBodyMinBytesPerSecond: number;
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
  return Object.freeze({
    responseTimeoutMs: options.responseTimeoutMs,
    bodyTimeoutMs: options.bodyTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs,
    maxConnections: options.maxConnectionsPerApp,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs,
    maxQueued: options.maxQueuedPerApp,
    maxQueuedPerClient: options.maxQueuedPerClient,
    queueTimeoutMs: options.queueTimeoutMs,
    maxConnectionsPerClient: options.maxConnectionsPerClient ?? defaultClientShare(options.maxConnectionsPerApp),
    requestBodyTimeoutMs: options.requestBodyTimeoutMs,
    requestBodyIdleTimeoutMs: options.requestBodyIdleTimeoutMs,
    requestBodyMinBytesPerSecond: options.requestBodyMinBytesPerSecond,
  });
}

export class UpstreamPools {
  readonly #origins = new Map<string, OriginPool>();
  readonly #upgrades = new Map<string, Pool>();
  readonly #poolOptions: OriginPoolOptions;
  readonly options: UpstreamOptions;
  /** WebSocket tunnels per app and per client address (websocket.ts). */
  readonly tunnels: TunnelCounts;

  constructor(options: UpstreamOptions) {
    this.options = options;
    this.#poolOptions = originPoolOptions(options);
    this.tunnels = new TunnelCounts(options.websocketMaxTunnelsPerApp, options.websocketMaxTunnelsPerClient);
  }

  origin(upstream: Upstream): OriginPool {
    let pool = this.#origins.get(upstream.origin);
    if (!pool) {
      pool = new OriginPool(upstream.host, upstream.port, this.#poolOptions);
      this.#origins.set(upstream.origin, pool);
    }
    return pool;
  }

  /** For WebSocket upgrades (undici turns the connection over to the tunnel after 101). */
  upgradePool(upstream: Upstream): Pool {
    let pool = this.#upgrades.get(upstream.origin);
    if (!pool) {
      pool = new Pool(upstream.origin, {
        // Handshakes at once (an upgraded socket leaves the pool; the tunnel counts bound those).
        connections: this.options.maxConnectionsPerApp,
        headersTimeout: this.options.websocketHandshakeTimeoutMs,
        connect: { timeout: this.options.connectTimeoutMs },
      });
      this.#upgrades.set(upstream.origin, pool);
    }
    return pool;
  }

  /** Closes the pools of origins no app uses any more (in-flight requests finish first). */
  retainOnly(origins: ReadonlySet<string>): void {
    for (const [origin, pool] of this.#origins) {
      if (origins.has(origin)) continue;
      this.#origins.delete(origin);
      pool.close();
    }
    for (const [origin, pool] of this.#upgrades) {
      if (origins.has(origin)) continue;
      this.#upgrades.delete(origin);
      void pool.close();
    }
  }

  async close(): Promise<void> {
    for (const pool of this.#origins.values()) pool.close();
    this.#origins.clear();
    const upgrades = [...this.#upgrades.values()];
    this.#upgrades.clear();
    await Promise.all(upgrades.map((pool) => pool.close()));
  }
}
