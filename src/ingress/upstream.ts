// Connections to apps: one undici keep-alive pool per app origin, reused by every client connection.
import { Pool } from 'undici';
import type { Upstream } from './snapshot.ts';

export interface UpstreamOptions {
  /** How long the app may take to send its response headers before the client gets 504. */
  readonly responseTimeoutMs: number;
  /** How long the app may pause between body chunks before the response is aborted. */
  readonly bodyTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxConnectionsPerApp: number;
}

export const DEFAULT_UPSTREAM_OPTIONS: UpstreamOptions = Object.freeze({
  responseTimeoutMs: 60_000,
  bodyTimeoutMs: 300_000,
  connectTimeoutMs: 5_000,
  maxConnectionsPerApp: 256,
});

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();
  readonly #options: UpstreamOptions;

  constructor(options: UpstreamOptions) {
    this.#options = options;
  }

  pool(upstream: Upstream): Pool {
    let pool = this.#pools.get(upstream.origin);
    if (!pool) {
      pool = new Pool(upstream.origin, {
        connections: this.#options.maxConnectionsPerApp,
        headersTimeout: this.#options.responseTimeoutMs,
        bodyTimeout: this.#options.bodyTimeoutMs,
        connect: { timeout: this.#options.connectTimeoutMs },
        keepAliveTimeout: 30_000,
      });
      this.#pools.set(upstream.origin, pool);
    }
    return pool;
  }

  /** Closes the pools of origins no app uses any more (in-flight requests finish first). */
  retainOnly(origins: ReadonlySet<string>): void {
    for (const [origin, pool] of this.#pools) {
      if (origins.has(origin)) continue;
      this.#pools.delete(origin);
      void pool.close();
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }
}
