// Writers waiting until the ingress compiled their revision, for the single-process gateway and
// the worker pool alike: each is released with the first outcome that covers its revision
// (served, with what it left out, or failed while the previous snapshot keeps serving).
import type { RevisionOutcome } from '../model/outcome.ts';

export class RevisionWaiters {
  #waiting: { revision: number; resolve: (outcome: RevisionOutcome) => void }[] = [];

  /**
   * Resolves with `current` when it already covers `revision`, else with the first outcome passed
   * to `release` that does. Every waiter is a management request in flight, which the management
   * API bounds; none is left waiting, since every compilation ends in an outcome.
   */
  wait(revision: number, current: RevisionOutcome): Promise<RevisionOutcome> {
    if (current.revision >= revision) return Promise.resolve(current);
    return new Promise((resolve) => this.#waiting.push({ revision, resolve }));
  }

  /** Releases the writers whose revision `outcome` covers. */
  release(outcome: RevisionOutcome): void {
    if (this.#waiting.length === 0) return;
    const ready = this.#waiting.filter((waiter) => waiter.revision <= outcome.revision);
    if (ready.length === 0) return;
    this.#waiting = this.#waiting.filter((waiter) => waiter.revision > outcome.revision);
    for (const waiter of ready) waiter.resolve(outcome);
  }

  get size(): number {
    return this.#waiting.length;
  }
}
