// The route snapshot: everything the ingress needs per connection and per request, compiled from
// the store once per change and then only read. SecureContexts are built here, before traffic
// arrives, and reused across snapshots while their inputs are unchanged, so TLS sessions and
// connections made under an unchanged policy stay valid when some other app changes.
import { createHash, createHmac } from 'node:crypto';
import tls from 'node:tls';
import { constants as cryptoConstants } from 'node:crypto';
import { DEFAULT_TARGET_HOST, hstsHeaderValue, normalizeClientCertificateMode, type ClientCertificateMode } from '../model/ingress.ts';
import { foldHeaderName } from './identity-headers.ts';
import { appFqdn, normalizeHostname } from '../model/hostnames.ts';
import { resourceKey, type AppView, type EnvironmentView } from '../model/resources.ts';
import type { ConfigurationProblem, ConfigurationProblemCode } from '../model/outcome.ts';
import { compileIpRules, type IpMatcher } from './ip-rules.ts';
import { compileCors, type CompiledCors, type CorsPolicySettings } from './cors.ts';
import type { TcpRoute } from './tcp-proxy.ts';

/** Key material for a server certificate: PEM pair, or a PKCS12 with its password. */
export type ServerCredentials =
  | { readonly kind: 'pem'; readonly certPem: string; readonly keyPem: string }
  | { readonly kind: 'pkcs12'; readonly pfx: Uint8Array; readonly password: string };

export interface SnapshotInput {
  readonly revision: number;
  readonly environments: readonly EnvironmentView[];
  readonly apps: readonly AppView[];
  /** Wildcard certificate of each environment's default domain, by environment resource key. */
  readonly environmentCertificates: ReadonlyMap<string, ServerCredentials>;
  /** Uploaded environment certificates, by certificate resource key. */
  readonly uploadedCertificates: ReadonlyMap<string, ServerCredentials>;
  /** Served when the SNI is absent or names no app. */
  readonly fallbackCertificate: ServerCredentials;
}

export interface Upstream {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly origin: string;
  /**
   * The environment's requestIdleTimeout when set: the longest the app may take to start its answer
   * or pause within it. Undefined: the ingress's own response and body timeouts.
   */
  readonly requestIdleTimeoutMs?: number | undefined;
  /** The key of the upstream connection pool: the origin, plus protocol and idle timeout when not the defaults. */
  readonly poolKey?: string;
  /** transport `http2`: h2c (HTTP/2 with prior knowledge) to the app; otherwise HTTP/1.1. */
  readonly protocol?: 'http1' | 'h2c';
  /** targetPortHttpScheme `https`: HTTP/1.1 over TLS to the app (its certificate is not verified). */
  readonly tls?: boolean;
}

/** ACA's default headerCountLimit: a request with more header fields gets 431. */
export const DEFAULT_HEADER_COUNT_LIMIT = 100;

/** An app as the ingress serves it. */
export interface CompiledApp {
  readonly key: string;
  readonly id: string;
  readonly name: string;
  readonly mode: ClientCertificateMode;
  readonly allowInsecure: boolean;
  /** Undefined when the app names no targetPort: requests get 503. */
  readonly upstream: Upstream | undefined;
  /** `external: false`: served on the internal listener only. Unset counts as external (see docs/ingress.md). */
  readonly external: boolean;
  /** The app's ipSecurityRestrictions, compiled; undefined when it has none (every client allowed). */
  readonly ipRules: IpMatcher | undefined;
  /** The environment's `stripHeaders`, lower-case with `_` folded into `-`; undefined when none. */
  readonly stripHeaders?: ReadonlySet<string> | undefined;
  /** The Strict-Transport-Security value for HTTPS responses (`ingress.hsts`); undefined when none. */
  readonly hsts?: string | undefined;
  /** corsPolicy, compiled; undefined: the ingress adds no CORS answer. */
  readonly cors?: CompiledCors | undefined;
  /** The environment's headerCountLimit: more header fields than this get 431. */
  readonly headerCountLimit?: number;
}

/**
 * Which listener a connection came in on. External listeners serve external apps only; the
 * internal listener serves every app (in ACA an external app is reachable from inside too).
 */
export type ListenerKind = 'external' | 'internal';

/** How a TLS connection for one host name is set up: the app's policy and the certificate served. */
export interface TlsPolicy {
  readonly secureContext: tls.SecureContext;
  readonly requestCert: boolean;
  /** With requestCert, fails the handshake when the client sends no certificate (`require`). */
  readonly rejectUnauthorized: boolean;
}

export interface Route {
  readonly hostname: string;
  readonly app: CompiledApp;
  readonly tls: TlsPolicy;
}

export interface RouteSnapshot {
  readonly revision: number;
  /** The external listeners' routes: external apps only. */
  readonly routes: ReadonlyMap<string, Route>;
  /** The internal listener's routes: every app, internal and external. */
  readonly internalRoutes: ReadonlyMap<string, Route>;
  readonly fallback: TlsPolicy;
  /**
   * How long a graceful stop waits for requests in flight: the largest terminationGracePeriodSeconds
   * any environment sets (ACA drains per environment; certgate drains the whole process). Undefined
   * when no environment sets one.
   */
  readonly drainGraceMs?: number | undefined;
  /** TCP listeners: exposed port → app (transport tcp on exposedPort, and additionalPortMappings). */
  readonly tcpPorts?: ReadonlyMap<number, TcpRoute>;
}

/** The routes a connection on `listener` may reach; a host missing here is an unknown host there. */
export function routesFor(snapshot: RouteSnapshot, listener: ListenerKind | undefined): ReadonlyMap<string, Route> {
  return listener === 'internal' ? snapshot.internalRoutes : snapshot.routes;
}

export interface CompileResult {
  readonly snapshot: RouteSnapshot;
  /** Things left out of the snapshot, each naming the resource concerned. */
  readonly problems: readonly ConfigurationProblem[];
}

/** Which TLS 1.2 suites are offered (`certgate serve --tls-ciphers`). TLS 1.3 always has its three AEAD suites. */
export const TLS_CIPHER_PROFILES = ['modern', 'compatible'] as const;
export type TlsCipherProfile = (typeof TLS_CIPHER_PROFILES)[number];

/**
 * TLS 1.3 suites in the server's order: AES-128-GCM first (its SHA-256 key schedule and cipher cost
 * less per handshake and per record than AES-256-GCM's SHA-384, as Go and Mozilla order them), and
 * ChaCha20 kept first for clients that prefer it (no AES hardware).
 */
const TLS13_CIPHERS = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/**
 * `modern` (the default): TLS 1.2 with ECDHE key exchange and AEAD only (Mozilla's "intermediate"
 * without DHE). No CBC suite (Lucky13, padding oracles) and no RSA key exchange (no forward secrecy,
 * ROBOT). `compatible`: Node's default list, which adds ECDHE/RSA CBC suites for old clients.
 */
export const CIPHERS: Readonly<Record<TlsCipherProfile, string>> = Object.freeze({
  modern: [
    ...TLS13_CIPHERS,
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
  ].join(':'),
  compatible: [...TLS13_CIPHERS, ...tls.DEFAULT_CIPHERS.split(':').filter((cipher) => !cipher.startsWith('TLS_'))].join(':'),
});

/** TLS settings shared by every context: TLS 1.2+, no renegotiation (HTTP/2 forbids it; it was a DoS vector). */
const BASE_CONTEXT_OPTIONS: tls.SecureContextOptions = Object.freeze({
  minVersion: 'TLSv1.2',
  secureOptions:
    cryptoConstants.SSL_OP_NO_RENEGOTIATION | cryptoConstants.SSL_OP_CIPHER_SERVER_PREFERENCE | cryptoConstants.SSL_OP_PRIORITIZE_CHACHA,
});

/**
 * Keeps SecureContexts (and the TlsPolicy objects that hold them) across compilations. A policy
 * object is reused only for identical inputs, so the ingress can tell by identity whether a
 * connection's policy is still current.
 */
export class TlsPolicyCache {
  #policies = new Map<string, TlsPolicy>();
  #used = new Set<string>();
  readonly #ticketKeySeed: Buffer | undefined;
  readonly #ciphers: string;

  /**
   * @param ticketKeySeed when given, each context's session-ticket keys are derived from it and the
   *   policy, so every worker process that shares the seed can resume the others' sessions (of the
   *   same policy only). Without it each context gets random keys of its own.
   */
  constructor(ticketKeySeed?: Buffer, cipherProfile: TlsCipherProfile = 'modern') {
    this.#ticketKeySeed = ticketKeySeed;
    this.#ciphers = CIPHERS[cipherProfile];
  }

  policy(scope: string, mode: ClientCertificateMode | 'none', credentials: ServerCredentials): TlsPolicy {
    const fingerprint = credentialsFingerprint(credentials);
    const key = `${scope}\n${mode}\n${fingerprint}`;
    this.#used.add(key);
    const cached = this.#policies.get(key);
    if (cached) return cached;
    const secureContext = tls.createSecureContext({ ...BASE_CONTEXT_OPTIONS, ciphers: this.#ciphers, ...contextCredentials(credentials) });
    // A session resumes only on a context with the same id context: tying it to the app, its mode and
    // its certificate stops a session made under one app's (or mode's) policy skipping another's
    // certificate check (nginx CVE-2025-23419). OpenSSL allows at most 32 bytes.
    const sessionIdContext = createHash('sha256').update(key).digest('hex').slice(0, 32);
    const native = (secureContext as unknown as { context: { setSessionIdContext(id: string): void; setTicketKeys(keys: Buffer): void } }).context;
    native.setSessionIdContext(sessionIdContext);
    if (this.#ticketKeySeed) native.setTicketKeys(deriveTicketKeys(this.#ticketKeySeed, key));
    const policy: TlsPolicy = Object.freeze({
      secureContext,
      requestCert: mode === 'accept' || mode === 'require',
      rejectUnauthorized: mode === 'require',
    });
    this.#policies.set(key, policy);
    return policy;
  }

  /** Drops the policies the last compilation did not use. */
  sweep(): void {
    for (const key of this.#policies.keys()) if (!this.#used.has(key)) this.#policies.delete(key);
    this.#used = new Set();
  }
}

export function compileSnapshot(input: SnapshotInput, cache: TlsPolicyCache): CompileResult {
  const problems: ConfigurationProblem[] = [];
  const problem = (resource: string, reason: ConfigurationProblemCode, message: string, related?: string) =>
    problems.push(related === undefined ? { resource, reason, message } : { resource, related: [related], reason, message });
  const environments = new Map(input.environments.map((env) => [resourceKey(env.id), env]));
  const routes = new Map<string, Route>();
  const tcpPorts = new Map<number, TcpRoute>();

  const addRoute = (hostname: string, app: CompiledApp, credentials: ServerCredentials, certificateId: string) => {
    const existing = routes.get(hostname);
    if (existing) {
      problem(app.id, 'hostname_taken', `host name ${hostname} is already served by ${existing.app.id}; left out`, existing.app.id);
      return;
    }
    try {
      routes.set(hostname, Object.freeze({ hostname, app, tls: cache.policy(app.key, app.mode, credentials) }));
    } catch (error) {
      problem(app.id, 'certificate_unusable', `the certificate for ${hostname} cannot be used by the ingress (${(error as Error).message}); left out`, certificateId);
    }
  };

  // Sorted by id so that a conflict always resolves the same way.
  const apps = [...input.apps].sort((a, b) => resourceKey(a.id).localeCompare(resourceKey(b.id)));
  for (const app of apps) {
    const ingress = app.ingress;
    if (!ingress) continue;
    const host = ingress.targetHost ?? DEFAULT_TARGET_HOST;
    const addTcp = (exposed: number | undefined, target: number | undefined, external: boolean, where: string) => {
      if (!exposed || !target) {
        problem(app.id, 'port_missing', `${where} names no exposed or target port; left out`);
        return;
      }
      const existing = tcpPorts.get(exposed);
      if (existing) {
        problem(app.id, 'port_taken', `${where}: port ${exposed} is already served for ${existing.appId}; left out`, existing.appId);
        return;
      }
      tcpPorts.set(exposed, Object.freeze({ appId: app.id, external, host, port: target }));
    };
    for (const [index, mapping] of ((ingress['additionalPortMappings'] as { external?: boolean; targetPort?: number; exposedPort?: number }[] | undefined) ?? []).entries()) {
      addTcp(mapping.exposedPort || mapping.targetPort, mapping.targetPort, mapping.external === true, `additionalPortMappings[${index}]`);
    }
    if (ingress.transport === 'tcp') {
      // A TCP app has no host name route: it is reached on its exposed port only.
      addTcp(ingress.exposedPort, ingress.targetPort, ingress.external !== false, 'exposedPort');
      continue;
    }
    const environment = environments.get(resourceKey(app.environmentId));
    if (!environment) {
      problem(app.id, 'environment_missing', `environment ${app.environmentId} does not exist; left out`, app.environmentId);
      continue;
    }
    const mode = normalizeClientCertificateMode(ingress.clientCertificateMode);
    if (!mode) {
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
    let cors: CompiledCors | undefined;
    try {
      cors = ingress['corsPolicy'] ? compileCors(ingress['corsPolicy'] as CorsPolicySettings) : undefined;
    } catch (error) {
      // The control plane refuses such policies; one here means a corrupt store. Fail closed.
      problem(app.id, 'cors_invalid', `corsPolicy is not valid (${(error as Error).message}); left out`);
      continue;
    }
    const settings = environment.ingressConfiguration;
    const idleMinutes = settings?.requestIdleTimeout;
    const compiled: CompiledApp = Object.freeze({
      key: resourceKey(app.id),
      id: app.id,
      name: app.name,
      mode,
      allowInsecure: ingress.allowInsecure === true,
      upstream: upstreamOf(ingress.targetHost, ingress.targetPort, idleMinutes === undefined ? undefined : idleMinutes * 60_000, ingress.transport === 'http2' ? 'h2c' : 'http1', ingress['targetPortHttpScheme'] === 'https'),
      external: ingress.external !== false,
      ipRules,
      stripHeaders: stripHeadersOf(environment.stripHeaders),
      hsts: hstsHeaderValue(ingress.hsts),
      cors,
      headerCountLimit: settings?.headerCountLimit ?? DEFAULT_HEADER_COUNT_LIMIT,
    });
    const environmentCertificate = input.environmentCertificates.get(resourceKey(environment.id));
    if (environmentCertificate) {
      addRoute(appFqdn(app.name, environment.defaultDomain), compiled, environmentCertificate, environment.id);
    } else {
      problem(app.id, 'environment_certificate_missing', `environment ${environment.id} has no server certificate; default domain not served`, environment.id);
    }
    for (const domain of ingress.customDomains ?? []) {
      const hostname = normalizeHostname(domain.name);
      if (!hostname) {
        problem(app.id, 'hostname_invalid', `custom domain ${JSON.stringify(domain.name)} is not a valid host name; left out`);
        continue;
      }
      if (domain.bindingType === 'Disabled') continue;
      const certificateId = domain.certificateId;
      const certificate = certificateId ? input.uploadedCertificates.get(resourceKey(certificateId)) : undefined;
      if (!certificate || !certificateId) {
        problem(app.id, 'certificate_missing', `custom domain ${hostname} has no usable certificate (${domain.certificateId ?? 'none'}); left out`, domain.certificateId);
        continue;
      }
      addRoute(hostname, compiled, certificate, certificateId);
    }
  }

  const fallback = cache.policy('fallback', 'none', input.fallbackCertificate);
  cache.sweep();
  const external = new Map<string, Route>();
  for (const [hostname, route] of routes) if (route.app.external) external.set(hostname, route);
  return {
    snapshot: Object.freeze({ revision: input.revision, routes: external, internalRoutes: routes, fallback, drainGraceMs: drainGraceMs(input.environments), tcpPorts }),
    problems,
  };
}

/** One set per environment would do; apps are few enough that one per app costs nothing. */
function stripHeadersOf(names: readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (names === undefined || names.length === 0) return undefined;
  return new Set(names.map((name) => foldHeaderName(name.toLowerCase())));
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

/**
 * Throws (with OpenSSL's reason) when the ingress cannot serve these credentials: the check the
 * control plane makes at upload, with the ingress's own options, so that what it accepts loads here.
 */
export function checkServerCredentials(credentials: ServerCredentials): void {
  tls.createSecureContext({ ...BASE_CONTEXT_OPTIONS, ...contextCredentials(credentials) });
}

function contextCredentials(credentials: ServerCredentials): tls.SecureContextOptions {
  return credentials.kind === 'pem'
    ? { cert: credentials.certPem, key: credentials.keyPem }
    : { pfx: Buffer.from(credentials.pfx), passphrase: credentials.password };
}

/** 48 bytes (name, HMAC secret, AES key) for OpenSSL's ticket callback, unique to the seed and policy. */
function deriveTicketKeys(seed: Buffer, policyKey: string): Buffer {
  const block = (label: string) => createHmac('sha256', seed).update(label).update('\0').update(policyKey).digest();
  return Buffer.concat([block('ticket-keys-1'), block('ticket-keys-2')]).subarray(0, 48);
}

function credentialsFingerprint(credentials: ServerCredentials): string {
  const hash = createHash('sha256');
  if (credentials.kind === 'pem') hash.update(credentials.certPem).update('\0').update(credentials.keyPem);
  else hash.update(credentials.pfx).update('\0').update(credentials.password);
  return hash.digest('hex');
}
