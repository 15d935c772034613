// Whether every live replica enforces a revision yet: pure, from the registry's reports.
import { mergeOutcomes, type RevisionOutcome } from '../model/outcome.ts';
import type { ReplicaReport } from '../store/replicas.ts';

export interface ReplicaProgress {
  /** Live replicas still serving an older revision: the write waits for them. */
  readonly pending: readonly string[];
  /** Replicas that stopped heartbeating: not waited for, named in the answer's diagnostics. */
  readonly stale: readonly string[];
  /** When nothing is pending: the worst outcome of this replica's and the live others'. */
  readonly outcome?: RevisionOutcome;
}

/** `local` is this replica's own outcome for `revision`; `self` its name (its report may lag). */
export function replicaProgress(reports: readonly ReplicaReport[], self: string, revision: number, local: RevisionOutcome): ReplicaProgress {
  const others = reports.filter((report) => report.name !== self);
  const live = others.filter((report) => report.live);
  const stale = others.filter((report) => !report.live).map((report) => report.name);
  const pending = live.filter((report) => report.revision < revision).map((report) => report.name);
  if (pending.length > 0) return { pending, stale };
  const merged = mergeOutcomes([local, ...live.map((report) => report.outcome)]);
  return { pending, stale, outcome: stale.length > 0 ? { ...merged, staleReplicas: stale } : merged };
}
