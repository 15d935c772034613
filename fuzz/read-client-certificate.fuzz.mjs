// Fuzz target: createClientCertificateReader over every format, with header values from the
// input (first byte: which headers; the rest: values separated by newlines). Never throws; an ok
// result's Hash is its leaf's.
import { createClientCertificateReader, sha256Hex } from '../src/xfcc/index.ts';
import { checkResult } from './fixtures.mjs';

const HEADERS = ['x-forwarded-client-cert', 'x-arr-clientcert', 'client-cert', 'client-cert-chain', 'x-ssl-client-cert', 'x-amzn-mtls-clientcert'];
const READERS = [
  createClientCertificateReader({ formats: ['xfcc', 'arr', 'rfc9440', 'nginx', 'aws-alb'] }),
  createClientCertificateReader({ formats: ['xfcc'], xfccElement: 'only', maxChainLength: 3 }),
];

/** @param {Buffer} data */
export function fuzz(data) {
  if (data.length === 0) return;
  const mask = data[0];
  const values = data.subarray(1).toString('latin1').split('\n');
  const headers = {};
  let next = 0;
  for (const [bit, name] of HEADERS.entries()) {
    if (mask & (1 << bit)) headers[name] = values[next++] ?? '';
  }
  // Bit 7: the first header repeated, as an array (Node's shape for some repeated headers).
  if (mask & 0x80 && values[next] !== undefined) headers['x-forwarded-client-cert'] = [headers['x-forwarded-client-cert'] ?? '', values[next]];
  for (const reader of READERS) {
    const result = reader.read(headers);
    if (result.ok) {
      if (result.certificate.hash !== sha256Hex(result.certificate.leaf.raw)) throw new Error('hash is not the leaf\'s');
      if (!result.certificate.chain[0]?.raw.equals(result.certificate.leaf.raw)) throw new Error('chain does not start with the leaf');
      continue;
    }
    checkResult(result);
  }
}
