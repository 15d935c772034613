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
  readiness(): Promise<Readiness>;
  /** The most recent refusals of every ingress process, newest first. */
  refusals(top: number): Promise<RefusalEntry[]>;
  /** Ingress processes. */
  readonly workerCount: number;
}

/** The store answers a read (its revision) within 2 s; an error (a closed or broken database) is not reachable. */
export async function storeReachable(read: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([read(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('store read timed out')), 2_000)))]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
