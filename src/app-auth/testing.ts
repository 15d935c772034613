// Certificates and CRLs for this library's tests, with every extension under the test's control
// (including the wrong ones real issuers refuse to make). Test support only: not exported from
// index.ts.

import { X509Certificate } from 'node:crypto';
import type { webcrypto } from 'node:crypto';
// @peculiar/x509 (through tsyringe) needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { formatXfcc } from '../xfcc/format.ts';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY = 24 * 60 * 60 * 1000;
/** The clock tests verify at; certificates are valid around it unless a test says otherwise. */
export const TEST_NOW = new Date('2030-06-01T00:00:00Z');

export interface TestCertificate {
  pem: string;
  der: Uint8Array;
  certificate: X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  subject: string;
  thumbprint: string;
}

export interface CertificateSpec {
  /** Issuing certificate; self-signed when omitted. */
  issuer?: TestCertificate;
  /** Reuse a key pair (same key, new certificate). */
  keys?: webcrypto.CryptoKeyPair;
  /** basicConstraints cA; null leaves the extension out. */
  ca?: boolean | null;
  pathLength?: number;
  /** x509.KeyUsageFlags; null leaves the extension out. */
  keyUsage?: number | null;
  /** Extended key usage OIDs; null leaves the extension out. */
  eku?: string[] | null;
  sans?: x509.JsonGeneralNames;
  notBefore?: Date;
  notAfter?: Date;
  serialNumber?: string;
  /** Leave out the subject and authority key identifiers. */
  noKeyIds?: boolean;
  extensions?: x509.Extension[];
}

let serial = 0x1000;

export async function makeCertificate(subject: string, spec: CertificateSpec = {}): Promise<TestCertificate> {
  const keys = spec.keys ?? ((await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair);
  const ca = spec.ca === undefined ? spec.issuer === undefined : spec.ca;
  const extensions: x509.Extension[] = [];
  if (ca !== null) extensions.push(new x509.BasicConstraintsExtension(ca, spec.pathLength, true));
  const keyUsage =
    spec.keyUsage === undefined
      ? ca
        ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
        : x509.KeyUsageFlags.digitalSignature
      : spec.keyUsage;
  if (keyUsage !== null) extensions.push(new x509.KeyUsagesExtension(keyUsage, true));
  const eku = spec.eku === undefined ? (ca ? null : [x509.ExtendedKeyUsage.clientAuth]) : spec.eku;
  if (eku !== null) extensions.push(new x509.ExtendedKeyUsageExtension(eku));
  if (spec.sans) extensions.push(new x509.SubjectAlternativeNameExtension(spec.sans));
  if (!spec.noKeyIds) {
    extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto));
    const issuerKey = spec.issuer?.keys.publicKey ?? keys.publicKey;
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerKey, false, crypto));
  }
  extensions.push(...(spec.extensions ?? []));
  const created = await x509.X509CertificateGenerator.create(
    {
      serialNumber: spec.serialNumber ?? (serial++).toString(16).padStart(6, '0'),
      subject,
      issuer: spec.issuer?.subject ?? subject,
      notBefore: spec.notBefore ?? new Date(TEST_NOW.getTime() - 365 * DAY),
      notAfter: spec.notAfter ?? new Date(TEST_NOW.getTime() + 365 * DAY),
      publicKey: keys.publicKey,
      signingKey: (spec.issuer?.keys ?? keys).privateKey,
      signingAlgorithm: ALGORITHM,
      extensions,
    },
    crypto,
  );
  const der = new Uint8Array(created.rawData);
  const certificate = new X509Certificate(der);
  const thumbprint = certificate.fingerprint256.replaceAll(':', '').toLowerCase();
  return { pem: certificate.toString(), der, certificate, keys, subject, thumbprint };
}

export interface CrlSpec {
  revoked?: { serialNumber: string; reason?: x509.X509CrlReason }[];
  thisUpdate?: Date;
  nextUpdate?: Date | null;
  /** Sign with these keys instead of the issuer's (a forged CRL). */
  signingKeys?: webcrypto.CryptoKeyPair;
  extensions?: x509.Extension[];
}

export async function makeCrl(issuer: TestCertificate, spec: CrlSpec = {}): Promise<string> {
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: issuer.subject,
      thisUpdate: spec.thisUpdate ?? new Date(TEST_NOW.getTime() - DAY),
      nextUpdate: spec.nextUpdate === null ? undefined : (spec.nextUpdate ?? new Date(TEST_NOW.getTime() + 7 * DAY)),
      entries: (spec.revoked ?? []).map((entry) => ({
        serialNumber: entry.serialNumber,
        revocationDate: new Date(TEST_NOW.getTime() - 2 * DAY),
        // Without any entry extension @peculiar/x509 writes an empty one, which RFC 5280 forbids
        // and pkijs rejects: always state a reason.
        reason: entry.reason ?? x509.X509CrlReason.superseded,
      })),
      extensions: spec.extensions,
      signingKey: (spec.signingKeys ?? issuer.keys).privateKey,
      signingAlgorithm: ALGORITHM,
    },
    crypto,
  );
  // The RFC 7468 label, as OpenSSL writes it.
  return crl.toString('pem').replace(/-----(BEGIN|END) CRL-----/g, '-----$1 X509 CRL-----');
}

/** The X-Forwarded-Client-Cert certgate would send for a client presenting `chain`. */
export function xfccFor(...chain: TestCertificate[]): { 'x-forwarded-client-cert': string } {
  return { 'x-forwarded-client-cert': formatXfcc(chain.map((certificate) => certificate.der)) };
}

/** Root → intermediate (pathlen 0) → client leaf, the common private PKI. */
export async function makeChain(): Promise<{ root: TestCertificate; intermediate: TestCertificate; leaf: TestCertificate }> {
  const root = await makeCertificate('CN=Test Root');
  const intermediate = await makeCertificate('CN=Test Intermediate', { issuer: root, ca: true, pathLength: 0 });
  const leaf = await makeCertificate('CN=client-1, O=Tests', {
    issuer: intermediate,
    sans: [
      { type: 'dns', value: 'client-1.tests.example' },
      { type: 'url', value: 'spiffe://tests.example/client/1' },
    ],
  });
  return { root, intermediate, leaf };
}
