// Verifier options, validated and compiled once: certificates parsed and indexed, allow-lists
// normalised. Anything wrong throws here, at start-up, naming the option; requests only read the
// frozen result.

import { X509Certificate } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { decodeCertificates } from '../xfcc/certificates.ts';
import type { ReaderOptions } from '../xfcc/sources.ts';
import { describeCertificate } from '../pki/facts.ts';
import { indexAnchors } from './path.ts';
import type { PathOptions } from './path.ts';
import type { CertificateInfo, SubjectAltNames } from '../pki/facts.ts';
import { compileCrl } from './crl.ts';
import type { CompiledCrl } from './crl.ts';

/** PEM (one certificate or a bundle), DER bytes, or a parsed certificate. */
export type CertificateInput = string | Uint8Array | X509Certificate;

export interface AllowList {
  /** SHA-256 of the leaf's DER, hex; colons, spaces and upper case are accepted. */
  thumbprints?: readonly string[];
  /** SHA-256 of the leaf's SubjectPublicKeyInfo: hex, base64, or `sha256/<base64>`. */
  spkiSha256?: readonly string[];
  /** Leaf subjects exactly as `identity.subject` prints them, e.g. `CN=device-42, O=Contoso Devices`. */
  subjects?: readonly string[];
  /** `dns:name`, `uri:value`, `uri:prefix/*` (a path prefix), `email:addr`, `ip:addr`. */
  sans?: readonly string[];
}

export interface VerifierOptions extends ReaderOptions {
  /** The CAs (or self-signed certificates) whose issuance is trusted. Trust comes only from here. */
  trustAnchors?: readonly CertificateInput[];
  /**
   * Known intermediate CAs, used to build paths but trusted only through an anchor: lets a leaf
   * verify when the chain arrives without its intermediate (e.g. a resumed TLS session).
   */
  intermediates?: readonly CertificateInput[];
  /** Each configured list must match the leaf (and within a list, one entry). */
  allow?: AllowList;
  /** CRLs (PEM or DER) of the anchors and intermediates; requires trustAnchors. */
  crls?: readonly (string | Uint8Array)[];
  /** Refuse a path with a certificate that no configured CRL covers (CRL_MISSING). Default false. */
  requireCrl?: boolean;
  /** Use a CRL past its nextUpdate instead of failing with CRL_EXPIRED. Default false. */
  allowExpiredCrl?: boolean;
  /** The time validity is checked at. Default: the system clock. */
  clock?: () => Date | number;
  /** Most certificates in a path, leaf and anchor included. Default 8. */
  maxPathLength?: number;
  /** Results of verifyHeaders, per forwarded certificate; `false` turns the cache off. */
  cache?: false | { maxEntries?: number; ttlMs?: number };
}

export interface CompiledAllowList {
  thumbprints: ReadonlySet<string> | undefined;
  spki: ReadonlySet<string> | undefined;
  subjects: ReadonlySet<string> | undefined;
  sans: readonly SanRule[] | undefined;
}

export interface SanRule {
  kind: keyof SubjectAltNames;
  value: string;
  /** `value` ends with `/` and names match when they start with it. */
  prefix: boolean;
}

export interface CompiledOptions extends PathOptions {
  anchors: readonly CertificateInfo[];
  allow: CompiledAllowList;
  now: () => number;
  cache: { maxEntries: number; ttlMs: number } | undefined;
}

const KNOWN_OPTIONS = new Set([
  'formats',
  'xfccElement',
  'maxChainLength',
  'trustAnchors',
  'intermediates',
  'allow',
  'crls',
  'requireCrl',
  'allowExpiredCrl',
  'clock',
  'maxPathLength',
  'cache',
]);
const KNOWN_ALLOW = new Set(['thumbprints', 'spkiSha256', 'subjects', 'sans']);
const DEFAULT_MAX_PATH_LENGTH = 8;
const DEFAULT_CACHE = { maxEntries: 1000, ttlMs: 5 * 60_000 };

export function compileOptions(options: VerifierOptions): CompiledOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options: expected an object');
  for (const key of Object.keys(options)) {
    // A misspelt option would otherwise be ignored silently, and trust rests on these.
    if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`unknown option ${JSON.stringify(key)}`);
  }
  const anchors = dedupe(certificates(options.trustAnchors, 'trustAnchors'));
  for (const anchor of anchors) {
    if (anchor.info.unsupportedCritical.length > 0) {
      throw new TypeError(`${anchor.where}: unsupported critical extension ${anchor.info.unsupportedCritical.join(', ')}`);
    }
  }
  const intermediates = dedupe(certificates(options.intermediates, 'intermediates'));
  for (const { info, where } of intermediates) {
    if (info.basicConstraints?.ca !== true) throw new TypeError(`${where}: not a CA certificate`);
    if (info.unsupportedCritical.length > 0) throw new TypeError(`${where}: unsupported critical extension ${info.unsupportedCritical.join(', ')}`);
  }
  const allow = compileAllowList(options.allow);
  if (anchors.length === 0 && allow.thumbprints === undefined && allow.spki === undefined) {
    // Without an anchor or a pin anyone can make a certificate that passes: names are not proof.
    throw new TypeError('configure trustAnchors, or pin certificates with allow.thumbprints or allow.spkiSha256');
  }
  const crls = (options.crls ?? []).map((crl, index) => compileCrl(crl, index));
  if (crls.length > 0 && anchors.length === 0) throw new TypeError('crls: CRLs need trustAnchors to check their signatures');
  const crlsByIssuer = new Map<string, CompiledCrl[]>();
  for (const crl of crls) crlsByIssuer.set(crl.issuerDer, [...(crlsByIssuer.get(crl.issuerDer) ?? []), crl]);

  const { anchorFingerprints, anchorsBySubject } = indexAnchors(anchors.map((anchor) => anchor.info));

  return Object.freeze({
    anchors: anchors.map((anchor) => anchor.info),
    anchorFingerprints,
    anchorsBySubject,
    intermediates: intermediates.map((intermediate) => intermediate.info),
    allow,
    crlsByIssuer,
    requireCrl: booleanOption(options.requireCrl, 'requireCrl'),
    allowExpiredCrl: booleanOption(options.allowExpiredCrl, 'allowExpiredCrl'),
    now: compileClock(options.clock),
    maxPathLength: integerOption(options.maxPathLength, 'maxPathLength', DEFAULT_MAX_PATH_LENGTH, 1),
    cache: compileCache(options.cache),
  });
}

interface Located {
  info: CertificateInfo;
  where: string;
}

function certificates(inputs: readonly CertificateInput[] | undefined, name: string): Located[] {
  if (inputs === undefined) return [];
  if (!Array.isArray(inputs)) throw new TypeError(`${name}: expected an array`);
  const located: Located[] = [];
  for (const [index, input] of inputs.entries()) {
    const where = `${name}[${index}]`;
    for (const certificate of parseCertificateInput(input, where)) {
      const info = describeCertificate(certificate);
      if (typeof info === 'string') throw new TypeError(`${where}: ${info}`);
      located.push({ info, where });
    }
  }
  return located;
}

function parseCertificateInput(input: CertificateInput, where: string): X509Certificate[] {
  if (input instanceof X509Certificate) return [input];
  try {
    if (typeof input === 'string') {
      const decoded = decodeCertificates(input);
      if (!decoded.ok) throw new Error(decoded.message);
      return decoded.certificates;
    }
    if (input instanceof Uint8Array) return [new X509Certificate(input)];
  } catch (error) {
    throw new TypeError(`${where}: ${(error as Error).message}`);
  }
  throw new TypeError(`${where}: expected PEM text, DER bytes or an X509Certificate`);
}

function dedupe(located: Located[]): Located[] {
  const seen = new Set<string>();
  return located.filter(({ info }) => !seen.has(info.fingerprint) && seen.add(info.fingerprint));
}

function compileAllowList(allow: AllowList | undefined): CompiledAllowList {
  if (allow === undefined) return { thumbprints: undefined, spki: undefined, subjects: undefined, sans: undefined };
  if (allow === null || typeof allow !== 'object') throw new TypeError('allow: expected an object');
  for (const key of Object.keys(allow)) if (!KNOWN_ALLOW.has(key)) throw new TypeError(`allow: unknown list ${JSON.stringify(key)}`);
  return Object.freeze({
    thumbprints: stringSet(allow.thumbprints, 'allow.thumbprints', normaliseThumbprint),
    spki: stringSet(allow.spkiSha256, 'allow.spkiSha256', normaliseSpki),
    subjects: stringSet(allow.subjects, 'allow.subjects', normaliseSubject),
    sans: allow.sans === undefined ? undefined : Object.freeze(list(allow.sans, 'allow.sans').map(compileSanRule)),
  });
}

function list(values: readonly string[], name: string): string[] {
  if (!Array.isArray(values) || values.length === 0) {
    // An empty list would refuse everyone; more likely a configuration mistake (an unset variable).
    throw new TypeError(`${name}: expected a non-empty array`);
  }
  return values.map((value, index) => {
    if (typeof value !== 'string') throw new TypeError(`${name}[${index}]: expected a string`);
    return value;
  });
}

function stringSet(
  values: readonly string[] | undefined,
  name: string,
  normalise: (value: string) => string | undefined,
): ReadonlySet<string> | undefined {
  if (values === undefined) return undefined;
  return new Set(
    list(values, name).map((value, index) => {
      const normalised = normalise(value);
      if (normalised === undefined) throw new TypeError(`${name}[${index}]: invalid value ${JSON.stringify(value)}`);
      return normalised;
    }),
  );
}

/** Lower-case hex without separators, or undefined when it is not a SHA-256. */
export function normaliseThumbprint(value: string): string | undefined {
  const hex = value.replace(/[\s:]/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

function normaliseSpki(value: string): string | undefined {
  const hex = normaliseThumbprint(value);
  if (hex !== undefined) return hex;
  const base64 = value.trim().replace(/^sha256\//, '');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(base64)) return undefined;
  return Buffer.from(base64, 'base64').toString('hex');
}

function normaliseSubject(value: string): string | undefined {
  const subject = value.trim().split('\n').join(', ');
  return subject.includes('=') ? subject : undefined;
}

function compileSanRule(rule: string, index: number): SanRule {
  const where = `allow.sans[${index}]`;
  const colon = rule.indexOf(':');
  const kind = rule.slice(0, colon).toLowerCase();
  const value = rule.slice(colon + 1);
  if (colon < 0 || value === '') throw new TypeError(`${where}: expected "dns:", "uri:", "email:" or "ip:" and a value`);
  switch (kind) {
    case 'dns':
      return { kind: 'dns', value: value.toLowerCase(), prefix: false };
    case 'email':
      return { kind: 'email', value, prefix: false };
    case 'uri': {
      // A bare prefix would let `spiffe://td.evil/` match `spiffe://td`: only whole path segments.
      if (value.includes('*') && !value.endsWith('/*')) throw new TypeError(`${where}: "*" is allowed only as a final "/*"`);
      const prefix = value.endsWith('/*');
      return { kind: 'uri', value: prefix ? value.slice(0, -1) : value, prefix };
    }
    case 'ip': {
      const ip = canonicalIp(value);
      if (ip === undefined) throw new TypeError(`${where}: not an IP address`);
      return { kind: 'ip', value: ip, prefix: false };
    }
    default:
      throw new TypeError(`${where}: unknown name type ${JSON.stringify(kind)}`);
  }
}

function canonicalIp(value: string): string | undefined {
  if (isIPv4(value)) return value;
  if (isIPv6(value)) return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  return undefined;
}

export function sanMatches(rule: SanRule, san: Readonly<SubjectAltNames>): boolean {
  const names = san[rule.kind];
  for (const name of names) {
    const candidate = rule.kind === 'dns' ? name.toLowerCase() : name;
    if (rule.prefix ? candidate.startsWith(rule.value) : candidate === rule.value) return true;
  }
  return false;
}

function booleanOption(value: boolean | undefined, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TypeError(`${name}: expected a boolean`);
  return value;
}

function integerOption(value: number | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw new TypeError(`${name}: expected an integer >= ${min}`);
  return value;
}

function compileClock(clock: VerifierOptions['clock']): () => number {
  if (clock === undefined) return Date.now;
  if (typeof clock !== 'function') throw new TypeError('clock: expected a function returning a Date or milliseconds');
  return () => {
    const value = clock();
    return value instanceof Date ? value.getTime() : value;
  };
}

function compileCache(cache: VerifierOptions['cache']): CompiledOptions['cache'] {
  if (cache === false) return undefined;
  if (cache === undefined) return DEFAULT_CACHE;
  if (cache === null || typeof cache !== 'object') throw new TypeError('cache: expected false or { maxEntries, ttlMs }');
  const maxEntries = integerOption(cache.maxEntries, 'cache.maxEntries', DEFAULT_CACHE.maxEntries, 1);
  const ttlMs = cache.ttlMs ?? DEFAULT_CACHE.ttlMs;
  if (!(typeof ttlMs === 'number' && ttlMs > 0)) throw new TypeError('cache.ttlMs: expected a positive number');
  return { maxEntries, ttlMs };
}
