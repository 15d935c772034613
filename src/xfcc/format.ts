import { sha256Hex } from './certificates.ts';
import { percentEncode } from './percent.ts';

const PEM_LINE_LENGTH = 64;

/** `-----BEGIN CERTIFICATE-----`, base64 in 64-character lines, `\n` line ends and a trailing `\n`. */
export function derToPem(der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let offset = 0; offset < base64.length; offset += PEM_LINE_LENGTH) {
    body += `${base64.slice(offset, offset + PEM_LINE_LENGTH)}\n`;
  }
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}

/**
 * The `X-Forwarded-Client-Cert` value Envoy (and so Azure Container Apps) sets with
 * SANITIZE_SET and cert + chain details. `chainDer` is every certificate the client
 * sent, leaf first, in the order sent; Chain repeats the leaf, as Envoy's does.
 */
export function formatXfcc(chainDer: readonly Uint8Array[]): string {
  const [leaf] = chainDer;
  if (leaf === undefined) throw new RangeError('formatXfcc needs at least the leaf certificate');
  const encodedLeaf = percentEncode(derToPem(leaf));
  let chain = encodedLeaf;
  for (let i = 1; i < chainDer.length; i++) chain += percentEncode(derToPem(chainDer[i]!));
  return `Hash=${sha256Hex(leaf)};Cert="${encodedLeaf}";Chain="${chain}"`;
}
