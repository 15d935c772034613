// An app's client-certificate verification policy, compiled once (route-specs.ts, and the control
// plane's check of a write, so both accept exactly the same settings): its trust material and
// allow-lists become one verifier of the app library (src/app-auth/verifier.ts: the one path
// builder, CRL reader and allow-list matcher; never a second one). Pure: no I/O, the material is
// passed in.
import { createHash, X509Certificate } from 'node:crypto';
import { createVerifier, type Verifier } from '../../app-auth/verifier.ts';
import { compileCrl } from '../../app-auth/crl.ts';
import type { AllowList } from '../../app-auth/options.ts';
import { normalizeRequestPath, type PathRules } from './path-rules.ts';
import { VERIFICATION_MEMBERS } from '../../model/ingress.ts';
import { CRL_TYPE, INTERMEDIATE_TYPE, TRUST_ANCHOR_TYPE, type TrustMaterial, type TrustMaterialType } from '../../model/trust.ts';

/** The certgate members of `properties.configuration.ingress` this reads. */
export interface VerificationSettings {
  readonly clientCertificateTrustAnchors?: readonly string[];
  readonly clientCertificateIntermediates?: readonly string[];
  readonly clientCertificateRevocationLists?: readonly string[];
  readonly clientCertificateValidationMode?: 'AllowValidOnly' | 'AllowInsecureFallback';
  readonly clientCertificateAllow?: AllowList;
  readonly clientCertificateRevocationMode?: 'SoftFail' | 'HardFail' | 'RequireCrl';
  readonly clientCertificateOnlineRevocation?: 'Off' | 'Crl' | 'Ocsp';
  readonly clientCertificateNameAnchors?: boolean;
  readonly clientCertificateExemptPaths?: readonly string[];
  readonly clientCertificateVerifiedPaths?: readonly string[];
  readonly allowInsecure?: boolean;
}


/** The members that reference environment certificates (a referenced one cannot be deleted). */
export const VERIFICATION_REFERENCE_MEMBERS = ['clientCertificateTrustAnchors', 'clientCertificateIntermediates', 'clientCertificateRevocationLists'] as const;

const REFERENCE_MEMBERS = [
  ['clientCertificateTrustAnchors', TRUST_ANCHOR_TYPE, 'trustAnchors'],
  ['clientCertificateIntermediates', INTERMEDIATE_TYPE, 'intermediates'],
  ['clientCertificateRevocationLists', CRL_TYPE, 'crls'],
] as const;

export interface CompiledVerification {
  /** Hash of every input: part of the TLS policy's key, so a change makes new sessions and 421s old connections. */
  readonly key: string;
  readonly verifier: Verifier;
  /** AllowInsecureFallback: a failed or missing certificate still reaches the app, with its verdict. */
  readonly fallback: boolean;
  /** PEM of the anchors the CertificateRequest names (clientCertificateNameAnchors); undefined: it names none. */
  readonly caNames?: string | undefined;
  /** The earliest nextUpdate of the CRLs (ms; Infinity without): no verdict is cached past it. */
  readonly revocationUntil: number;
  /** Status fetched from the certificate's CRL distribution points or OCSP responder (revocation/checker.ts); undefined: uploaded CRLs only. */
  readonly online?: 'Crl' | 'Ocsp' | undefined;
  /** Status the online check could not learn: HardFail and RequireCrl refuse (REVOCATION_UNKNOWN), SoftFail serves. */
  readonly revocationMode: 'SoftFail' | 'HardFail' | 'RequireCrl';
  /** The anchors and intermediates by SHA-256 (lower-case hex): the issuers of a verified path's certificates. */
  readonly issuers: ReadonlyMap<string, X509Certificate>;
  /** Per-path rules (gate.ts); undefined when the app has none (the verdict alone decides). */
  readonly paths?: PathRules | undefined;
}

export type VerificationResult =
  | { readonly ok: true; readonly verification: CompiledVerification | undefined }
  /** `path` is relative to `properties.configuration.ingress`. */
  | { readonly ok: false; readonly path: string; readonly message: string };

/** Whether the settings ask for verification at all (any certgate verification member set). */
export function wantsVerification(settings: VerificationSettings): boolean {
  return VERIFICATION_MEMBERS.some((member) => settings[member] !== undefined);
}

/**
 * @param material each referenced id's material (by the id as written), undefined when it does not
 *   exist in the app's environment or cannot be read.
 */
export function compileVerification(
  settings: VerificationSettings,
  mode: 'ignore' | 'accept' | 'require',
  material: (id: string) => TrustMaterial | undefined,
): VerificationResult {
  if (!wantsVerification(settings)) return { ok: true, verification: undefined };
  if (mode === 'ignore') {
    return { ok: false, path: 'clientCertificateMode', message: "client-certificate verification needs clientCertificateMode 'accept' or 'require' (with 'ignore' no certificate is asked for)" };
  }
  if (settings.allowInsecure === true) {
    return { ok: false, path: 'allowInsecure', message: 'an app that verifies client certificates cannot also be served over plain HTTP (no certificate there): set allowInsecure to false' };
  }
  const fallback = settings.clientCertificateValidationMode === 'AllowInsecureFallback';
  const paths = compilePathRules(settings);
  if (paths !== undefined && 'path' in paths) return { ok: false, ...paths };
  if (fallback && mode !== 'accept') {
    return { ok: false, path: 'clientCertificateValidationMode', message: "AllowInsecureFallback needs clientCertificateMode 'accept' ('require' refuses clients without a certificate in the handshake)" };
  }
  const inputs: Record<'trustAnchors' | 'intermediates' | 'crls', Uint8Array[]> = { trustAnchors: [], intermediates: [], crls: [] };
  const hash = createHash('sha256').update(mode).update('\0').update(fallback ? 'fallback' : 'valid-only');
  for (const [member, type, option] of REFERENCE_MEMBERS) {
    for (const [index, id] of (settings[member] ?? []).entries()) {
      const found = material(id);
      if (found === undefined) return { ok: false, path: `${member}[${index}]`, message: `the certificate '${id}' does not exist in the app's environment` };
      if (found.type !== type) return { ok: false, path: `${member}[${index}]`, message: `the certificate '${id}' is a ${found.type}, not a ${type as TrustMaterialType}` };
      inputs[option].push(found.der);
      hash.update(option).update('\0').update(found.der).update('\0');
    }
  }
  const allow = settings.clientCertificateAllow;
  // What happens when revocation status cannot be learned (docs/ingress.md): HardFail, the default,
  // refuses with a CRL past its nextUpdate (a stale CRL would pass certificates revoked since).
  const revocation = settings.clientCertificateRevocationMode ?? 'HardFail';
  const online = settings.clientCertificateOnlineRevocation === 'Off' ? undefined : settings.clientCertificateOnlineRevocation;
  if (online !== undefined && inputs.trustAnchors.length === 0) {
    return { ok: false, path: 'clientCertificateOnlineRevocation', message: 'needs clientCertificateTrustAnchors (status is asked of the issuer of a verified path)' };
  }
  if (settings.clientCertificateRevocationMode !== undefined && inputs.crls.length === 0 && online === undefined) {
    return { ok: false, path: 'clientCertificateRevocationMode', message: "needs clientCertificateRevocationLists or clientCertificateOnlineRevocation 'Crl' or 'Ocsp' (there is no revocation status to learn without them)" };
  }
  const nameAnchors = settings.clientCertificateNameAnchors === true;
  if (nameAnchors && inputs.trustAnchors.length === 0) {
    return { ok: false, path: 'clientCertificateNameAnchors', message: 'needs clientCertificateTrustAnchors (there are no anchors to name)' };
  }
  const caNames = nameAnchors ? inputs.trustAnchors.map((der) => new X509Certificate(der).toString()).join('') : undefined;
  hash.update(JSON.stringify(allow ?? null)).update(JSON.stringify(paths ?? null)).update(revocation).update(nameAnchors ? 'names' : 'no-names').update(online ?? 'offline');
  try {
    const verifier = createVerifier({
      ...inputs,
      ...(allow === undefined ? {} : { allow }),
      allowExpiredCrl: revocation === 'SoftFail',
      // Online checking covers every path certificate: RequireCrl then means HardFail for what it cannot learn.
      requireCrl: revocation === 'RequireCrl' && online === undefined,
      cache: false,
    });
    const revocationUntil = Math.min(Infinity, ...inputs.crls.map((der, index) => compileCrl(der, index).nextUpdate ?? Infinity));
    const issuers = new Map([...inputs.trustAnchors, ...inputs.intermediates].map((der) => {
      const certificate = new X509Certificate(der);
      return [certificate.fingerprint256.replaceAll(':', '').toLowerCase(), certificate] as const;
    }));
    return { ok: true, verification: Object.freeze({ key: hash.digest('hex').slice(0, 32), verifier, fallback, revocationUntil, revocationMode: revocation, issuers, ...(online === undefined ? {} : { online }), ...(caNames === undefined ? {} : { caNames }), ...(paths === undefined ? {} : { paths }) }) };
  } catch (error) {
    return { ok: false, ...locate((error as Error).message) };
  }
}

function compilePathRules(settings: VerificationSettings): PathRules | { path: string; message: string } | undefined {
  if (settings.clientCertificateExemptPaths === undefined && settings.clientCertificateVerifiedPaths === undefined) return undefined;
  const rules: Record<'exempt' | 'verified', string[]> = { exempt: [], verified: [] };
  for (const [member, kind] of [['clientCertificateExemptPaths', 'exempt'], ['clientCertificateVerifiedPaths', 'verified']] as const) {
    for (const [index, rule] of (settings[member] ?? []).entries()) {
      const normalized = rule.startsWith('/') ? normalizeRequestPath(rule) : undefined;
      if (normalized === undefined || normalized !== rule || rule.includes('?')) {
        return { path: `${member}[${index}]`, message: `'${rule}' is not a normalised path: start with '/', no query, dot segments, repeated slashes or encoded slashes${normalized ? ` (did you mean '${normalized}'?)` : ''}` };
      }
      rules[kind].push(normalized);
    }
  }
  return Object.freeze({ exempt: Object.freeze(rules.exempt), verified: Object.freeze(rules.verified) });
}

/** The app library names its option (`allow.sans[1]`, `trustAnchors[0]`); the ARM member is what the writer sees. */
function locate(message: string): { path: string; message: string } {
  const match = /^(allow\.\w+(?:\[\d+\])?|trustAnchors\[\d+\]|intermediates\[\d+\]|crls\[\d+\]|crls): (.*)$/s.exec(message);
  if (!match) {
    if (message.startsWith('configure trustAnchors')) {
      return { path: 'clientCertificateAllow', message: 'without clientCertificateTrustAnchors, pin certificates with clientCertificateAllow.thumbprints or .spkiSha256 (subjects and names alone are no proof: anyone can make a certificate that carries them)' };
    }
    return { path: 'clientCertificateTrustAnchors', message };
  }
  const [, where, reason] = match;
  const path = where!
    .replace(/^allow\./, 'clientCertificateAllow.')
    .replace(/^trustAnchors/, 'clientCertificateTrustAnchors')
    .replace(/^intermediates/, 'clientCertificateIntermediates')
    .replace(/^crls/, 'clientCertificateRevocationLists');
  return { path, message: reason === 'CRLs need trustAnchors to check their signatures' ? 'CRLs need clientCertificateTrustAnchors to check their signatures' : reason! };
}
