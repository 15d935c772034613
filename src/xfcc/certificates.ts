import { createHash, X509Certificate } from 'node:crypto';
import { splitPemBundle } from '../pki/pem.ts';

export { splitPemBundle };

export type DecodeCertificatesResult =
  | { ok: true; certificates: X509Certificate[] }
  | { ok: false; code: 'CERT_BAD_PEM' | 'CERT_INVALID'; message: string };

/** Lower-case hex SHA-256, the form of XFCC `Hash` and Envoy's `verify_certificate_hash`. */
export function sha256Hex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Parses every certificate of a PEM bundle, in order. Never throws. */
export function decodeCertificates(pem: string): DecodeCertificatesResult {
  const blocks = splitPemBundle(pem);
  if (blocks === undefined) {
    return { ok: false, code: 'CERT_BAD_PEM', message: 'not a sequence of CERTIFICATE PEM blocks' };
  }
  const certificates: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { ok: false, code: 'CERT_INVALID', message: `certificate ${index}: ${reason}` };
    }
  }
  return { ok: true, certificates };
}
