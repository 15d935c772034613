// Where the configuration pipeline runs, as `certgate serve` chooses it: one process (the Gateway:
// store, compiler and ingress together) or a primary with ingress workers (ClusterPrimary). Either
// is a ControlPlaneHost, so the management API runs on it the same way; on a shared store either is
// one replica of several (ReplicatedHost).
import type { Logger } from 'pino';
import { DEFAULT_DRAIN_GRACE_MS, type IngressOptions } from '../ingress/ingress.ts';
import { ENVIRONMENT_TYPE, environmentView } from '../model/resources.ts';
import { Gateway } from './gateway.ts';
import { ClusterPrimary } from './primary.ts';
import { ReplicatedHost } from './replicated-host.ts';
import type { IngressHost } from './ingress-host.ts';
import { hostname } from 'node:os';
import type { SharedStoreLocation } from '../store/open.ts';
import { drainGraceMs } from './route-specs.ts';

export type { IngressHost } from './ingress-host.ts';

export interface IngressHostOptions {
  readonly dataDir: string;
  readonly ingress: IngressOptions;
  /** Ingress processes: 1 runs everything in this one. */
  readonly workers: number;
  /** A postgres:// URL (shared by replicas); unset: the embedded store in the data dir. */
  readonly sharedStore?: SharedStoreLocation;
  /** This replica's name in the shared store's registry (default: the host name). */
  readonly replicaName?: string;
}

/**
 * Starts the pipeline in this process, or forks the workers (each of which must call `runWorker`
 * from cluster.ts with the same ingress options).
 */
export async function startIngressHost(options: IngressHostOptions, log: Logger): Promise<IngressHost> {
  const shared = options.sharedStore ? { sharedStore: options.sharedStore } : {};
  const host = options.workers <= 1 ? await Gateway.start({ dataDir: options.dataDir, ingress: options.ingress, ...shared }, log) : await ClusterPrimary.start(options.dataDir, options.workers, log, options.sharedStore);
  // A store shared by replicas: this one joins their registry, and writes wait for all of them.
  const registry = host.store.replicas;
  if (!registry) return host;
  try {
    return await ReplicatedHost.start(host, registry, { name: options.replicaName ?? hostname() }, log);
  } catch (error) {
    await host.close(0);
    throw error;
  }
}

/** How long a stop lets requests in flight finish: the environments' largest terminationGracePeriodSeconds, else 10 s. */
export async function stopGraceMs(host: IngressHost): Promise<number> {
  // A store that cannot be read (down) must not stop the stop: the default applies.
  const environments = await host.store.list({ type: ENVIRONMENT_TYPE }).catch(() => []);
  return drainGraceMs(environments.map(environmentView)) ?? DEFAULT_DRAIN_GRACE_MS;
}
