// The connection's verdict: decided once when its TLS handshake completes, from the certificates
// the client sent and the app's compiled verification (policy.ts), and kept in the connection
// state for every request it carries (admission refuses, headers.ts forwards the verdict headers,
// observe logs it). Results are cached by trust configuration and chain, bounded, so a repeat
// client costs a map lookup.
import type { X509Certificate } from 'node:crypto';
import { LruCache } from '../../app-auth/cache.ts';
import type { VerifyResult } from '../../app-auth/verifier.ts';
import type { CompiledVerification } from './policy.ts';
import { verdictHeaders } from './verdict-headers.ts';
import type { ConnectionVerdict } from './verdict.ts';
import type { OnlineRevocation, RevocationStatus } from '../revocation/checker.ts';

/** Where online statuses come from: revocation/checker.ts's RevocationChecker (the I/O), kept apart from the decision. */
export interface RevocationSource {
  status(certificate: X509Certificate, issuer: X509Certificate, method: OnlineRevocation): RevocationStatus | Promise<RevocationStatus>;
}

export type { ConnectionVerdict } from './verdict.ts';

export interface ConnectionDecision {
  readonly verdict: ConnectionVerdict;
  /** Verdict headers for the app ([name, value, ...]); undefined for apps that do not verify (ACA's headers only). */
  readonly headers: readonly string[] | undefined;
  /** The app never sees a request of this connection: the verdict code says why. */
  readonly refused: boolean;
  /** Where each online status came from, or why it is unknown (for the log); absent without online checking. */
  readonly revocation?: readonly string[];
}

export const NONE: ConnectionVerdict = Object.freeze({ code: 'NONE' });
const UNVERIFIED: ConnectionVerdict = Object.freeze({ code: 'UNVERIFIED' });
const UNVERIFIED_DECISION: ConnectionDecision = Object.freeze({ verdict: UNVERIFIED, headers: undefined, refused: false });
const NONE_DECISION: ConnectionDecision = Object.freeze({ verdict: NONE, headers: undefined, refused: false });

/** How many (trust configuration, chain) verdicts one ingress keeps. */
export const VERDICT_CACHE_ENTRIES = 1024;
/** A cached verdict is recomputed after this long even for a steady client (clock-dependent checks). */
const VERDICT_TTL_MS = 60_000;

export class ConnectionVerdicts {
  readonly #cache: LruCache<ConnectionDecision>;
  /**
   * The chain each verified leaf came with, by trust configuration and leaf: a resumed TLS session
   * gives only the leaf (OpenSSL keeps no chain in the session), and its intermediates are needed
   * again to build the path. They stay mere candidates: the path must still reach an anchor, and
   * is checked again (validity, CRLs) on each connection.
   */
  readonly #chains: LruCache<readonly X509Certificate[]>;
  readonly #now: () => number;
  readonly #revocation: RevocationSource | undefined;

  constructor(capacity = VERDICT_CACHE_ENTRIES, now: () => number = Date.now, revocation?: RevocationSource) {
    this.#cache = new LruCache<ConnectionDecision>(Math.max(1, capacity), VERDICT_TTL_MS);
    this.#chains = new LruCache<readonly X509Certificate[]>(Math.max(1, capacity), Infinity);
    this.#now = now;
    this.#revocation = revocation;
  }

  /**
   * @param chain what the client sent, leaf first (empty: no certificate); `key` identifies it
   *   (the DER, concatenated), as client-certificate.ts reads it.
   * @returns a Promise only when an online revocation status must be fetched (not cached): the
   *   caller awaits it for this connection alone; every other case is synchronous.
   */
  decide(verification: CompiledVerification | undefined, chain: readonly X509Certificate[], key: string, resumed = false): ConnectionDecision | Promise<ConnectionDecision> {
    if (verification === undefined) return chain.length === 0 ? NONE_DECISION : UNVERIFIED_DECISION;
    if (chain.length === 0) {
      // accept: verify if given; a connection without a certificate reaches the app, told so.
      return noneFor(verification);
    }
    const now = this.#now();
    const cacheKey = `${verification.key}\n${resumed ? 'resumed\n' : ''}${key}`;
    const cached = this.#cache.get(cacheKey, now);
    if (cached !== undefined) return cached;
    const leaf = chain[0]!;
    const hash = leaf.fingerprint256.replaceAll(':', '').toLowerCase();
    const leafKey = `${verification.key}\n${hash}`;
    // Only a resumed session borrows the chain: a fresh handshake is judged on what it sent.
    const full = resumed && chain.length === 1 ? (this.#chains.get(leafKey, now) ?? chain) : chain;
    const result = verification.verifier.verify({ format: 'xfcc', header: '', leaf, chain: [...full], hash });
    if (result.ok && chain.length > 1) this.#chains.set(leafKey, Object.freeze([...chain]), now);
    // Never past the leaf's notAfter, nor past a CRL's nextUpdate (then HardFail must refuse).
    const until = Math.min(result.identity ? Date.parse(result.identity.notAfter) : Infinity, now < verification.revocationUntil ? verification.revocationUntil : Infinity);
    if (result.ok && verification.online !== undefined) {
      const checker = this.#revocation;
      // Without a checker the status cannot be learned: HardFail refuses (never silently unchecked).
      const statuses = issuerPairs(result.identity.path, full, verification).map(([certificate, issuer]) =>
        checker === undefined ? { state: 'unknown' as const, until: 0, detail: 'no revocation checker' } : checker.status(certificate, issuer, verification.online!));
      if (statuses.some((status) => status instanceof Promise)) {
        return Promise.all(statuses).then((learned) => this.#store(cacheKey, verification, result, until, learned));
      }
      return this.#store(cacheKey, verification, result, until, statuses as RevocationStatus[]);
    }
    return this.#store(cacheKey, verification, result, until, []);
  }

  /** The decision from the path's verdict and the online statuses of its certificates, cached no longer than any of them holds. */
  #store(cacheKey: string, verification: CompiledVerification, result: VerifyResult, until: number, statuses: readonly RevocationStatus[]): ConnectionDecision {
    let verdict = verdictOf(result);
    let ok = result.ok;
    if (statuses.length > 0) {
      const revoked = statuses.some((status) => status.state === 'revoked');
      const unknown = statuses.some((status) => status.state === 'unknown');
      // A certificate revoked after a session was made cannot resume past the next refresh: the decision lives no longer than the status.
      until = Math.min(until, ...statuses.map((status) => status.until));
      if (revoked) {
        verdict = Object.freeze({ ...verdict, code: 'REVOKED' });
        ok = false;
      } else if (unknown && verification.revocationMode !== 'SoftFail') {
        verdict = Object.freeze({ ...verdict, code: 'REVOCATION_UNKNOWN' });
        ok = false;
      } else {
        verdict = Object.freeze({ ...verdict, revocation: unknown ? 'unknown' : 'good' });
      }
    }
    const decision: ConnectionDecision = Object.freeze({
      verdict,
      headers: verdictHeaders(verdict),
      refused: !ok && !verification.fallback,
      ...(statuses.length > 0 ? { revocation: Object.freeze(statuses.map((status) => status.detail)) } : {}),
    });
    this.#cache.set(cacheKey, decision, this.#now(), until);
    return decision;
  }

  get size(): number {
    return this.#cache.stats().size;
  }
}

const noneDecisions = new WeakMap<CompiledVerification, ConnectionDecision>();
function noneFor(verification: CompiledVerification): ConnectionDecision {
  let decision = noneDecisions.get(verification);
  if (decision === undefined) {
    decision = Object.freeze({ verdict: NONE, headers: verdictHeaders(NONE), refused: false });
    noneDecisions.set(verification, decision);
  }
  return decision;
}

/** (certificate, issuer) for each certificate of a verified path below its anchor, as X509Certificates. */
function issuerPairs(path: readonly { readonly thumbprint: string }[], chain: readonly X509Certificate[], verification: CompiledVerification): [X509Certificate, X509Certificate][] {
  const byThumbprint = new Map(verification.issuers);
  for (const certificate of chain) byThumbprint.set(certificate.fingerprint256.replaceAll(':', '').toLowerCase(), certificate);
  const pairs: [X509Certificate, X509Certificate][] = [];
  for (let i = 0; i + 1 < path.length; i++) {
    const certificate = byThumbprint.get(path[i]!.thumbprint);
    const issuer = byThumbprint.get(path[i + 1]!.thumbprint);
    if (certificate !== undefined && issuer !== undefined) pairs.push([certificate, issuer]);
  }
  return pairs;
}

function verdictOf(result: VerifyResult): ConnectionVerdict {
  const identity = result.identity;
  const code = result.ok ? 'OK' : result.code;
  if (identity === undefined) return Object.freeze({ code });
  const sans = [
    ...identity.san.dns.map((name) => `dns:${name}`),
    ...identity.san.uri.map((name) => `uri:${name}`),
    ...identity.san.email.map((name) => `email:${name}`),
    ...identity.san.ip.map((name) => `ip:${name}`),
  ];
  return Object.freeze({
    code,
    thumbprint: identity.thumbprint,
    subject: identity.subject,
    issuer: identity.issuer,
    serial: identity.serialNumber,
    sans: Object.freeze(sans),
    notBefore: identity.notBefore,
    notAfter: identity.notAfter,
  });
}
