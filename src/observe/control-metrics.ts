// The configuration pipeline's metrics, kept where writes are committed (the single process, or the
// primary of --workers): the time from a committed write to the ingress enforcing it everywhere.
// (The revision applied and the snapshot build failures are counted by each ingress: metrics.ts.)
import { Histogram, type Registry } from 'prom-client';

const ENFORCEMENT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Commits not yet enforced that are remembered (a failing snapshot must not grow the map). */
const MAX_PENDING = 1_024;

export class EnforcementClock {
  readonly #histogram: Histogram;
  /** Revision → performance.now() at its commit, oldest first. */
  readonly #pending = new Map<number, number>();

  constructor(registry: Registry) {
    this.#histogram = new Histogram({
      name: 'certgate_config_enforcement_seconds',
      help: 'From a committed configuration write to the ingress enforcing it (every worker)',
      buckets: ENFORCEMENT_BUCKETS,
      registers: [registry],
    });
  }

  committed(revision: number): void {
    if (this.#pending.size >= MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value!);
    this.#pending.set(revision, performance.now());
  }

  /** Every commit up to `revision` is now enforced. */
  enforced(revision: number): void {
    if (this.#pending.size === 0) return;
    const now = performance.now();
    for (const [committed, at] of this.#pending) {
      if (committed > revision) break;
      this.#histogram.observe((now - at) / 1000);
      this.#pending.delete(committed);
    }
  }
}
