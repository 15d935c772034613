// A least-recently-used map bounded by entry count, whose entries also expire, so that memory
// stays bounded whatever clients send and time-dependent results (expiry, CRL updates) are
// recomputed. Time is whatever clock the caller passes, in milliseconds.

export interface CacheStats {
  hits: number;
  misses: number;
  /** Entries dropped to stay within maxEntries (expired entries are not counted). */
  evictions: number;
  size: number;
  maxEntries: number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class LruCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(maxEntries: number, ttlMs: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError(`maxEntries: expected a positive integer, got ${maxEntries}`);
    if (!(ttlMs > 0)) throw new TypeError(`ttlMs: expected a positive number, got ${ttlMs}`);
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.expiresAt <= now) {
      if (entry !== undefined) this.#entries.delete(key);
      this.#misses++;
      return undefined;
    }
    // Re-inserting moves the key to the end of Map order: the most recently used.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#hits++;
    return entry.value;
  }

  /** Stores until now + ttl, or until `validUntil` when that comes first. */
  set(key: string, value: V, now: number, validUntil = Infinity): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: Math.min(now + this.#ttlMs, validUntil) });
    if (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
      this.#evictions++;
    }
  }

  stats(): CacheStats {
    return { hits: this.#hits, misses: this.#misses, evictions: this.#evictions, size: this.#entries.size, maxEntries: this.#maxEntries };
  }
}
