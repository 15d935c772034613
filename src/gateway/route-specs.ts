// ARM documents → route specs: the one place that reads environments, apps and certificates for
// the ingress. Each app becomes a CompiledApp (its client-certificate policy decided here, once,
// from the mode; upstream, IP rules, HSTS, stripped headers) and the host names it is served at
// (model/hostnames.ts hostNamesOf, the list the control plane checks conflicts against), each
// with its server certificate. The ingress (src/ingress/snapshot.ts) builds TLS policies and
// routes from these specs only. Pure: what is left out is returned as problems naming the resource.
import { clientCertificatePolicy, DEFAULT_TARGET_HOST, hstsHeaderValue } from '../model/ingress.ts';
import { hostNamesOf, normalizeHostname } from '../model/hostnames.ts';
import { resourceKey, type AppView, type EnvironmentView } from '../model/resources.ts';
import type { ConfigurationProblem } from '../model/outcome.ts';
import { foldHeaderName } from '../ingress/identity-headers.ts';
import { compileIpRules, type IpMatcher } from '../ingress/ip-rules.ts';
import type { CompiledApp, HostSpec, RouteSpec, ServerCredentials, Upstream } from '../ingress/snapshot.ts';

export interface RouteSpecInput {
  readonly environments: readonly EnvironmentView[];
  readonly apps: readonly AppView[];
  /** Wildcard certificate of each environment's default domain, by environment resource key. */
  readonly environmentCertificates: ReadonlyMap<string, ServerCredentials>;
  /** Uploaded environment certificates, by certificate resource key. */
  readonly uploadedCertificates: ReadonlyMap<string, ServerCredentials>;
}

export interface RouteSpecs {
  /** Sorted by app id, so that a host-name conflict always resolves the same way. */
  readonly specs: readonly RouteSpec[];
  readonly problems: readonly ConfigurationProblem[];
}

export function buildRouteSpecs(input: RouteSpecInput): RouteSpecs {
  const problems: ConfigurationProblem[] = [];
  const problem = (resource: string, reason: string, message: string, related?: string) =>
    problems.push(related === undefined ? { resource, reason, message } : { resource, related: [related], reason, message });
  const environments = new Map(input.environments.map((env) => [resourceKey(env.id), env]));
  const specs: RouteSpec[] = [];
  const apps = [...input.apps].sort((a, b) => resourceKey(a.id).localeCompare(resourceKey(b.id)));
  for (const app of apps) {
    const ingress = app.ingress;
    if (!ingress) continue;
    if (ingress.transport === 'tcp') {
      problem(app.id, 'transport_unsupported', 'transport tcp is not served by the HTTP ingress; left out');
      continue;
    }
    const environment = environments.get(resourceKey(app.environmentId));
    if (!environment) {
      problem(app.id, 'environment_missing', `environment ${app.environmentId} does not exist; left out`, app.environmentId);
      continue;
    }
    const clientCertificate = clientCertificatePolicy(ingress.clientCertificateMode);
    if (!clientCertificate) {
      // The control plane validates modes; a bad one here means a corrupt store. Fail closed.
      problem(app.id, 'mode_invalid', `clientCertificateMode ${String(ingress.clientCertificateMode)} is not valid; left out`);
      continue;
    }
    let ipRules: IpMatcher | undefined;
    try {
      ipRules = compileIpRules(ingress.ipSecurityRestrictions);
    } catch (error) {
      // The control plane validates the rules; a bad one here means a corrupt store. Fail closed.
      problem(app.id, 'ip_rules_invalid', `${(error as Error).message}; left out`);
      continue;
    }
    const compiled: CompiledApp = Object.freeze({
      key: resourceKey(app.id),
      id: app.id,
      name: app.name,
      mode: clientCertificate.mode,
      clientCertificate,
      allowInsecure: ingress.allowInsecure === true,
      upstream: upstreamOf(ingress.targetHost, ingress.targetPort),
      external: ingress.external !== false,
      ipRules,
      stripHeaders: stripHeadersOf(environment.stripHeaders),
      hsts: hstsHeaderValue(ingress.hsts),
    });
    for (const [index, domain] of (ingress.customDomains ?? []).entries()) {
      // The control plane refuses such names; one here means a corrupt store (hostNamesOf skips it).
      if (!normalizeHostname(domain.name)) problem(app.id, 'hostname_invalid', `custom domain ${JSON.stringify(domain.name)} (customDomains[${index}]) is not a valid host name; left out`);
    }
    const hosts: HostSpec[] = [];
    for (const host of hostNamesOf(app.name, environment.defaultDomain, ingress.customDomains)) {
      if (host.source === 'default') {
        const credentials = input.environmentCertificates.get(resourceKey(environment.id));
        if (credentials) hosts.push({ hostname: host.name, credentials, credentialsFrom: environment.id });
        else problem(app.id, 'environment_certificate_missing', `environment ${environment.id} has no server certificate; default domain not served`, environment.id);
        continue;
      }
      const certificateId = host.certificateId;
      const credentials = certificateId ? input.uploadedCertificates.get(resourceKey(certificateId)) : undefined;
      if (!credentials || !certificateId) {
        problem(app.id, 'certificate_missing', `custom domain ${host.name} has no usable certificate (${certificateId ?? 'none'}); left out`, certificateId);
        continue;
      }
      hosts.push({ hostname: host.name, credentials, credentialsFrom: certificateId });
    }
    specs.push(Object.freeze({ app: compiled, hosts: Object.freeze(hosts) }));
  }
  return { specs, problems };
}

/** One set per environment would do; apps are few enough that one per app costs nothing. */
function stripHeadersOf(names: readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (names === undefined || names.length === 0) return undefined;
  return new Set(names.map((name) => foldHeaderName(name.toLowerCase())));
}

function upstreamOf(targetHost: string | undefined, targetPort: number | undefined): Upstream | undefined {
  if (targetPort === undefined || !Number.isInteger(targetPort) || targetPort < 1 || targetPort > 65535) return undefined;
  const host = targetHost ?? DEFAULT_TARGET_HOST;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  return Object.freeze({ host, port: targetPort, origin: `http://${hostInUrl}:${targetPort}` });
}
