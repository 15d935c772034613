import { sha256Hex } from './certificates.ts';
import { percentEncode } from './percent.ts';
import { derToPem } from '../pki/pem.ts';

export { derToPem };

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
