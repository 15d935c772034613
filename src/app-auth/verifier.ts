// createVerifier: options compiled once, then verify(certificate) and verifyHeaders(headers),
// pure functions of their input, the options and the clock. No I/O, no server imports; never
// throws on request data.

import { createHash } from 'node:crypto';
import type { X509Certificate } from 'node:crypto';
import { sha256Hex } from '../xfcc/certificates.ts';
import { createClientCertificateReader } from '../xfcc/sources.ts';
import type { CertificateFormat, ClientCertificateReader, ForwardedCertificate, HeaderBag } from '../xfcc/sources.ts';
import { LruCache } from './cache.ts';
import type { CacheStats } from './cache.ts';
import { allowsClientAuth, describeCertificate, hasKeyUsage, KEY_USAGE, signedBy } from '../pki/facts.ts';
import type { CertificateInfo, SubjectAltNames } from '../pki/facts.ts';
import type { VerifyErrorCode } from './codes.ts';
import { compileOptions, sanMatches } from './options.ts';
import type { CompiledOptions, VerifierOptions } from './options.ts';
import { buildPath, checkValidity } from './path.ts';
import type { PathFailure } from './path.ts';

export interface ClientIdentity {
  /** Lower-case hex SHA-256 of the leaf's DER: XFCC's Hash, Azure's thumbprint in SHA-256. */
  readonly thumbprint: string;
  /** Lower-case hex SHA-256 of the leaf's SubjectPublicKeyInfo: stays the same across renewals with the same key. */
  readonly spkiSha256: string;
  /** `CN=device-42, O=Contoso Devices`: attributes in certificate order, RFC 4514 escaping. */
  readonly subject: string;
  readonly issuer: string;
  /** Upper-case hex, as OpenSSL prints it. */
  readonly serialNumber: string;
  /** ISO 8601. */
  readonly notBefore: string;
  readonly notAfter: string;
  readonly san: Readonly<SubjectAltNames>;
  /** The SPIFFE ID: the URI SAN when it is the only one and a `spiffe://` URI (X.509-SVID). */
  readonly spiffeId: string | null;
  /** The header format it was read from. */
  readonly source: CertificateFormat;
  /** The verified path, leaf first, ending with the trust anchor (just the leaf when pinned); [] when verification failed. */
  readonly path: readonly { readonly subject: string; readonly thumbprint: string }[];
}

export type VerifyResult =
  | { readonly ok: true; readonly identity: ClientIdentity }
  | { readonly ok: false; readonly code: VerifyErrorCode; readonly message: string; readonly identity?: ClientIdentity };

export interface Verifier {
  /** Verifies a certificate read with `reader` (or readClientCertificate). Not cached. */
  verify(certificate: ForwardedCertificate): VerifyResult;
  /** Reads the configured header formats and verifies, with results cached per forwarded value. */
  verifyHeaders(headers: HeaderBag): VerifyResult;
  readonly reader: ClientCertificateReader;
  /** Result cache counters (all zero when the cache is off). */
  stats(): CacheStats;
}

// Intermediates and anchors recur across clients: each is described (parsed with pkijs) once.
const DESCRIBED_CERTIFICATES = 512;
const SIGNATURE_VERDICTS = 2048;

export function createVerifier(options: VerifierOptions = {}): Verifier {
  const compiled = compileOptions(options);
  const reader = createClientCertificateReader(options);
  const results = compiled.cache === undefined ? undefined : new LruCache<VerifyResult>(compiled.cache.maxEntries, compiled.cache.ttlMs);
  const validUntil = new WeakMap<VerifyResult, number>();
  // Time-independent facts: bounded by count, never stale.
  const described = new LruCache<CertificateInfo | string>(DESCRIBED_CERTIFICATES, Infinity);
  const signatures = new LruCache<boolean>(SIGNATURE_VERDICTS, Infinity);
  for (const info of [...compiled.anchors, ...compiled.intermediates]) described.set(info.fingerprint, info, 0);

  const describe = (certificate: X509Certificate): CertificateInfo | string => {
    const key = sha256Hex(certificate.raw);
    let info = described.get(key, 0);
    if (info === undefined) {
      info = describeCertificate(certificate);
      described.set(key, info, 0);
    }
    return info;
  };
  const signedByMemo = (child: CertificateInfo, issuer: CertificateInfo): boolean => {
    const key = `${child.fingerprint}:${issuer.fingerprint}`;
    let verdict = signatures.get(key, 0);
    if (verdict === undefined) {
      verdict = signedBy(child, issuer);
      signatures.set(key, verdict, 0);
    }
    return verdict;
  };

  const verifyAt = (certificate: ForwardedCertificate, now: number): VerifyResult => {
    try {
      return verifyCertificate(certificate, compiled, now, describe, signedByMemo, (result, until) => validUntil.set(result, until));
    } catch (error) {
      // Never reached on any input the fuzzer has found; kept so a bug refuses instead of crashing the app.
      return { ok: false, code: 'INTERNAL_ERROR', message: `verification failed unexpectedly: ${(error as Error)?.message}` };
    }
  };

  return {
    reader,
    verify: (certificate) => verifyAt(certificate, compiled.now()),
    verifyHeaders(headers) {
      const collected = reader.collect(headers);
      if (collected.kind !== 'present' || results === undefined) {
        const read = reader.decode(collected);
        return read.ok ? verifyAt(read.certificate, compiled.now()) : read;
      }
      const now = compiled.now();
      const hash = createHash('sha256').update(collected.format).update('\0');
      for (const value of collected.values) hash.update(value ?? '').update('\0');
      const key = hash.digest('hex');
      const cached = results.get(key, now);
      if (cached !== undefined) return cached;
      const read = reader.decode(collected);
      const result = read.ok ? verifyAt(read.certificate, now) : read;
      results.set(key, result, now, validUntil.get(result));
      return result;
    },
    stats: () => results?.stats() ?? { hits: 0, misses: 0, evictions: 0, size: 0, maxEntries: 0 },
  };
}

function verifyCertificate(
  forwarded: ForwardedCertificate,
  options: CompiledOptions,
  now: number,
  describe: (certificate: X509Certificate) => CertificateInfo | string,
  signedBy: (child: CertificateInfo, issuer: CertificateInfo) => boolean,
  expiresAt: (result: VerifyResult, until: number) => void,
): VerifyResult {
  const leaf = describe(forwarded.leaf);
  if (typeof leaf === 'string') return { ok: false, code: 'CERT_MALFORMED', message: `client certificate: ${leaf}` };
  const unverified = identityOf(leaf, forwarded.format, []);
  const refuse = (failure: PathFailure): VerifyResult => ({ ok: false, ...failure, identity: unverified });

  if (leaf.unsupportedCritical.length > 0) {
    return refuse({ code: 'UNSUPPORTED_CRITICAL_EXTENSION', message: `client certificate has unsupported critical extension ${leaf.unsupportedCritical.join(', ')}` });
  }
  const timing = checkValidity(leaf, now, 'client certificate');
  if (timing !== undefined) {
    const result = refuse(timing);
    // A not-yet-valid certificate becomes valid: do not serve this answer from the cache past then.
    if (timing.code === 'CERT_NOT_YET_VALID') expiresAt(result, leaf.notBefore);
    return result;
  }
  // TLS client authentication signs the handshake with the leaf key (RFC 5280 4.2.1.3, 4.2.1.12).
  if (!hasKeyUsage(leaf, KEY_USAGE.digitalSignature)) {
    return refuse({ code: 'KEY_USAGE_INVALID', message: 'client certificate key usage lacks digitalSignature' });
  }
  if (!allowsClientAuth(leaf)) {
    return refuse({ code: 'EKU_NOT_CLIENT_AUTH', message: 'client certificate extended key usage excludes clientAuth' });
  }
  const denied = checkAllowLists(leaf, options);
  if (denied !== undefined) return refuse(denied);

  let path: CertificateInfo[] = [leaf];
  let until = leaf.notAfter;
  if (options.anchors.length > 0) {
    const built = buildPath(leaf, forwarded.chain.slice(1), { options, purpose: 'clientAuth', now, describe, signedBy });
    if (!built.ok) return refuse({ code: built.code, message: built.message });
    path = built.path;
    until = built.validUntil;
  }
  const result: VerifyResult = { ok: true, identity: identityOf(leaf, forwarded.format, path) };
  expiresAt(result, until);
  return result;
}

function checkAllowLists(leaf: CertificateInfo, options: CompiledOptions): PathFailure | undefined {
  const { allow } = options;
  if (allow.thumbprints !== undefined && !allow.thumbprints.has(leaf.fingerprint)) {
    return { code: 'THUMBPRINT_NOT_ALLOWED', message: `thumbprint ${leaf.fingerprint} is not allowed` };
  }
  if (allow.spki !== undefined && !allow.spki.has(leaf.spkiSha256)) {
    return { code: 'SPKI_NOT_ALLOWED', message: `public key ${leaf.spkiSha256} is not allowed` };
  }
  if (allow.subjects !== undefined && !allow.subjects.has(leaf.subject)) {
    return { code: 'SUBJECT_NOT_ALLOWED', message: `subject "${leaf.subject}" is not allowed` };
  }
  if (allow.sans !== undefined && !allow.sans.some((rule) => sanMatches(rule, leaf.san))) {
    return { code: 'SAN_NOT_ALLOWED', message: 'no subject alternative name is allowed' };
  }
  return undefined;
}

function identityOf(leaf: CertificateInfo, source: CertificateFormat, path: readonly CertificateInfo[]): ClientIdentity {
  const [onlyUri, ...otherUris] = leaf.san.uri;
  return Object.freeze({
    thumbprint: leaf.fingerprint,
    spkiSha256: leaf.spkiSha256,
    subject: leaf.subject,
    issuer: leaf.issuer,
    serialNumber: leaf.serialNumber,
    notBefore: new Date(leaf.notBefore).toISOString(),
    notAfter: new Date(leaf.notAfter).toISOString(),
    san: leaf.san,
    spiffeId: onlyUri !== undefined && otherUris.length === 0 && onlyUri.startsWith('spiffe://') ? onlyUri : null,
    source,
    path: Object.freeze(path.map((info) => Object.freeze({ subject: info.subject, thumbprint: info.fingerprint }))),
  });
}
