import { createHash, X509Certificate } from 'node:crypto';

const PEM_BEGIN = '-----BEGIN CERTIFICATE-----';
const PEM_END = '-----END CERTIFICATE-----';

export type DecodeCertificatesResult =
  | { ok: true; certificates: X509Certificate[] }
  | { ok: false; code: 'CERT_BAD_PEM' | 'CERT_INVALID'; message: string };

/** Lower-case hex SHA-256, the form of XFCC `Hash` and Envoy's `verify_certificate_hash`. */
export function sha256Hex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/**
 * Splits concatenated `CERTIFICATE` PEM blocks, each returned from its BEGIN line
 * through its END line plus `\n`. Undefined when there is no block, a block is
 * unterminated or nested, or anything but whitespace sits between blocks (a key
 * or other PEM type in a forwarded chain means the input is not what it claims).
 */
export function splitPemBundle(pem: string): string[] | undefined {
  const blocks: string[] = [];
  let position = skipWhitespace(pem, 0);
  while (position < pem.length) {
    if (!pem.startsWith(PEM_BEGIN, position)) return undefined;
    const end = pem.indexOf(PEM_END, position);
    if (end < 0) return undefined;
    const block = pem.slice(position, end + PEM_END.length);
    if (block.includes(PEM_BEGIN, PEM_BEGIN.length)) return undefined;
    blocks.push(`${block}\n`);
    position = skipWhitespace(pem, end + PEM_END.length);
  }
  return blocks.length > 0 ? blocks : undefined;
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

function skipWhitespace(s: string, position: number): number {
  while (position < s.length && ' \t\r\n'.includes(s[position]!)) position++;
  return position;
}
