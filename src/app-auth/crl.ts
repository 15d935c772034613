// Certificate revocation lists: parsed with pkijs when the verifier is built; each CRL's signature
// is checked (synchronously, with node:crypto) against the certificate that issued the
// certificates it is consulted for, the first time that pair meets.

import { constants, verify as verifySignature } from 'node:crypto';
import * as pkijs from 'pkijs';
import * as asn1js from 'asn1js';
import { hasKeyUsage, hexOf, KEY_USAGE, serialKey } from '../pki/facts.ts';
import { singlePemDer } from '../pki/pem.ts';
import type { CertificateInfo } from '../pki/facts.ts';

export interface RevocationEntry {
  date: number;
  reason: string | undefined;
}

export interface CompiledCrl {
  /** Position in the `crls` option, for messages. */
  readonly index: number;
  /** Hex DER of the issuer name, compared byte for byte with the issuing CA's subject. */
  readonly issuerDer: string;
  readonly authorityKeyId: string | undefined;
  readonly thisUpdate: number;
  readonly nextUpdate: number | undefined;
  /** Keyed by serial number (upper-case hex, no leading zero bytes). */
  readonly revoked: ReadonlyMap<string, RevocationEntry>;
  /** Whether the CRL is signed by `issuer`'s key; memoized per issuer. */
  signedBy(issuer: CertificateInfo): boolean;
}

const OID = {
  authorityKeyIdentifier: '2.5.29.35',
  crlNumber: '2.5.29.20',
  issuingDistributionPoint: '2.5.29.28',
  deltaCrlIndicator: '2.5.29.27',
  freshestCrl: '2.5.29.46',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  certificateIssuer: '2.5.29.29',
  rsaPss: '1.2.840.113549.1.1.10',
} as const;

const CRL_EXTENSIONS = new Set<string>([OID.authorityKeyIdentifier, OID.crlNumber, OID.freshestCrl, OID.authorityInfoAccess]);
const ENTRY_EXTENSIONS = new Set<string>([OID.reasonCode, OID.invalidityDate]);

const REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  undefined,
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
];

// Signature algorithms by OID: the digest for node:crypto's verify (null: the key decides, EdDSA).
const SIGNATURE_DIGESTS: Record<string, string | null> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
  '1.3.101.113': null,
};
const HASH_OIDS: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Parses a CRL (PEM or DER). Throws with the reason when it is unusable: configuration errors surface at start-up. */
export function compileCrl(input: string | Uint8Array, index: number): CompiledCrl {
  const der = typeof input === 'string' ? pemToDer(input, index) : input;
  let crl: pkijs.CertificateRevocationList;
  try {
    // asn1js stops at 10,000 nodes by default (a guard against hostile input); a CRL has about ten
    // per entry, so one of 1,000+ revocations would not parse. Every node takes at least two bytes:
    // bounding by the input's size keeps the guard's purpose for this trusted-size input.
    const parsed = asn1js.fromBER(der, { maxNodes: Math.max(10_000, Math.ceil(der.byteLength / 2)) });
    if (parsed.offset === -1) throw new Error(parsed.result.error);
    crl = new pkijs.CertificateRevocationList({ schema: parsed.result });
  } catch (error) {
    throw new TypeError(`crls[${index}]: not a CRL: ${(error as Error).message}`);
  }
  const where = `crls[${index}]`;
  if (crl.signature.algorithmId !== crl.signatureAlgorithm.algorithmId) {
    throw new TypeError(`${where}: the signed and the outer signature algorithms differ`);
  }
  const checkSignature = signatureChecker(crl, where);

  let authorityKeyId: string | undefined;
  for (const extension of crl.crlExtensions?.extensions ?? []) {
    if (extension.extnID === OID.authorityKeyIdentifier) {
      const value = extension.parsedValue as pkijs.AuthorityKeyIdentifier | undefined;
      if (value?.keyIdentifier) authorityKeyId = hexOf(value.keyIdentifier.valueBlock.valueHexView);
    } else if (extension.extnID === OID.issuingDistributionPoint || extension.extnID === OID.deltaCrlIndicator) {
      // Partitioned, indirect and delta CRLs list only part of the revocations: taking one for
      // a complete CRL would pass revoked certificates.
      throw new TypeError(`${where}: partitioned, indirect and delta CRLs are not supported (extension ${extension.extnID})`);
    } else if (extension.critical && !CRL_EXTENSIONS.has(extension.extnID)) {
      throw new TypeError(`${where}: unsupported critical extension ${extension.extnID}`);
    }
  }

  const revoked = new Map<string, RevocationEntry>();
  for (const entry of crl.revokedCertificates ?? []) {
    let reason: string | undefined;
    for (const extension of entry.crlEntryExtensions?.extensions ?? []) {
      if (extension.extnID === OID.certificateIssuer) throw new TypeError(`${where}: indirect CRL entries are not supported`);
      if (extension.extnID === OID.reasonCode) {
        const value = extension.parsedValue as unknown;
        if (value instanceof asn1js.Enumerated) reason = REASONS[value.valueBlock.valueDec];
      } else if (extension.critical && !ENTRY_EXTENSIONS.has(extension.extnID)) {
        throw new TypeError(`${where}: unsupported critical entry extension ${extension.extnID}`);
      }
    }
    revoked.set(serialKey(entry.userCertificate.valueBlock.valueHexView), { date: entry.revocationDate.value.getTime(), reason });
  }

  const verdicts = new Map<string, boolean>();
  return Object.freeze({
    index,
    issuerDer: hexOf(new Uint8Array(crl.issuer.valueBeforeDecode)),
    authorityKeyId,
    thisUpdate: crl.thisUpdate.value.getTime(),
    nextUpdate: crl.nextUpdate?.value.getTime(),
    revoked,
    signedBy(issuer: CertificateInfo): boolean {
      let verdict = verdicts.get(issuer.fingerprint);
      if (verdict === undefined) {
        verdict = hasKeyUsage(issuer, KEY_USAGE.cRLSign) && checkSignature(issuer);
        verdicts.set(issuer.fingerprint, verdict);
      }
      return verdict;
    },
  });
}

function signatureChecker(crl: pkijs.CertificateRevocationList, where: string): (issuer: CertificateInfo) => boolean {
  const oid = crl.signatureAlgorithm.algorithmId;
  const signature = crl.signatureValue.valueBlock.valueHexView;
  const tbs = crl.tbsView;
  if (oid === OID.rsaPss) {
    const params = new pkijs.RSASSAPSSParams({ schema: crl.signatureAlgorithm.algorithmParams });
    const hash = HASH_OIDS[params.hashAlgorithm.algorithmId];
    const mgfParams = params.maskGenAlgorithm.algorithmParams;
    const mgfHash = mgfParams ? HASH_OIDS[new pkijs.AlgorithmIdentifier({ schema: mgfParams }).algorithmId] : 'sha1';
    if (hash === undefined || mgfHash !== hash) throw new TypeError(`${where}: unsupported RSA-PSS parameters`);
    return (issuer) =>
      safeVerify(() =>
        verifySignature(hash, tbs, { key: issuer.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: params.saltLength }, signature),
      );
  }
  if (!(oid in SIGNATURE_DIGESTS)) throw new TypeError(`${where}: unsupported signature algorithm ${oid}`);
  const digest = SIGNATURE_DIGESTS[oid]!;
  return (issuer) => safeVerify(() => verifySignature(digest, tbs, issuer.publicKey, signature));
}

// A key of the wrong type for the algorithm makes node:crypto throw: that is a failed check.
function safeVerify(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

function pemToDer(pem: string, index: number): Uint8Array {
  // RFC 7468's label is X509 CRL; some tools (and @peculiar/x509) write plain CRL.
  const der = singlePemDer(pem, ['X509 CRL', 'CRL']);
  if (der === undefined) throw new TypeError(`crls[${index}]: expected one "BEGIN X509 CRL" PEM block or DER bytes`);
  return der;
}
