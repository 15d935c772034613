// What `show`, `create-ca`, `issue` and `verify` print about a certificate: its facts as
// src/pki/facts.ts reads them (the reader the app library and the control plane use too).
import type { X509Certificate } from 'node:crypto';
import { describeCertificate, extendedKeyUsageNames, isSelfSigned, keyTypeOf, keyUsageNames, sha1Thumbprint } from '../../pki/facts.ts';
import type { CertificateInfo } from '../../pki/facts.ts';
import { CliError } from '../errors.ts';

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** At the time of the command. */
  status: 'valid' | 'expired' | 'notYetValid';
  /** SHA-256 of the DER, lower-case hex: the X-Forwarded-Client-Cert `Hash`. */
  thumbprint: string;
  /** SHA-1 of the DER, upper-case hex: what Azure and Windows call the thumbprint. */
  sha1Thumbprint: string;
  keyType: string;
  isCa: boolean;
  /** basicConstraints pathLenConstraint of a CA; null when absent. */
  pathLength: number | null;
  selfSigned: boolean;
  keyUsages: string[];
  extendedKeyUsages: string[];
  dnsNames: string[];
  ipAddresses: string[];
  uris: string[];
  emails: string[];
}

export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The certificate's facts; a CliError when its extensions cannot be read. */
export function factsOf(cert: X509Certificate): CertificateInfo {
  const info = describeCertificate(cert);
  if (typeof info === 'string') throw new CliError(`cannot read the extensions of certificate '${cert.subject}': ${info}`, { code: 'InvalidCertificate' });
  return info;
}

export function summarize(cert: X509Certificate, now: Date = new Date()): CertificateSummary {
  const info = factsOf(cert);
  const notBefore = cert.validFromDate;
  const notAfter = cert.validToDate;
  return {
    subject: info.subject,
    issuer: info.issuer,
    serialNumber: cert.serialNumber.toUpperCase(),
    notBefore: isoSeconds(notBefore),
    notAfter: isoSeconds(notAfter),
    status: now < notBefore ? 'notYetValid' : now > notAfter ? 'expired' : 'valid',
    thumbprint: info.fingerprint,
    sha1Thumbprint: sha1Thumbprint(cert),
    keyType: keyTypeOf(cert.publicKey),
    isCa: cert.ca,
    pathLength: cert.ca ? (info.basicConstraints?.pathLength ?? null) : null,
    selfSigned: isSelfSigned(cert),
    keyUsages: keyUsageNames(info),
    extendedKeyUsages: extendedKeyUsageNames(info),
    dnsNames: [...info.san.dns],
    ipAddresses: [...info.san.ip],
    uris: [...info.san.uri],
    emails: [...info.san.email],
  };
}

/** The table shows the columns that identify a certificate, in this order (knack's table_transformer). */
export function certificateTable(value: unknown): unknown {
  const row = (cert: CertificateSummary) => ({
    subject: cert.subject,
    issuer: cert.issuer,
    notAfter: cert.notAfter,
    status: cert.status,
    thumbprint: cert.thumbprint,
  });
  return Array.isArray(value) ? (value as CertificateSummary[]).map(row) : row(value as CertificateSummary);
}
