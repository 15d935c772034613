// Where the configuration pipeline runs, as `certgate serve` chooses it: one process (the Gateway:
// store, compiler and ingress together) or a primary with ingress workers (ClusterPrimary). Either
// is a ControlPlaneHost, so the management API runs on it the same way.
import type { Logger } from 'pino';
import type { ControlPlaneHost } from '../control/control-plane.ts';
import { DEFAULT_DRAIN_GRACE_MS, type IngressAddresses, type IngressOptions } from '../ingress/ingress.ts';
import { ENVIRONMENT_TYPE, environmentView } from '../model/resources.ts';
import { Gateway } from './gateway.ts';
import { ClusterPrimary } from './primary.ts';
import { drainGraceMs } from './route-specs.ts';

export interface IngressHost extends ControlPlaneHost {
  readonly addresses: IngressAddresses;
  /** The ingress's own ports (HTTPS, HTTP): no app may expose them as TCP ports. */
  reservedPorts(): readonly number[];
  /** Stops accepting, lets requests in flight finish (at most graceMs), closes the store. */
  close(graceMs?: number): Promise<void>;
}

export interface IngressHostOptions {
  readonly dataDir: string;
  readonly ingress: IngressOptions;
  /** Ingress processes: 1 runs everything in this one. */
  readonly workers: number;
}

/**
 * Starts the pipeline in this process, or forks the workers (each of which must call `runWorker`
 * from cluster.ts with the same ingress options).
 */
export function startIngressHost(options: IngressHostOptions, log: Logger): Promise<IngressHost> {
  return options.workers <= 1 ? Gateway.start({ dataDir: options.dataDir, ingress: options.ingress }, log) : ClusterPrimary.start(options.dataDir, options.workers, log);
}

/** How long a stop lets requests in flight finish: the environments' largest terminationGracePeriodSeconds, else 10 s. */
export async function stopGraceMs(host: IngressHost): Promise<number> {
  // A store that cannot be read (down) must not stop the stop: the default applies.
  const environments = await host.store.list({ type: ENVIRONMENT_TYPE }).catch(() => []);
  return drainGraceMs(environments.map(environmentView)) ?? DEFAULT_DRAIN_GRACE_MS;
}
