// Counting an HTTP/2 session's premature stream resets (pure): streams the client reset before
// their response was complete, in a sliding window. CVE-2023-44487 ("rapid reset") opens and resets
// streams as fast as it can, so the concurrent-stream bound never bites while the server starts
// work for every stream; past the bound the ingress closes the session (as nginx and Envoy do).

const BUCKETS = 10;

/** Events in the last `windowMs`, kept in ten buckets (no timestamp per event). */
export class ResetWindow {
  readonly #limit: number;
  readonly #bucketMs: number;
  readonly #counts = new Uint32Array(BUCKETS);
  /** The bucket number (time / bucketMs) each slot holds counts for. */
  readonly #slots = new Float64Array(BUCKETS).fill(-1);

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#bucketMs = Math.max(1, windowMs / BUCKETS);
  }

  /** Records one reset at `now` (ms); true when the window now holds more than the limit. */
  record(now: number): boolean {
    const bucket = Math.floor(now / this.#bucketMs);
    const slot = bucket % BUCKETS;
    if (this.#slots[slot] !== bucket) {
      this.#slots[slot] = bucket;
      this.#counts[slot] = 0;
    }
    this.#counts[slot]!++;
    let total = 0;
    for (let i = 0; i < BUCKETS; i++) if (this.#slots[i]! > bucket - BUCKETS) total += this.#counts[i]!;
    return total > this.#limit;
  }
}
