// Fuzz target: verification end to end (read, decode, describe, path building, CRLs, allow-lists,
// cache) on headers built from the input. Byte 0 picks the shape:
//   0: the rest is an X-Forwarded-Client-Cert value;
//   1: byte 1 selects pool certificates (bit i: POOL[i]) in order, byte 2 flags tampering,
//      bytes 3-4 an offset, and the rest overwrites the first selected certificate's DER there;
//   2: byte 1 picks another format, the rest is its value;
//   3: the rest is a leaf's DER, forwarded with the pool's intermediates.
// Never throws, never answers INTERNAL_ERROR.
import { formatXfcc, sha256Hex } from '../src/xfcc/index.ts';
import { checkResult, POOL, VERIFIERS } from './fixtures.mjs';

const OTHER_FORMATS = ['x-arr-clientcert', 'client-cert', 'x-ssl-client-cert', 'x-amzn-mtls-clientcert'];

function headersFor(data) {
  const mode = data[0] & 3;
  const rest = data.subarray(1);
  switch (mode) {
    case 0:
      return { 'x-forwarded-client-cert': rest.toString('latin1') };
    case 1: {
      if (rest.length < 4) return {};
      const chain = POOL.filter((_, index) => rest[0] & (1 << index)).map((der) => Uint8Array.from(der));
      if (chain.length === 0) return {};
      const patch = rest.subarray(4);
      const target = chain[0];
      const offset = rest.readUInt16LE(2) % (target.length + 1);
      const patched = new Uint8Array(Math.max(target.length, offset + patch.length));
      patched.set(target);
      patched.set(patch, offset);
      chain[0] = rest[1] & 1 ? patched.subarray(0, Math.max(offset + patch.length, 1)) : patched;
      let header = formatXfcc(chain);
      if (rest[1] & 2) header = header.replace(/^Hash=[0-9a-f]{64}/, `Hash=${sha256Hex(POOL[rest[1] % POOL.length])}`);
      if (rest[1] & 4) header = header.replace(/;Cert="[^"]*"/, '');
      if (rest[1] & 8) header = header.replace(/;Chain="[^"]*"/, '');
      if (rest[1] & 16) header = `${formatXfcc([POOL[3]])},${header}`;
      return { 'x-forwarded-client-cert': header };
    }
    case 2: {
      if (rest.length === 0) return {};
      const name = OTHER_FORMATS[rest[0] % OTHER_FORMATS.length];
      const [value, chain] = rest.subarray(1).toString('latin1').split('\n');
      return name === 'client-cert' && chain !== undefined ? { [name]: value, 'client-cert-chain': chain } : { [name]: value };
    }
    default:
      return { 'x-forwarded-client-cert': formatXfcc([rest, POOL[1], POOL[5]]), 'x-arr-clientcert': Buffer.from(rest).toString('base64') };
  }
}

/** @param {Buffer} data */
export function fuzz(data) {
  if (data.length === 0) return;
  const headers = headersFor(data);
  for (const verifier of VERIFIERS) {
    const result = verifier.verifyHeaders(headers);
    checkResult(result);
    // The cached answer is the same answer.
    const again = verifier.verifyHeaders(headers);
    if (again.ok !== result.ok || again.code !== result.code) throw new Error('cached result differs');
  }
}
