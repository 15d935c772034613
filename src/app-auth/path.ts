// Certification path building: from the leaf, through forwarded and known intermediates in any
// order, to a configured trust anchor. Depth-first over every issuer candidate (same name, and
// matching key identifiers), so extra certificates, cross-signed intermediates and loops are
// handled; a certificate in the forwarded chain is only ever a candidate intermediate, never an
// anchor, however self-signed it is. RFC 5280 6.1 checks along the way: signature, validity,
// CA basic constraints and key usage, path length; plus the purpose's EKU (clientAuth for the app
// library, any of the three for `certgate cert verify`) when an intermediate restricts it, and
// revocation once a complete path is found. The one path builder: the app library and the CLI.

import type { X509Certificate } from 'node:crypto';
import { allowsPurpose, hasKeyUsage, KEY_USAGE } from '../pki/facts.ts';
import type { CertificateInfo, Purpose } from '../pki/facts.ts';
import type { CompiledCrl } from './crl.ts';
import type { VerifyErrorCode } from './codes.ts';

export interface PathFailure {
  code: VerifyErrorCode;
  message: string;
}

export type PathResult =
  | { ok: true; path: CertificateInfo[]; validUntil: number }
  | ({
      ok: false;
      /** What the failure is about: the certificate without an issuer (UNTRUSTED_ISSUER), or the issuer that failed a check. */
      certificate?: CertificateInfo;
    } & PathFailure);

/** The trust inputs a path is built from (the app library's compiled options are one). */
export interface PathOptions {
  anchorFingerprints: ReadonlySet<string>;
  anchorsBySubject: ReadonlyMap<string, readonly CertificateInfo[]>;
  intermediates: readonly CertificateInfo[];
  crlsByIssuer: ReadonlyMap<string, readonly CompiledCrl[]>;
  requireCrl: boolean;
  allowExpiredCrl: boolean;
  maxPathLength: number;
}

/** Anchors indexed as PathOptions wants them. */
export function indexAnchors(anchors: readonly CertificateInfo[]): Pick<PathOptions, 'anchorFingerprints' | 'anchorsBySubject'> {
  const anchorsBySubject = new Map<string, CertificateInfo[]>();
  for (const info of anchors) anchorsBySubject.set(info.subjectKey, [...(anchorsBySubject.get(info.subjectKey) ?? []), info]);
  return { anchorFingerprints: new Set(anchors.map((info) => info.fingerprint)), anchorsBySubject };
}

export interface PathContext {
  options: PathOptions;
  /** The extended key usage intermediates must allow (the leaf's is the caller's to check). */
  purpose: Purpose;
  now: number;
  /** Certificates by fingerprint, described once per verifier. */
  describe(certificate: X509Certificate): CertificateInfo | string;
  /** Memoized signature check: is `child` signed by `issuer`'s key? */
  signedBy(child: CertificateInfo, issuer: CertificateInfo): boolean;
}

// Candidate checks per verification. Real chains need a handful; this stops a chain of many
// certificates sharing one name from making the search exponential.
const SEARCH_BUDGET = 100;

interface Candidate {
  info: CertificateInfo;
  anchor: boolean;
}

export function buildPath(leaf: CertificateInfo, forwarded: readonly X509Certificate[], context: PathContext): PathResult {
  const { options } = context;
  const pool = new Map<string, X509Certificate[]>();
  for (const certificate of forwarded) pool.set(certificate.subject, [...(pool.get(certificate.subject) ?? []), certificate]);
  for (const intermediate of options.intermediates) {
    pool.set(intermediate.subjectKey, [...(pool.get(intermediate.subjectKey) ?? []), intermediate.certificate]);
  }

  let best: { depth: number; failure: PathFailure; certificate?: CertificateInfo } | undefined;
  const record = (depth: number, failure: PathFailure, certificate?: CertificateInfo): void => {
    // The failure deepest in the path says most about why no path exists.
    if (best === undefined || depth > best.depth) best = { depth, failure, ...(certificate ? { certificate } : {}) };
  };
  let budget = SEARCH_BUDGET;

  const issuersOf = (child: CertificateInfo, depth: number): Candidate[] => {
    const candidates: Candidate[] = [];
    const keyIdMatches = (issuer: CertificateInfo) =>
      child.authorityKeyId === undefined || issuer.subjectKeyId === undefined || child.authorityKeyId === issuer.subjectKeyId;
    for (const anchor of options.anchorsBySubject.get(child.issuerKey) ?? []) {
      if (keyIdMatches(anchor)) candidates.push({ info: anchor, anchor: true });
    }
    const seen = new Set<string>();
    for (const certificate of pool.get(child.issuerKey) ?? []) {
      const info = context.describe(certificate);
      if (typeof info === 'string') {
        record(depth, { code: 'CERT_MALFORMED', message: `chain certificate "${oneLine(certificate.subject)}": ${info}` });
        continue;
      }
      // A forwarded copy of an anchor is the anchor, already a candidate.
      if (options.anchorFingerprints.has(info.fingerprint) || seen.has(info.fingerprint)) continue;
      seen.add(info.fingerprint);
      if (keyIdMatches(info)) candidates.push({ info, anchor: false });
    }
    return candidates;
  };

  const extend = (path: CertificateInfo[]): PathResult | undefined => {
    const child = path.at(-1)!;
    const candidates = issuersOf(child, path.length);
    if (candidates.length === 0) {
      record(path.length, {
        code: 'UNTRUSTED_ISSUER',
        message: child.selfIssued
          ? `"${child.subject}" is self-signed but not a configured trust anchor`
          : `no trust anchor or chain certificate is the issuer "${child.issuer}" of "${child.subject}"`,
      }, child);
      return undefined;
    }
    for (const candidate of candidates) {
      if (path.some((info) => info.fingerprint === candidate.info.fingerprint)) {
        const message =
          candidate.info.fingerprint === child.fingerprint
            ? `"${child.subject}" is self-signed but not a configured trust anchor`
            : `the issuer of "${child.subject}" is found only in a loop`;
        record(path.length, { code: 'UNTRUSTED_ISSUER', message }, child);
        continue;
      }
      if (--budget < 0) return { ok: false, code: 'PATH_SEARCH_LIMIT', message: `gave up after ${SEARCH_BUDGET} issuer candidates` };
      const failure = checkIssuer(path, candidate, context);
      if (failure !== undefined) {
        record(path.length, failure, candidate.info);
        continue;
      }
      const extended = [...path, candidate.info];
      if (candidate.anchor) {
        const revocation = checkRevocation(extended, context);
        if (revocation.ok) return { ok: true, path: extended, validUntil: Math.min(revocation.validUntil, ...extended.map((info) => info.notAfter)) };
        record(extended.length, revocation);
        continue;
      }
      if (extended.length >= options.maxPathLength) {
        record(extended.length, { code: 'PATH_SEARCH_LIMIT', message: `no anchor within ${options.maxPathLength} certificates` });
        continue;
      }
      const found = extend(extended);
      if (found !== undefined) return found;
    }
    return undefined;
  };

  // A leaf configured as an anchor (a pinned self-signed certificate) is trusted as it is.
  if (options.anchorFingerprints.has(leaf.fingerprint)) return { ok: true, path: [leaf], validUntil: leaf.notAfter };
  const found = extend([leaf]);
  if (found !== undefined) return found;
  return { ok: false, ...(best?.failure ?? { code: 'UNTRUSTED_ISSUER', message: 'no path to a trust anchor' }), ...(best?.certificate ? { certificate: best.certificate } : {}) };
}

function checkIssuer(path: readonly CertificateInfo[], candidate: Candidate, context: PathContext): PathFailure | undefined {
  const child = path.at(-1)!;
  const issuer = candidate.info;
  const role = candidate.anchor ? 'trust anchor' : 'intermediate';
  const name = `${role} "${issuer.subject}"`;
  if (!context.signedBy(child, issuer)) {
    return { code: 'BAD_SIGNATURE', message: `"${child.subject}" names ${name} as issuer but is not signed by its key` };
  }
  // X.509 v1 roots predate extensions; only a configured anchor gets that allowance.
  const v1Anchor = candidate.anchor && issuer.version === 1;
  if (issuer.basicConstraints?.ca !== true && !v1Anchor) return { code: 'NOT_A_CA', message: `${name} is not a CA (basicConstraints)` };
  if (!hasKeyUsage(issuer, KEY_USAGE.keyCertSign)) return { code: 'NOT_A_CA', message: `${name} may not sign certificates (keyUsage)` };
  const timing = checkValidity(issuer, context.now, name);
  if (timing !== undefined) return timing;
  const pathLength = issuer.basicConstraints?.pathLength;
  if (pathLength !== undefined) {
    // Self-issued intermediates (key rollover) do not count (RFC 5280 6.1.4 (l)).
    const below = path.slice(1).filter((info) => !info.selfIssued).length;
    if (below > pathLength) {
      return { code: 'PATH_LENGTH_EXCEEDED', message: `${name} allows ${pathLength} intermediate(s) below it, the path has ${below}` };
    }
  }
  if (!candidate.anchor) {
    if (!allowsPurpose(issuer, context.purpose)) {
      return { code: 'EKU_NOT_CLIENT_AUTH', message: `${name} restricts its extended key usage and excludes ${context.purpose}` };
    }
    if (issuer.unsupportedCritical.length > 0) {
      return { code: 'UNSUPPORTED_CRITICAL_EXTENSION', message: `${name} has unsupported critical extension ${issuer.unsupportedCritical.join(', ')}` };
    }
  }
  return undefined;
}

export function checkValidity(info: CertificateInfo, now: number, name: string): PathFailure | undefined {
  if (now < info.notBefore) return { code: 'CERT_NOT_YET_VALID', message: `${name} is valid from ${new Date(info.notBefore).toISOString()}` };
  if (now > info.notAfter) return { code: 'CERT_EXPIRED', message: `${name} expired at ${new Date(info.notAfter).toISOString()}` };
  return undefined;
}

/** Checks each certificate below the anchor against the CRLs of its issuer. */
function checkRevocation(path: readonly CertificateInfo[], context: PathContext): ({ ok: true; validUntil: number }) | ({ ok: false } & PathFailure) {
  const { options, now } = context;
  let validUntil = Infinity;
  for (let i = 0; i < path.length - 1; i++) {
    const certificate = path[i]!;
    const issuer = path[i + 1]!;
    const crls = (options.crlsByIssuer.get(issuer.subjectDer) ?? []).filter(
      (crl) => crl.authorityKeyId === undefined || issuer.subjectKeyId === undefined || crl.authorityKeyId === issuer.subjectKeyId,
    );
    const signed = crls.filter((crl) => crl.signedBy(issuer));
    if (crls.length > 0 && signed.length === 0) {
      return { ok: false, code: 'CRL_INVALID', message: `no CRL naming "${issuer.subject}" is signed by its key (or the key may not sign CRLs)` };
    }
    const current = signed.filter((crl) => crl.thisUpdate <= now);
    if (current.length === 0) {
      if (options.requireCrl) return { ok: false, code: 'CRL_MISSING', message: `no current CRL from "${issuer.subject}"` };
      continue;
    }
    for (const crl of current) {
      const entry = crl.revoked.get(certificate.serialKey);
      if (entry !== undefined) {
        const reason = entry.reason === undefined ? '' : ` (${entry.reason})`;
        return { ok: false, code: 'REVOKED', message: `"${certificate.subject}" was revoked at ${new Date(entry.date).toISOString()}${reason}` };
      }
    }
    const newest = current.reduce((a, b) => (b.thisUpdate > a.thisUpdate ? b : a));
    if (newest.nextUpdate !== undefined) {
      if (now > newest.nextUpdate && !options.allowExpiredCrl) {
        return { ok: false, code: 'CRL_EXPIRED', message: `the CRL of "${issuer.subject}" expired at ${new Date(newest.nextUpdate).toISOString()}` };
      }
      if (now <= newest.nextUpdate) validUntil = Math.min(validUntil, newest.nextUpdate);
    }
  }
  return { ok: true, validUntil };
}

function oneLine(name: string): string {
  return name.split('\n').join(', ');
}
