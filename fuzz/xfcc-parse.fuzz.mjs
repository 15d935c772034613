// Fuzz target: parseXfcc and percentDecode on arbitrary text. Never throws; a result that parses
// formats back to an equivalent header.
import { parseXfcc, percentDecode, percentEncode } from '../src/xfcc/index.ts';

const XFCC_CODES = new Set(['XFCC_EMPTY', 'XFCC_TOO_LARGE', 'XFCC_SYNTAX', 'XFCC_BAD_ENCODING', 'XFCC_BAD_HASH', 'XFCC_DUPLICATE_KEY']);

/** @param {Buffer} data */
export function fuzz(data) {
  const text = data.toString(data.length > 0 && data[0] & 1 ? 'latin1' : 'utf8');
  const result = parseXfcc(text, { maxLength: 4096 });
  if (!result.ok) {
    if (!XFCC_CODES.has(result.code)) throw new Error(`unknown code ${result.code}`);
    return;
  }
  if (result.elements.length === 0) throw new Error('ok without elements');
  for (const element of result.elements) {
    for (const value of [element.cert, element.chain]) {
      // Decoded Cert/Chain re-encode to something that decodes to the same text.
      if (value !== undefined && percentDecode(percentEncode(value)) !== value) throw new Error('percent round trip');
    }
    if (element.hash !== undefined && !/^[0-9a-f]{64}$/.test(element.hash)) throw new Error('hash not normalised');
  }
  percentDecode(text);
}
