// The replica registry of a shared store: every replica records the revision it serves (with that
// compilation's outcome) and a heartbeat, so a writer can wait until every live replica enforces
// its write, and diagnostics can name the replicas that stopped heartbeating.
import type { RevisionOutcome } from '../model/outcome.ts';

export interface ReplicaReport {
  readonly name: string;
  /** The revision it serves (its last compilation's). */
  readonly revision: number;
  readonly outcome: RevisionOutcome;
  /** ISO time of its last report. */
  readonly lastHeartbeat: string;
  /** Whether it reported recently enough (by the database's clock) to be waited for. */
  readonly live: boolean;
}

export interface ReplicaRegistry {
  /** Records that `name` is alive and what it serves. */
  report(name: string, outcome: RevisionOutcome): Promise<void>;
  /** A replica that stops cleanly leaves the registry (no one waits for it, no one reports it stale). */
  remove(name: string): Promise<void>;
  list(): Promise<ReplicaReport[]>;
  /** Called when some replica serves a new revision (to wake writers waiting for it). */
  onReport(listener: () => void): () => void;
}
