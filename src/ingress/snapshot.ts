// The route snapshot: everything the ingress needs per connection and per request, compiled once
// per change from route specs (plain facts about each app, made from the ARM documents by
// src/gateway/route-specs.ts) and then only read. The ingress never reads an ARM document.
// SecureContexts are built here, before traffic arrives, and reused across snapshots while their
// inputs are unchanged, so TLS sessions and connections made under an unchanged policy stay valid
// when some other app changes.
import { createHash } from 'node:crypto';
import tls from 'node:tls';
import { constants as cryptoConstants } from 'node:crypto';
import type { ClientCertificateMode, ClientCertificatePolicy } from '../model/ingress.ts';
import type { ConfigurationProblem } from '../model/outcome.ts';
import type { IpMatcher } from './listener/ip-rules.ts';
import type { CompiledCors } from './http/cors.ts';
import type { CompiledVerification } from './verify/policy.ts';
import { installTicketKeys, ringSeeds } from './ticket-keys.ts';

/** A TCP port route (transport tcp, additionalPortMappings): served by listener/tcp-proxy.ts. */
export interface TcpRoute {
  readonly appId: string;
  readonly external: boolean;
  /** Where the app listens. */
  readonly host: string;
  readonly port: number;
}

/** Key material for a server certificate: PEM pair, or a PKCS12 with its password. */
export type ServerCredentials =
  | { readonly kind: 'pem'; readonly certPem: string; readonly keyPem: string }
  | { readonly kind: 'pkcs12'; readonly pfx: Uint8Array; readonly password: string };

/** One host name an app is served at, and the server certificate for it. */
export interface HostSpec {
  readonly hostname: string;
  readonly credentials: ServerCredentials;
  /** The resource the credentials come from (the environment, or an uploaded certificate), named in problems. */
  readonly credentialsFrom: string;
}

/** An app as the ingress is to serve it: what it is (compiled once) and the names it is served at. */
export interface RouteSpec {
  readonly app: CompiledApp;
  /** The default name first, then the bound custom domains in order. */
  readonly hosts: readonly HostSpec[];
}

/**
 * An environment's domain (its default domain, or its customDomainConfiguration dnsSuffix) and the
 * wildcard certificate that covers it: a name one label below that no app claims gets this
 * certificate and a 404 naming the environment, not a certificate error.
 */
export interface EnvironmentDomainSpec {
  readonly domain: string;
  readonly environmentId: string;
  readonly environmentName: string;
  readonly credentials: ServerCredentials;
}

/** An environment domain as the ingress serves it: the wildcard's TLS policy (no client certificate asked). */
export interface EnvironmentDomain {
  readonly domain: string;
  readonly environmentId: string;
  readonly environmentName: string;
  readonly tls: TlsPolicy;
}

export interface SnapshotInput {
  readonly revision: number;
  /** In a stable order (by app id), so that a host-name conflict always resolves the same way. */
  readonly specs: readonly RouteSpec[];
  /** Served when the SNI is absent or names no app. */
  readonly fallbackCertificate: ServerCredentials;
  /** TCP listeners: exposed port → app. */
  readonly tcpPorts: ReadonlyMap<number, TcpRoute>;
  /** How long a graceful stop waits (see RouteSnapshot); undefined: the default. */
  readonly drainGraceMs: number | undefined;
  /** The environments' domains with their wildcard certificates (for names no app claims). */
  readonly environmentDomains?: readonly EnvironmentDomainSpec[];
  /** ACME HTTP-01 challenges being answered on the plain-HTTP port: token → answer. */
  readonly acmeChallenges?: ReadonlyMap<string, AcmeChallenge>;
}

/** An ACME HTTP-01 challenge: `GET http://<host>/.well-known/acme-challenge/<token>` answers `keyAuthorization`. */
export interface AcmeChallenge {
  readonly host: string;
  readonly keyAuthorization: string;
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
  /** The mode's consequences (handshake, forwarded header), decided once: the hot path reads these fields. */
  readonly clientCertificate: ClientCertificatePolicy;
  /** Client-certificate verification at the edge (certgate extension); undefined: ACA's behaviour, forward what was sent. */
  readonly verification?: CompiledVerification | undefined;
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
  /**
   * certgate's clientCertificateForwarding: the certificate as RFC 9440 `Client-Cert` /
   * `Client-Cert-Chain` too (`both`) or instead of X-Forwarded-Client-Cert (`rfc9440`); undefined: XFCC only (ACA).
   */
  readonly rfc9440?: 'both' | 'rfc9440' | undefined;
}

/**
 * Which listener a connection came in on. External listeners serve external apps only; the
 * internal listener serves every app (in ACA an external app is reachable from inside too).
 */
export type ListenerKind = 'external' | 'internal';

/** How a TLS connection for one host name is set up: the app's policy and the certificate served. */
export interface TlsPolicy {
  readonly secureContext: tls.SecureContext;
  /**
   * The policy's inputs but the server certificate (scope, client-certificate mode): equal for two
   * policies that differ only in the certificate served, so a renewed certificate reaches new
   * connections without sending the open ones away (admission compares this).
   */
  readonly admissionKey: string;
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
  /** Environment domain → its wildcard policy, for names one label below it that no app claims. */
  readonly environmentDomains?: ReadonlyMap<string, EnvironmentDomain>;
  /** ACME HTTP-01 challenges being answered on the plain-HTTP port, by token. */
  readonly acmeChallenges?: ReadonlyMap<string, AcmeChallenge>;
}

/**
 * The environment whose domain `hostname` is directly under (`<label>.<domain>`), with the label:
 * a name no route claims there is a mistyped or deleted app, answered with the environment's
 * wildcard and a 404. Undefined for names outside every environment domain (the fallback applies).
 */
export function environmentDomainOf(snapshot: RouteSnapshot, hostname: string | undefined): { domain: EnvironmentDomain; label: string } | undefined {
  if (hostname === undefined || snapshot.environmentDomains === undefined) return undefined;
  const dot = hostname.indexOf('.');
  if (dot <= 0) return undefined;
  const domain = snapshot.environmentDomains.get(hostname.slice(dot + 1));
  return domain ? { domain, label: hostname.slice(0, dot) } : undefined;
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
  /** Each spec's compiled routes, by host index, while the spec object is reused (compileSnapshot). */
  readonly #specRoutes = new WeakMap<RouteSpec, (CompiledHost | undefined)[]>();
  #resolved = 0;
  #created = 0;
  #ticketRing: Buffer | undefined;
  readonly #ciphers: string;

  /**
   * @param ticketRing when given (ticket-keys.ts), each context's session-ticket keys are derived
   *   from its seeds and the policy, so every worker process and replica that shares the ring can
   *   resume the others' sessions (of the same policy only). Without it each context gets random
   *   keys of its own.
   */
  constructor(ticketRing?: Buffer, cipherProfile: TlsCipherProfile = 'modern') {
    if (ticketRing) ringSeeds(ticketRing);
    this.#ticketRing = ticketRing;
    this.#ciphers = CIPHERS[cipherProfile];
  }

  /** `clientCertificate` undefined: no client certificate is asked for (the fallback). */
  /**
   * @param verificationKey the app's trust configuration (verify/policy.ts), when it verifies.
   * @param caNames PEM of the anchors the CertificateRequest names (clientCertificateNameAnchors);
   *   OpenSSL's own check against them is not used (Node accepts any chain; the verdict decides).
   */
  policy(scope: string, clientCertificate: ClientCertificatePolicy | undefined, credentials: ServerCredentials, verificationKey?: string, caNames?: string): TlsPolicy {
    return this.#policy(scope, clientCertificate, credentials, verificationKey, caNames).policy;
  }

  /** How many policies were looked up (a certificate hashed) and how many SecureContexts were built, since the start. */
  get counts(): { readonly policiesResolved: number; readonly contextsCreated: number } {
    return { policiesResolved: this.#resolved, contextsCreated: this.#created };
  }

  /** The compiled routes of a spec seen before (the same object), to reuse; filled by compileSnapshot. */
  specRoutes(spec: RouteSpec): (CompiledHost | undefined)[] {
    let routes = this.#specRoutes.get(spec);
    if (!routes) this.#specRoutes.set(spec, (routes = []));
    return routes;
  }

  /** Marks a reused policy as used by this compilation; false when it was dropped meanwhile (it must be resolved again). */
  keep(key: string, policy: TlsPolicy): boolean {
    if (this.#policies.get(key) !== policy) return false;
    this.#used.add(key);
    return true;
  }

  #policy(scope: string, clientCertificate: ClientCertificatePolicy | undefined, credentials: ServerCredentials, verificationKey?: string, caNames?: string): { policy: TlsPolicy; key: string } {
    this.#resolved++;
    const fingerprint = credentialsFingerprint(credentials);
    // The trust configuration is part of both keys: a new anchor, CRL or allow-list is a new policy
    // (old connections get 421; sessions never resume across trust configurations).
    const admissionKey = `${scope}\n${clientCertificate?.mode ?? 'none'}${verificationKey === undefined ? '' : `\n${verificationKey}`}`;
    const key = `${admissionKey}\n${fingerprint}`;
    this.#used.add(key);
    const cached = this.#policies.get(key);
    if (cached) return { policy: cached, key };
    this.#created++;
    const secureContext = tls.createSecureContext({ ...BASE_CONTEXT_OPTIONS, ciphers: this.#ciphers, ...contextCredentials(credentials), ...(caNames === undefined ? {} : { ca: caNames }) });
    // A session resumes only on a context with the same id context: tying it to the app, its mode and
    // its certificate stops a session made under one app's (or mode's) policy skipping another's
    // certificate check (nginx CVE-2025-23419). OpenSSL allows at most 32 bytes.
    const sessionIdContext = createHash('sha256').update(key).digest('hex').slice(0, 32);
    const native = nativeContext(secureContext);
    native.setSessionIdContext(sessionIdContext);
    if (this.#ticketRing) installTicketKeys(native, this.#ticketRing, key);
    const policy: TlsPolicy = Object.freeze({
      secureContext,
      admissionKey,
      requestCert: clientCertificate?.requestCert ?? false,
      rejectUnauthorized: clientCertificate?.rejectUnauthorized ?? false,
    });
    this.#policies.set(key, policy);
    return { policy, key };
  }

  /** One host of a spec, compiled: its route and the policy's key, or why it cannot be served. */
  compileHost(app: CompiledApp, host: HostSpec): CompiledHost {
    try {
      const { policy, key } = this.#policy(app.key, app.clientCertificate, host.credentials, app.verification?.key, app.verification?.caNames);
      return { route: Object.freeze({ hostname: host.hostname, app, tls: policy }), policyKey: key };
    } catch (error) {
      return { unusable: (error as Error).message };
    }
  }

  /**
   * A rotated ticket-key ring (a schedule shared by replicas): every context issues tickets under
   * its current key and accepts them under any of its keys from now on.
   */
  rotateTicketKeys(ring: Buffer): void {
    ringSeeds(ring);
    this.#ticketRing = ring;
    for (const [key, policy] of this.#policies) installTicketKeys(nativeContext(policy.secureContext), ring, key);
  }

  /** Drops the policies the last compilation did not use. */
  sweep(): void {
    for (const key of this.#policies.keys()) if (!this.#used.has(key)) this.#policies.delete(key);
    this.#used = new Set();
  }
}

/** A spec's host compiled once: kept while the spec object is reused, so an unchanged app costs a map lookup. */
export type CompiledHost = { readonly route: Route; readonly policyKey: string } | { readonly unusable: string };

/**
 * Builds the TLS policies and the routes of each listener from the specs. A spec object seen by
 * an earlier compilation with the same cache keeps its routes (nothing hashed or built again), so
 * a change to one app of many costs one app's work plus the maps.
 */
export function compileSnapshot(input: SnapshotInput, cache: TlsPolicyCache): CompileResult {
  const problems: ConfigurationProblem[] = [];
  const routes = new Map<string, Route>();
  for (const spec of input.specs) {
    const { app, hosts } = spec;
    const compiledHosts = cache.specRoutes(spec);
    for (const [index, host] of hosts.entries()) {
      const { hostname, credentialsFrom } = host;
      const existing = routes.get(hostname);
      if (existing) {
        problems.push({ resource: app.id, related: [existing.app.id], reason: 'hostname_taken', message: `host name ${hostname} is already served by ${existing.app.id}; left out` });
        continue;
      }
      let compiled = compiledHosts[index];
      if (!compiled || ('route' in compiled && !cache.keep(compiled.policyKey, compiled.route.tls))) compiledHosts[index] = compiled = cache.compileHost(app, host);
      if ('route' in compiled) routes.set(hostname, compiled.route);
      else problems.push({ resource: app.id, related: [credentialsFrom], reason: 'certificate_unusable', message: `the certificate for ${hostname} cannot be used by the ingress (${compiled.unusable}); left out` });
    }
  }
  const fallback = cache.policy('fallback', undefined, input.fallbackCertificate);
  const environmentDomains = new Map<string, EnvironmentDomain>();
  for (const { domain, environmentId, environmentName, credentials } of input.environmentDomains ?? []) {
    if (environmentDomains.has(domain)) continue;
    try {
      // Its own scope: a session made here never resumes under an app's policy (nor the reverse).
      const tls = cache.policy(`environment-domain ${domain}`, undefined, credentials);
      environmentDomains.set(domain, Object.freeze({ domain, environmentId, environmentName, tls }));
    } catch (error) {
      problems.push({ resource: environmentId, reason: 'certificate_unusable', message: `the wildcard certificate for ${domain} cannot be used by the ingress (${(error as Error).message}); names under it get the fallback` });
    }
  }
  cache.sweep();
  const external = new Map<string, Route>();
  for (const [hostname, route] of routes) if (route.app.external) external.set(hostname, route);
  return {
    snapshot: Object.freeze({ revision: input.revision, routes: external, internalRoutes: routes, fallback, drainGraceMs: input.drainGraceMs, tcpPorts: input.tcpPorts, environmentDomains, acmeChallenges: input.acmeChallenges ?? new Map() }),
    problems,
  };
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

/** The native context behind a SecureContext (Node does not type it). */
function nativeContext(secureContext: tls.SecureContext): { setSessionIdContext(id: string): void; setTicketKeys(keys: Buffer): void } {
  return (secureContext as unknown as { context: { setSessionIdContext(id: string): void; setTicketKeys(keys: Buffer): void } }).context;
}

function credentialsFingerprint(credentials: ServerCredentials): string {
  const hash = createHash('sha256');
  if (credentials.kind === 'pem') hash.update(credentials.certPem).update('\0').update(credentials.keyPem);
  else hash.update(credentials.pfx).update('\0').update(credentials.password);
  return hash.digest('hex');
}
