// Connections to apps: per app origin, one pool of the ingress's own HTTP/1.1 client
// (http1-client.ts), reused by every client connection; WebSocket upgrades go through an undici
// pool, made only for origins that see one.
import { Pool } from 'undici';
import { OriginPool } from './http1-client.ts';
import type { Upstream } from './snapshot.ts';

export interface UpstreamOptions {
  /** How long the app may take to send its response headers before the client gets 504. */
  readonly responseTimeoutMs: number;
  /** How long the app may pause between body chunks before the response is aborted. */
  readonly bodyTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxConnectionsPerApp: number;
  /** Idle connections to an app are closed after this time. */
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_UPSTREAM_OPTIONS: UpstreamOptions = Object.freeze({
  responseTimeoutMs: 60_000,
  bodyTimeoutMs: 300_000,
  connectTimeoutMs: 5_000,
  maxConnectionsPerApp: 256,
  keepAliveTimeoutMs: 30_000,
});

export class UpstreamPools {
  readonly #origins = new Map<string, OriginPool>();
  readonly #upgrades = new Map<string, Pool>();
  readonly #options: UpstreamOptions;

  constructor(options: UpstreamOptions) {
    this.#options = options;
  }

  origin(upstream: Upstream): OriginPool {
    let pool = this.#origins.get(upstream.poolKey ?? upstream.origin);
    if (!pool) {
      pool = new OriginPool(upstream.host, upstream.port, {
        // The environment's requestIdleTimeout replaces both: how long the app may stay silent.
        responseTimeoutMs: upstream.requestIdleTimeoutMs ?? this.#options.responseTimeoutMs,
        bodyTimeoutMs: upstream.requestIdleTimeoutMs ?? this.#options.bodyTimeoutMs,
        connectTimeoutMs: this.#options.connectTimeoutMs,
        maxConnections: this.#options.maxConnectionsPerApp,
        keepAliveTimeoutMs: this.#options.keepAliveTimeoutMs,
      });
      this.#origins.set(upstream.poolKey ?? upstream.origin, pool);
    }
    return pool;
  }

  /** For WebSocket upgrades (undici turns the connection over to the tunnel after 101). */
  upgradePool(upstream: Upstream): Pool {
    let pool = this.#upgrades.get(upstream.origin);
    if (!pool) {
      pool = new Pool(upstream.origin, {
        connections: this.#options.maxConnectionsPerApp,
        headersTimeout: this.#options.responseTimeoutMs,
        connect: { timeout: this.#options.connectTimeoutMs },
      });
      this.#upgrades.set(upstream.origin, pool);
    }
    return pool;
  }

  /** Closes the pools no app uses any more (in-flight requests finish first). */
  retainOnly(upstreams: readonly Upstream[]): void {
    const keys = new Set(upstreams.map((upstream) => upstream.poolKey ?? upstream.origin));
    const origins = new Set(upstreams.map((upstream) => upstream.origin));
    for (const [key, pool] of this.#origins) {
      if (keys.has(key)) continue;
      this.#origins.delete(key);
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
