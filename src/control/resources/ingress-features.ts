// The ACA ingress members certgate enforces only in part: each value it cannot apply is refused
// here with a 400 that says so and names the JSON path, never stored and ignored (issue 11).
import type { IngressSettings } from '../../model/ingress.ts';
import { compileCors, CorsPolicyError, type CorsPolicySettings } from '../../ingress/cors.ts';
import { errors } from '../arm/errors.ts';

const AT = 'properties.configuration.ingress';

interface TrafficWeight {
  readonly revisionName?: string;
  readonly weight?: number;
  readonly latestRevision?: boolean;
  readonly label?: string;
}

/** Throws a 400 for the first member value the ingress would not apply. */
export function checkIngressFeatures(appName: string, ingress: IngressSettings): void {
  if (ingress.transport === 'tcp') {
    throw errors.invalidParameter("transport 'tcp' is not served: certgate's ingress proxies HTTP only and has no TCP listeners yet. Use 'auto' or 'http'.", `${AT}.transport`);
  }
  if (ingress['targetPortHttpScheme'] === 'https' && ingress.transport === 'http2') {
    throw errors.invalidParameter("targetPortHttpScheme 'https' with transport 'http2' is not supported: certgate speaks HTTP/2 to apps only as h2c (cleartext). Use transport 'auto' or 'http' for TLS to the app.", `${AT}.targetPortHttpScheme`);
  }
  if (ingress.exposedPort !== undefined && ingress.exposedPort !== 0) {
    throw errors.invalidParameter('exposedPort is the port of a TCP app (transport tcp), which certgate does not serve yet; leave it 0 or unset.', `${AT}.exposedPort`);
  }
  const mappings = ingress['additionalPortMappings'] as readonly unknown[] | undefined;
  if (mappings !== undefined && mappings.length > 0) {
    throw errors.invalidParameter('additionalPortMappings (extra exposed ports) are not served: certgate serves each app on its HTTPS (and HTTP) port only.', `${AT}.additionalPortMappings[0]`);
  }
  checkTraffic(appName, ingress['traffic'] as readonly TrafficWeight[] | undefined);
  const sticky = ingress['stickySessions'] as { affinity?: string } | undefined;
  if (sticky?.affinity === 'sticky') {
    throw errors.invalidParameter("stickySessions affinity 'sticky' is not supported: certgate has no revisions or replicas, so there is only one backend to stick to and no affinity cookie is set. Use 'none'.", `${AT}.stickySessions.affinity`);
  }
  const cors = ingress['corsPolicy'] as CorsPolicySettings | undefined;
  if (cors !== undefined) {
    try {
      compileCors(cors);
    } catch (error) {
      if (error instanceof CorsPolicyError) throw errors.invalidParameter(error.message, `${AT}.corsPolicy.${error.path}`);
      throw error;
    }
  }
}

/**
 * certgate serves one revision per app (`<name>--certgate`, always the latest): the only traffic
 * split it can honour is all of it to that revision.
 */
function checkTraffic(appName: string, traffic: readonly TrafficWeight[] | undefined): void {
  if (traffic === undefined || traffic.length === 0) return;
  const only = `certgate serves one revision per app (the latest, '${appName}--certgate'): traffic can only send 100% to it, as [{ "latestRevision": true, "weight": 100 }].`;
  if (traffic.length > 1) throw errors.invalidParameter(`${only} Traffic splitting between revisions is not supported.`, `${AT}.traffic[1]`);
  const [entry] = traffic as [TrafficWeight];
  const at = `${AT}.traffic[0]`;
  if (entry.revisionName !== undefined && entry.revisionName !== `${appName}--certgate`) {
    throw errors.invalidParameter(`The revision '${entry.revisionName}' does not exist: ${only}`, `${at}.revisionName`);
  }
  if (entry.revisionName !== undefined && entry.latestRevision === true) {
    throw errors.invalidParameter('A traffic entry names either a revisionName or latestRevision: true, not both.', `${at}.revisionName`);
  }
  if (entry.revisionName === undefined && entry.latestRevision !== true) {
    throw errors.invalidParameter(`A traffic entry needs latestRevision: true or a revisionName. ${only}`, `${at}.latestRevision`);
  }
  if (entry.weight !== 100) throw errors.invalidParameter(`The weight must be 100: ${only}`, `${at}.weight`);
}
