// PEM (RFC 7468) for the whole project: splitting text into blocks, leniently as `openssl`
// reads files (the CLI) or strictly as a forwarded certificate chain must be (the app library,
// XFCC), and writing certificates. node:crypto only, so the app library can use it on its own.
import { X509Certificate } from 'node:crypto';

const LINE_LENGTH = 64;
const CERTIFICATE_BEGIN = '-----BEGIN CERTIFICATE-----';
const CERTIFICATE_END = '-----END CERTIFICATE-----';
const ANY_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/=\s]+$/;

export interface PemBlock {
  /** `CERTIFICATE`, `PRIVATE KEY`, `X509 CRL`... */
  readonly label: string;
  /** The block from its BEGIN line through its END line. */
  readonly text: string;
}

/**
 * Every PEM block in `text`, in order, whatever its label; text around and between blocks is
 * ignored, as openssl does when it reads a file (comments, `Bag Attributes` lines).
 */
export function pemBlocks(text: string): PemBlock[] {
  return Array.from(text.matchAll(ANY_BLOCK), ([block, label]) => ({ label: label!, text: block }));
}

/** The certificates of `text`'s CERTIFICATE blocks, other blocks ignored (throws on a bad one). */
export function certificatesInPem(text: string): X509Certificate[] {
  return pemBlocks(text)
    .filter((block) => block.label === 'CERTIFICATE')
    .map((block) => new X509Certificate(block.text));
}

/**
 * The DER bytes of a text that is exactly one PEM block with one of `labels` (whitespace around
 * it allowed), or undefined.
 */
export function singlePemDer(text: string, labels: readonly string[]): Buffer | undefined {
  const blocks = pemBlocks(text);
  const block = blocks[0];
  if (blocks.length !== 1 || block === undefined || !labels.includes(block.label) || text.trim() !== block.text) return undefined;
  const body = block.text.slice(`-----BEGIN ${block.label}-----`.length, -`-----END ${block.label}-----`.length);
  return BASE64_BODY.test(body) ? Buffer.from(body.replace(/\s+/g, ''), 'base64') : undefined;
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
    if (!pem.startsWith(CERTIFICATE_BEGIN, position)) return undefined;
    const end = pem.indexOf(CERTIFICATE_END, position);
    if (end < 0) return undefined;
    const block = pem.slice(position, end + CERTIFICATE_END.length);
    if (block.includes(CERTIFICATE_BEGIN, CERTIFICATE_BEGIN.length)) return undefined;
    blocks.push(`${block}\n`);
    position = skipWhitespace(pem, end + CERTIFICATE_END.length);
  }
  return blocks.length > 0 ? blocks : undefined;
}

/** `-----BEGIN CERTIFICATE-----`, base64 in 64-character lines, `\n` line ends and a trailing `\n`. */
export function derToPem(der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let offset = 0; offset < base64.length; offset += LINE_LENGTH) {
    body += `${base64.slice(offset, offset + LINE_LENGTH)}\n`;
  }
  return `${CERTIFICATE_BEGIN}\n${body}${CERTIFICATE_END}\n`;
}

/** Certificates as one PEM bundle, in order (each block as derToPem writes it). */
export function certificatesToPem(certificates: readonly X509Certificate[]): string {
  return certificates.map((certificate) => derToPem(certificate.raw)).join('');
}

function skipWhitespace(s: string, position: number): number {
  while (position < s.length && ' \t\r\n'.includes(s[position]!)) position++;
  return position;
}
