// ARM documents → route specs: the one place that reads environments, apps and certificates for
// the ingress. Each app becomes a CompiledApp (its client-certificate policy decided here, once,
// from the mode; upstream, IP rules, HSTS, stripped headers) and the host names it is served at
// (model/hostnames.ts hostNamesOf, the list the control plane checks conflicts against), each
// with its server certificate; TCP apps become port routes. The ingress (src/ingress/snapshot.ts)
// builds TLS policies and routes from these specs only. Pure: what is left out is returned as
// problems naming the resource.
import { clientCertificatePolicy, DEFAULT_TARGET_HOST, hstsHeaderValue } from '../model/ingress.ts';
import { hostNamesOf, normalizeHostname } from '../model/hostnames.ts';
import { resourceKey, type AppView, type EnvironmentView } from '../model/resources.ts';
import type { ConfigurationProblem, ConfigurationProblemCode } from '../model/outcome.ts';
import { foldHeaderName } from '../ingress/http/identity-headers.ts';
import { compileIpRules, type IpMatcher } from '../ingress/listener/ip-rules.ts';
import { compileCors, type CompiledCors, type CorsPolicySettings } from '../ingress/http/cors.ts';
import { DEFAULT_HEADER_COUNT_LIMIT, type CompiledApp, type EnvironmentDomainSpec, type HostSpec, type RouteSpec, type ServerCredentials, type Upstream } from '../ingress/snapshot.ts';
import type { TcpRoute } from '../ingress/snapshot.ts';
import { compileVerification, type VerificationSettings } from '../ingress/verify/policy.ts';
import type { TrustMaterial } from '../model/trust.ts';

export interface RouteSpecInput {
  readonly environments: readonly EnvironmentView[];
  readonly apps: readonly AppView[];
  /** Wildcard certificate of each environment's default domain, by environment resource key. */
  readonly environmentCertificates: ReadonlyMap<string, ServerCredentials>;
  /** The wildcard certificate of each environment's DNS suffix (customDomainConfiguration), by environment resource key. */
  readonly dnsSuffixCertificates?: ReadonlyMap<string, ServerCredentials>;
  /** Uploaded environment certificates, by certificate resource key. */
  readonly uploadedCertificates: ReadonlyMap<string, ServerCredentials>;
  /** Client-certificate trust material (certgate certificate types), by certificate resource key. */
  readonly trustMaterial?: ReadonlyMap<string, TrustMaterial>;
}

export interface RouteSpecs {
  /** Sorted by app id, so that a host-name conflict always resolves the same way. */
  readonly specs: readonly RouteSpec[];
  /** TCP listeners: exposed port → app (transport tcp on exposedPort, and additionalPortMappings). */
  readonly tcpPorts: ReadonlyMap<number, TcpRoute>;
  /** The largest terminationGracePeriodSeconds any environment sets, in ms (drainGraceMs). */
  readonly drainGraceMs: number | undefined;
  /** Each environment's domains with their wildcard certificates: what a name no app claims there gets. */
  readonly environmentDomains: readonly EnvironmentDomainSpec[];
  readonly problems: readonly ConfigurationProblem[];
}

/**
 * One app's part of the route specs, a function of the app and of the documents it read (`reads`):
 * the gateway keeps it while none of those changes, and rebuilds only the apps a change touches.
 */
export interface AppSpec {
  readonly key: string;
  readonly id: string;
  /** Undefined when the app is not served by name (a TCP app, or left out). */
  readonly spec: RouteSpec | undefined;
  /** In order: its problems, and the TCP ports it claims (a port two apps claim goes to the first by id). */
  readonly steps: readonly AppSpecStep[];
  /** The resource keys whose documents this result depends on (its environment, the certificates it named). */
  readonly reads: ReadonlySet<string>;
}

export type AppSpecStep = { readonly problem: ConfigurationProblem } | { readonly exposed: number; readonly route: TcpRoute; readonly where: string };

/** The order of specs: by app key (as String.localeCompare orders; one collator is faster), so a host-name or port conflict always resolves the same way. */
export const compareAppKeys: (a: string, b: string) => number = new Intl.Collator().compare;

export function buildRouteSpecs(input: RouteSpecInput): RouteSpecs {
  const environments = new Map(input.environments.map((env) => [resourceKey(env.id), env]));
  const apps = input.apps.map((app) => buildAppSpec(app, { ...input, environments })).sort((a, b) => compareAppKeys(a.key, b.key));
  return assembleRouteSpecs(apps, input);
}

/** The per-app results (sorted by compareAppKeys) → the route specs, with port conflicts resolved. */
export function assembleRouteSpecs(apps: readonly AppSpec[], input: Pick<RouteSpecInput, 'environments' | 'environmentCertificates' | 'dnsSuffixCertificates'>): RouteSpecs {
  const problems: ConfigurationProblem[] = [];
  const specs: RouteSpec[] = [];
  const tcpPorts = new Map<number, TcpRoute>();
  for (const app of apps) {
    for (const step of app.steps) {
      if ('problem' in step) {
        problems.push(step.problem);
        continue;
      }
      const existing = tcpPorts.get(step.exposed);
      if (existing) problems.push({ resource: app.id, related: [existing.appId], reason: 'port_taken', message: `${step.where}: port ${step.exposed} is already served for ${existing.appId}; left out` });
      else tcpPorts.set(step.exposed, step.route);
    }
    if (app.spec) specs.push(app.spec);
  }
  return { specs, tcpPorts, drainGraceMs: drainGraceMs(input.environments), environmentDomains: environmentDomainsOf(input), problems };
}

/** What one app's spec is built from: the documents, by resource key. */
export type AppSpecContext = Omit<RouteSpecInput, 'apps' | 'environments'> & { readonly environments: ReadonlyMap<string, EnvironmentView> };

export function buildAppSpec(app: AppView, context: AppSpecContext): AppSpec {
  const steps: AppSpecStep[] = [];
  const reads = new Set<string>();
  const key = resourceKey(app.id);
  const done = (spec?: RouteSpec): AppSpec => ({ key, id: app.id, spec, steps, reads });
  const problem = (resource: string, reason: ConfigurationProblemCode, message: string, related?: string) =>
    steps.push({ problem: related === undefined ? { resource, reason, message } : { resource, related: [related], reason, message } });
  /** A certificate looked up is a document read: its creation, change or deletion rebuilds this app. */
  const certificate = <T>(map: ReadonlyMap<string, T> | undefined, id: string): T | undefined => {
    reads.add(resourceKey(id));
    return map?.get(resourceKey(id));
  };
  const ingress = app.ingress;
  if (!ingress) return done();
  const host = ingress.targetHost ?? DEFAULT_TARGET_HOST;
  const addTcp = (exposed: number | undefined, target: number | undefined, external: boolean, where: string) => {
    if (!exposed || !target) {
      problem(app.id, 'port_missing', `${where} names no exposed or target port; left out`);
      return;
    }
    steps.push({ exposed, route: Object.freeze({ appId: app.id, external, host, port: target }), where });
  };
  for (const [index, mapping] of ((ingress['additionalPortMappings'] as { external?: boolean; targetPort?: number; exposedPort?: number }[] | undefined) ?? []).entries()) {
    addTcp(mapping.exposedPort || mapping.targetPort, mapping.targetPort, mapping.external === true, `additionalPortMappings[${index}]`);
  }
  if (ingress.transport === 'tcp') {
    // A TCP app has no host name route: it is reached on its exposed port only.
    addTcp(ingress.exposedPort, ingress.targetPort, ingress.external !== false, 'exposedPort');
    return done();
  }
  reads.add(resourceKey(app.environmentId));
  const environment = context.environments.get(resourceKey(app.environmentId));
  if (!environment) {
    problem(app.id, 'environment_missing', `environment ${app.environmentId} does not exist; left out`, app.environmentId);
    return done();
  }
  const clientCertificate = clientCertificatePolicy(ingress.clientCertificateMode);
  if (!clientCertificate) {
    // The control plane validates modes; a bad one here means a corrupt store. Fail closed.
    problem(app.id, 'mode_invalid', `clientCertificateMode ${String(ingress.clientCertificateMode)} is not valid; left out`);
    return done();
  }
  let ipRules: IpMatcher | undefined;
  try {
    ipRules = compileIpRules(ingress.ipSecurityRestrictions);
  } catch (error) {
    // The control plane validates the rules; a bad one here means a corrupt store. Fail closed.
    problem(app.id, 'ip_rules_invalid', `${(error as Error).message}; left out`);
    return done();
  }
  let cors: CompiledCors | undefined;
  try {
    cors = ingress['corsPolicy'] ? compileCors(ingress['corsPolicy'] as CorsPolicySettings) : undefined;
  } catch (error) {
    // The control plane refuses such policies; one here means a corrupt store. Fail closed.
    problem(app.id, 'cors_invalid', `corsPolicy is not valid (${(error as Error).message}); left out`);
    return done();
  }
  const environmentScope = `${resourceKey(environment.id)}/certificates/`;
  const verification = compileVerification(ingress as VerificationSettings, clientCertificate.mode, (id) =>
    resourceKey(id).startsWith(environmentScope) ? certificate(context.trustMaterial, id) : undefined,
  );
  if (!verification.ok) {
    // Fail closed (as Gateway API requires): an app whose trust cannot be built is not served at all, never served unverified.
    problem(app.id, 'verification_invalid', `ingress.${verification.path}: ${verification.message}; left out`);
    return done();
  }
  const settings = environment.ingressConfiguration;
  const idleMinutes = settings?.requestIdleTimeout;
  const compiled: CompiledApp = Object.freeze({
    key,
    id: app.id,
    name: app.name,
    mode: clientCertificate.mode,
    clientCertificate,
    ...(verification.verification === undefined ? {} : { verification: verification.verification }),
    allowInsecure: ingress.allowInsecure === true,
    upstream: upstreamOf(ingress.targetHost, ingress.targetPort, idleMinutes === undefined ? undefined : idleMinutes * 60_000, ingress.transport === 'http2' ? 'h2c' : 'http1', ingress['targetPortHttpScheme'] === 'https'),
    external: ingress.external !== false,
    ipRules,
    stripHeaders: stripHeadersOf(environment.stripHeaders),
    ...rfc9440Of(ingress['clientCertificateForwarding']),
    hsts: hstsHeaderValue(ingress.hsts),
    cors,
    headerCountLimit: settings?.headerCountLimit ?? DEFAULT_HEADER_COUNT_LIMIT,
  });
  for (const [index, domain] of (ingress.customDomains ?? []).entries()) {
    // The control plane refuses such names; one here means a corrupt store (hostNamesOf skips it).
    if (!normalizeHostname(domain.name)) problem(app.id, 'hostname_invalid', `custom domain ${JSON.stringify(domain.name)} (customDomains[${index}]) is not a valid host name; left out`);
  }
  const hosts: HostSpec[] = [];
  for (const host of hostNamesOf(app.name, environment.defaultDomain, ingress.customDomains, environment.dnsSuffix)) {
    if (host.source === 'dnsSuffix') {
      const credentials = context.dnsSuffixCertificates?.get(resourceKey(environment.id));
      if (credentials) hosts.push({ hostname: host.name, credentials, credentialsFrom: environment.id });
      else problem(app.id, 'environment_certificate_missing', `environment ${environment.id} has no usable certificate for its DNS suffix ${environment.dnsSuffix}; ${host.name} not served`, environment.id);
      continue;
    }
    if (host.source === 'default') {
      const credentials = context.environmentCertificates.get(resourceKey(environment.id));
      if (credentials) hosts.push({ hostname: host.name, credentials, credentialsFrom: environment.id });
      else problem(app.id, 'environment_certificate_missing', `environment ${environment.id} has no server certificate; default domain not served`, environment.id);
      continue;
    }
    const certificateId = host.certificateId;
    const credentials = certificateId ? certificate(context.uploadedCertificates, certificateId) : undefined;
    if (!credentials && host.auto) continue; // `Auto`: served once its (managed) certificate is issued.
    if (!credentials || !certificateId) {
      problem(app.id, 'certificate_missing', `custom domain ${host.name} has no usable certificate (${certificateId ?? 'none'}); left out`, certificateId);
      continue;
    }
    hosts.push({ hostname: host.name, credentials, credentialsFrom: certificateId });
  }
  return done(Object.freeze({ app: compiled, hosts: Object.freeze(hosts) }));
}

/** Each environment's default domain with the wildcard the local CA issued for it, and its DNS suffix with the uploaded one. */
function environmentDomainsOf(input: Pick<RouteSpecInput, 'environments' | 'environmentCertificates' | 'dnsSuffixCertificates'>): EnvironmentDomainSpec[] {
  const out: EnvironmentDomainSpec[] = [];
  const add = (environment: EnvironmentView, name: string | undefined, credentials: ServerCredentials | undefined) => {
    const domain = name === undefined ? undefined : normalizeHostname(name);
    if (credentials && domain) out.push(Object.freeze({ domain, environmentId: environment.id, environmentName: environment.name, credentials }));
  };
  for (const environment of input.environments) {
    add(environment, environment.defaultDomain, input.environmentCertificates.get(resourceKey(environment.id)));
    add(environment, environment.dnsSuffix, input.dnsSuffixCertificates?.get(resourceKey(environment.id)));
  }
  return out;
}

/** The largest terminationGracePeriodSeconds the environments set, in ms; undefined when none sets one. */
export function drainGraceMs(environments: readonly EnvironmentView[]): number | undefined {
  let longest: number | undefined;
  for (const env of environments) {
    const seconds = env.ingressConfiguration?.terminationGracePeriodSeconds;
    if (seconds !== undefined) longest = Math.max(longest ?? 0, seconds * 1_000);
  }
  return longest;
}

/** One set per environment would do; apps are few enough that one per app costs nothing. */
function stripHeadersOf(names: readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (names === undefined || names.length === 0) return undefined;
  return new Set(names.map((name) => foldHeaderName(name.toLowerCase())));
}

function upstreamOf(targetHost: string | undefined, targetPort: number | undefined, requestIdleTimeoutMs: number | undefined, protocol: 'http1' | 'h2c', tls: boolean): Upstream | undefined {
  if (targetPort === undefined || !Number.isInteger(targetPort) || targetPort < 1 || targetPort > 65535) return undefined;
  const host = targetHost ?? DEFAULT_TARGET_HOST;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  // h2c is cleartext by definition: with transport http2 the scheme is ignored (the control plane refuses both together).
  const secure = tls && protocol === 'http1';
  const origin = `${secure ? 'https' : 'http'}://${hostInUrl}:${targetPort}`;
  const poolKey = `${origin}${protocol === 'h2c' ? ' h2c' : ''}${requestIdleTimeoutMs === undefined ? '' : ` idle=${requestIdleTimeoutMs}`}`;
  return Object.freeze({ host, port: targetPort, origin, requestIdleTimeoutMs, poolKey, protocol, tls: secure });
}

/** clientCertificateForwarding (certgate): `Xfcc` (the default) adds nothing. */
function rfc9440Of(value: unknown): { rfc9440?: 'both' | 'rfc9440' } {
  if (value === 'Both') return { rfc9440: 'both' };
  if (value === 'Rfc9440') return { rfc9440: 'rfc9440' };
  return {};
}
