// Certificate facts for the whole project, read once per certificate by one reader: Node's
// X509Certificate (OpenSSL, the parser the TLS stack itself uses) for names, dates, keys and
// signatures, and pkijs for the extension details Node does not expose (path length, key usage
// bits, key identifiers, critical extensions). Used by the app library's verifier, the CLI's
// `cert show`/`verify` and the control plane's certificate resources. Not @peculiar/x509: it
// needs the global Reflect metadata polyfill, which the app library must not force on apps.

import { PkiError } from './codes.ts';
import { createHash, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import * as pkijs from 'pkijs';
import * as asn1js from 'asn1js';

export interface SubjectAltNames {
  readonly dns: readonly string[];
  readonly uri: readonly string[];
  readonly email: readonly string[];
  readonly ip: readonly string[];
}

type MutableAltNames = { -readonly [K in keyof SubjectAltNames]: string[] };

export interface CertificateInfo {
  readonly certificate: X509Certificate;
  /** Lower-case hex SHA-256 of the DER. */
  readonly fingerprint: string;
  /** Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo (an HPKP-style key pin, in hex). */
  readonly spkiSha256: string;
  /** Node's multi-line forms, used to match issuers to subjects. */
  readonly subjectKey: string;
  readonly issuerKey: string;
  /** `CN=a, O=b`: attributes in certificate order, RFC 4514 escaping. */
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  /** Serial as CRLs are matched: see serialKey. */
  readonly serialKey: string;
  /** Hex DER of the subject name, compared byte for byte with CRL issuer names. */
  readonly subjectDer: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly selfIssued: boolean;
  readonly version: number;
  readonly subjectKeyId: string | undefined;
  readonly authorityKeyId: string | undefined;
  /** Undefined without a basicConstraints extension. */
  readonly basicConstraints: { ca: boolean; pathLength: number | undefined } | undefined;
  /** Bit i is KeyUsage bit i (0 digitalSignature … 5 keyCertSign, 6 cRLSign); undefined without the extension. */
  readonly keyUsage: number | undefined;
  readonly extendedKeyUsage: readonly string[] | undefined;
  readonly san: Readonly<SubjectAltNames>;
  /** OIDs of critical extensions this library does not process. */
  readonly unsupportedCritical: readonly string[];
  readonly publicKey: KeyObject;
}

export const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_ANY = '2.5.29.37.0';

/** What a certification path is checked for: TLS client or server authentication, or anything. */
export type Purpose = 'clientAuth' | 'serverAuth' | 'any';

// RFC 5280 4.2.1.3's names, by bit.
const KEY_USAGE_NAMES = [
  'digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement',
  'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly',
] as const;

// RFC 5280 4.2.1.12's key purposes, by OID.
const EKU_NAMES = new Map<string, string>([
  [EKU_SERVER_AUTH, 'serverAuth'],
  [EKU_CLIENT_AUTH, 'clientAuth'],
  ['1.3.6.1.5.5.7.3.3', 'codeSigning'],
  ['1.3.6.1.5.5.7.3.4', 'emailProtection'],
  ['1.3.6.1.5.5.7.3.8', 'timeStamping'],
  ['1.3.6.1.5.5.7.3.9', 'ocspSigning'],
]);

const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
} as const;

// Certificate policies are accepted without policy processing (as Go's crypto/x509 does); name
// constraints and policy constraints are not, so a critical one makes the certificate unusable.
const PROCESSED = new Set<string>(Object.values(OID));

/** What OpenSSL's ASN1_TIME_print (Node's validFrom and validTo) gives for a time it cannot read. */
const BAD_TIME = 'Bad time value';

export function hasKeyUsage(info: CertificateInfo, bit: number): boolean {
  return info.keyUsage === undefined || (info.keyUsage & (1 << bit)) !== 0;
}

export function allowsClientAuth(info: CertificateInfo): boolean {
  return allowsPurpose(info, 'clientAuth');
}

/** Whether the extended key usage (none means any) allows `purpose`. */
export function allowsPurpose(info: CertificateInfo, purpose: Purpose): boolean {
  const usages = info.extendedKeyUsage;
  if (usages === undefined || purpose === 'any' || usages.includes(EKU_ANY)) return true;
  return usages.includes(purpose === 'clientAuth' ? EKU_CLIENT_AUTH : EKU_SERVER_AUTH);
}

/** The names of the key usage bits set, in bit order; [] without the extension. */
export function keyUsageNames(info: CertificateInfo): string[] {
  const mask = info.keyUsage ?? 0;
  return KEY_USAGE_NAMES.filter((_, bit) => (mask & (1 << bit)) !== 0);
}

/** The extended key usages by name (serverAuth, clientAuth...), unknown ones as OIDs; [] without the extension. */
export function extendedKeyUsageNames(info: CertificateInfo): string[] {
  return (info.extendedKeyUsage ?? []).map((oid) => EKU_NAMES.get(oid) ?? oid);
}

/** SHA-1 of the DER, upper-case hex: what Azure and Windows call the thumbprint. */
export function sha1Thumbprint(certificate: X509Certificate): string {
  return certificate.fingerprint.replaceAll(':', '');
}

/** Names `issuer` as its issuer (names, key identifiers, keyCertSign) and is signed by its key. */
export function issuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  return child.checkIssued(issuer) && child.verify(issuer.publicKey);
}

/** Whether `child`'s signature verifies with `issuer`'s key; false for a key type that cannot check it. */
export function signedBy(child: CertificateInfo, issuer: CertificateInfo): boolean {
  try {
    return child.certificate.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Self-issued and verifiable with its own key: a root, or a self-signed leaf. */
export function isSelfSigned(certificate: X509Certificate): boolean {
  return certificate.subject === certificate.issuer && certificate.verify(certificate.publicKey);
}

const CURVE_NAMES: Record<string, string> = { prime256v1: 'p256', secp384r1: 'p384', secp521r1: 'p521' };

/** `ec-p256`, `rsa-2048`, `ed25519`...: the key type as certgate's --key-type names it. */
export function keyTypeOf(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return `rsa-${details.modulusLength}`;
    case 'rsa-pss':
      return `rsa-pss-${details.modulusLength}`;
    case 'ec':
      return `ec-${CURVE_NAMES[details.namedCurve ?? ''] ?? details.namedCurve}`;
    default:
      return key.asymmetricKeyType ?? 'unknown';
  }
}

export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Upper-case hex without leading zero bytes: the same key for a CRL entry and a certificate. */
export function serialKey(bytes: Uint8Array): string {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return hexOf(bytes.subarray(start)).toUpperCase();
}

/** Reads a certificate; a message when its extensions cannot be parsed. Never throws. */
export function describeCertificate(certificate: X509Certificate): CertificateInfo | string {
  try {
    return describe(certificate);
  } catch (error) {
    return `cannot read the certificate's extensions: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function describe(certificate: X509Certificate): CertificateInfo | string {
  const parsed = pkijs.Certificate.fromBER(certificate.raw);
  let subjectKeyId: string | undefined;
  let authorityKeyId: string | undefined;
  let basicConstraints: CertificateInfo['basicConstraints'];
  let keyUsage: number | undefined;
  let extendedKeyUsage: string[] | undefined;
  const san: MutableAltNames = { dns: [], uri: [], email: [], ip: [] };
  const unsupportedCritical: string[] = [];
  const seen = new Set<string>();
  for (const extension of parsed.extensions ?? []) {
    const { extnID: oid, parsedValue: value } = extension;
    // RFC 5280 4.2: a certificate must not include more than one instance of an extension.
    if (seen.has(oid)) return `extension ${oid} appears twice`;
    seen.add(oid);
    if (extension.critical && !PROCESSED.has(oid)) unsupportedCritical.push(oid);
    if (!PROCESSED.has(oid)) continue;
    // pkijs leaves parsedValue undefined when the extension's value does not match its schema.
    if (value === undefined && oid !== OID.crlDistributionPoints && oid !== OID.certificatePolicies && oid !== OID.authorityInfoAccess) {
      return `extension ${oid} is malformed`;
    }
    switch (oid) {
      case OID.subjectKeyIdentifier:
        subjectKeyId = hexOf(expect(value, asn1js.OctetString, oid).valueBlock.valueHexView);
        break;
      case OID.authorityKeyIdentifier: {
        const keyId = expect(value, pkijs.AuthorityKeyIdentifier, oid).keyIdentifier;
        if (keyId) authorityKeyId = hexOf(keyId.valueBlock.valueHexView);
        break;
      }
      case OID.basicConstraints: {
        const constraints = expect(value, pkijs.BasicConstraints, oid);
        const pathLength = constraints.pathLenConstraint;
        basicConstraints = {
          ca: constraints.cA === true,
          pathLength: pathLength === undefined ? undefined : typeof pathLength === 'number' ? pathLength : Number(pathLength.toBigInt()),
        };
        break;
      }
      case OID.keyUsage:
        keyUsage = bitStringToMask(expect(value, asn1js.BitString, oid));
        break;
      case OID.extKeyUsage:
        extendedKeyUsage = expect(value, pkijs.ExtKeyUsage, oid).keyPurposes.slice();
        break;
      case OID.subjectAltName:
        for (const name of expect(value, pkijs.AltName, oid).altNames) addGeneralName(san, name);
        break;
    }
  }
  const notBefore = certificate.validFromDate.getTime();
  const notAfter = certificate.validToDate.getTime();
  // OpenSSL accepts some times Node cannot turn into a Date (years outside its range, odd forms);
  // for some of them OpenSSL cannot print the time either ('Bad time value') while Node's Date of
  // it is still a number: either way the dates are unreadable.
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter) || certificate.validFrom === BAD_TIME || certificate.validTo === BAD_TIME) return 'the validity dates cannot be read';
  const subjectKey = certificate.subject;
  const issuerKey = certificate.issuer;
  const publicKey = certificate.publicKey;
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return Object.freeze({
    certificate,
    fingerprint: sha256(certificate.raw),
    spkiSha256: sha256(spki),
    subjectKey,
    issuerKey,
    subject: oneLineName(subjectKey),
    issuer: oneLineName(issuerKey),
    serialNumber: certificate.serialNumber,
    serialKey: serialKey(parsed.serialNumber.valueBlock.valueHexView),
    subjectDer: hexOf(new Uint8Array(parsed.subject.valueBeforeDecode)),
    notBefore,
    notAfter,
    selfIssued: subjectKey === issuerKey,
    version: parsed.version + 1,
    subjectKeyId,
    authorityKeyId,
    basicConstraints,
    keyUsage,
    extendedKeyUsage: extendedKeyUsage && Object.freeze(extendedKeyUsage),
    // Frozen all the way down: identities hand these arrays to app code, and the described
    // certificate is cached and consulted again by allow-lists.
    san: Object.freeze({ dns: Object.freeze(san.dns), uri: Object.freeze(san.uri), email: Object.freeze(san.email), ip: Object.freeze(san.ip) }),
    unsupportedCritical: Object.freeze(unsupportedCritical),
    publicKey,
  });
}

function expect<T>(value: unknown, type: abstract new (...args: never[]) => T, oid: string): T {
  // On a schema mismatch pkijs returns a default-constructed value with `parsingError` set.
  if (!(value instanceof type) || (value as { parsingError?: unknown }).parsingError !== undefined) {
    throw new PkiError('CertificateMalformed', `extension ${oid} is malformed`);
  }
  return value;
}

function sha256(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

// Node prints one attribute per line with RFC 2253 escaping, so control characters (and a newline
// inside a value) are escaped and the lines split unambiguously.
function oneLineName(multiline: string): string {
  return multiline.split('\n').join(', ');
}

function bitStringToMask(bits: asn1js.BitString): number {
  const bytes = bits.valueBlock.valueHexView;
  let mask = 0;
  for (let bit = 0; bit < Math.min(bytes.length * 8, 16); bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) mask |= 1 << bit;
  }
  return mask;
}

function addGeneralName(san: MutableAltNames, name: pkijs.GeneralName): void {
  switch (name.type) {
    case 1:
      if (typeof name.value === 'string') san.email.push(name.value);
      break;
    case 2:
      if (typeof name.value === 'string') san.dns.push(name.value);
      break;
    case 6:
      if (typeof name.value === 'string') san.uri.push(name.value);
      break;
    case 7:
      if (name.value instanceof asn1js.OctetString) {
        const ip = formatIp(name.value.valueBlock.valueHexView);
        if (ip !== undefined) san.ip.push(ip);
      }
      break;
  }
}

function formatIp(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) return undefined;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // The URL parser writes the canonical (RFC 5952) form.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}
