// The ACA ingress members certgate enforces only in part: each value it cannot apply is refused
// here with a 400 that says so and names the JSON path, never stored and ignored (issue 11).
import type { IngressSettings } from '../../model/ingress.ts';
import { compileCors, CorsPolicyError, type CorsPolicySettings } from '../../ingress/http/cors.ts';
import { errors } from '../arm/errors.ts';

const AT = 'properties.configuration.ingress';

interface PortMapping {
  readonly external?: boolean;
  readonly targetPort?: number;
  readonly exposedPort?: number;
}

/** The TCP ports an app's ingress exposes, each with the JSON path that names it. */
export function exposedPorts(ingress: IngressSettings | undefined): { port: number; target: string }[] {
  if (!ingress) return [];
  const out: { port: number; target: string }[] = [];
  if (ingress.transport === 'tcp' && ingress.exposedPort) out.push({ port: ingress.exposedPort, target: `${AT}.exposedPort` });
  for (const [index, mapping] of ((ingress['additionalPortMappings'] as readonly PortMapping[] | undefined) ?? []).entries()) {
    const port = mapping.exposedPort || mapping.targetPort;
    if (port) out.push({ port, target: `${AT}.additionalPortMappings[${index}].${mapping.exposedPort ? 'exposedPort' : 'targetPort'}` });
  }
  return out;
}

/**
 * Exposed ports are the gateway's, shared by every app: one app per port, never one of the
 * gateway's own ports (a 400), nor another app's (409 PortInUse).
 */
export function checkExposedPorts(ingress: IngressSettings, reserved: readonly number[], others: readonly { id: string; ingress: IngressSettings | undefined }[]): void {
  const mine = new Map<number, string>();
  for (const { port, target } of exposedPorts(ingress)) {
    if (mine.has(port)) throw errors.invalidParameter(`The port ${port} is exposed twice by this app.`, target);
    if (reserved.includes(port)) throw errors.invalidParameter(`The port ${port} is one of certgate's own ports (HTTPS, HTTP or management): choose another exposed port.`, target);
    mine.set(port, target);
  }
  for (const other of others) {
    for (const { port } of exposedPorts(other.ingress)) {
      const target = mine.get(port);
      if (target) throw errors.conflict('PortInUse', `The port ${port} is already exposed by the container app '${other.id}'.`, target);
    }
  }
}

interface TrafficWeight {
  readonly revisionName?: string;
  readonly weight?: number;
  readonly latestRevision?: boolean;
  readonly label?: string;
}

/** Throws a 400 for the first member value the ingress would not apply. */
export function checkIngressFeatures(appName: string, ingress: IngressSettings): void {
  if (ingress['targetPortHttpScheme'] === 'https' && ingress.transport === 'http2') {
    throw errors.invalidParameter("targetPortHttpScheme 'https' with transport 'http2' is not supported: certgate speaks HTTP/2 to apps only as h2c (cleartext). Use transport 'auto' or 'http' for TLS to the app.", `${AT}.targetPortHttpScheme`);
  }
  const tcp = ingress.transport === 'tcp';
  if (tcp && !ingress.exposedPort) {
    throw errors.invalidParameter("transport 'tcp' needs an exposedPort: the port the ingress listens on for this app (TCP apps have no host name route).", `${AT}.exposedPort`);
  }
  if (!tcp && ingress.exposedPort) {
    throw errors.invalidParameter("exposedPort is the port of a TCP app: it needs transport 'tcp' (leave it 0 or unset for HTTP apps).", `${AT}.exposedPort`);
  }
  const mappings = (ingress['additionalPortMappings'] as readonly PortMapping[] | undefined) ?? [];
  if (tcp || mappings.length > 0) {
    // Bytes on a TCP port carry no host name, TLS of the ingress or HTTP: these would not apply there.
    for (const member of ['ipSecurityRestrictions', 'customDomains', 'corsPolicy'] as const) {
      const value = ingress[member] as readonly unknown[] | object | undefined;
      if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
      if (!tcp && member !== 'ipSecurityRestrictions') continue;
      throw errors.invalidParameter(
        `${member} is not applied to TCP ports (${tcp ? "transport 'tcp'" : 'additionalPortMappings'}): certgate proxies their bytes as they come.${member === 'ipSecurityRestrictions' ? ' IP restrictions on TCP ports are not implemented.' : ''}`,
        `${AT}.${member}`,
      );
    }
    if (tcp && ingress.allowInsecure === true) {
      throw errors.invalidParameter("allowInsecure has no meaning for transport 'tcp' (no HTTP, no redirect); leave it false.", `${AT}.allowInsecure`);
    }
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
  // A label's host name (`<app>---<label>.<domain>`) is not served: stored, it would promise one.
  if (entry.label !== undefined) {
    throw errors.invalidParameter(`certgate has no revision labels: the host name '${appName}---${entry.label}.<environment domain>' would not be served. Remove the label; the value is refused rather than stored and not enforced.`, `${at}.label`);
  }
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
