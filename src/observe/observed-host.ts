// What the admin listener and the Gateway status API read of the host the pipeline runs in (one
// process, or the primary of --workers): metrics, readiness, the recent refusals.
import type { RefusalEntry } from './refusals.ts';

export interface Readiness {
  readonly ready: boolean;
  readonly checks: {
    /** The ingress listens (every worker started). */
    readonly listening: boolean;
    /** A route snapshot is in service. */
    readonly snapshot: boolean;
    /** The store answers. */
    readonly store: boolean;
  };
  /** The revision the ingress enforces (every worker: the lowest). */
  readonly revision: number;
  /** The last compilation failed (the previous snapshot keeps serving): reported, not unready. */
  readonly lastBuildFailed: boolean;
}

export interface ObservedHost {
  /** The Prometheus exposition of every ingress process (aggregated) and of the host. */
  metrics(): Promise<{ contentType: string; body: string }>;
  readiness(): Readiness;
  /** The most recent refusals of every ingress process, newest first. */
  refusals(top: number): Promise<RefusalEntry[]>;
  /** Ingress processes. */
  readonly workerCount: number;
}

/** The store answers a read (its revision); a thrown error (a closed or broken database) is not reachable. */
export function storeReachable(read: () => unknown): boolean {
  try {
    read();
    return true;
  } catch {
    return false;
  }
}
