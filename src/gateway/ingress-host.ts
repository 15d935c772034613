// What `certgate serve` runs the management API on: one process, a primary with workers, or either
// as one replica of several (src/gateway/host.ts chooses).
import type { ControlPlaneHost } from '../control/control-plane.ts';
import type { IngressAddresses } from '../ingress/ingress.ts';

export interface IngressHost extends ControlPlaneHost {
  readonly addresses: IngressAddresses;
  /** The ingress's own ports (HTTPS, HTTP): no app may expose them as TCP ports. */
  reservedPorts(): readonly number[];
  /** Stops accepting, lets requests in flight finish (at most graceMs), closes the store. */
  close(graceMs?: number): Promise<void>;
}
