// The built-in codec (percent.ts) against the hand-written one it replaced, kept here only as the
// oracle: byte for byte the same output for every string, and the same refusals when decoding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { percentDecode, percentEncode } from './percent.ts';

// ---- the former implementation (src/xfcc/percent.ts before the built-ins), unchanged

const PERCENT = 0x25;
const HEX_DIGITS = new TextEncoder().encode('0123456789ABCDEF');

const KEEP_BYTE = new Uint8Array(256);
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-._') {
  KEEP_BYTE[char.charCodeAt(0)] = 1;
}

// -1 for bytes that are not hex digits (either case is accepted when decoding).
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;
  HEX_VALUE['0123456789ABCDEF'.charCodeAt(i)] = i;
}

function hexDigitAt(s: string, index: number): number {
  const unit = s.charCodeAt(index); // NaN past the end
  return unit < 0x80 ? HEX_VALUE[unit]! : -1;
}

const utf8Encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF: the decoder must not drop data.
const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Reused output buffer: encoding is synchronous and toString copies out of it.
let scratch = Buffer.allocUnsafe(4096);

/**
 * Percent-encodes `s` exactly as Envoy does. Lone surrogates cannot be encoded
 * as UTF-8 and become U+FFFD's UTF-8 (EF BF BD), as with TextEncoder.
 */
function oracleEncode(s: string): string {
  const input = Buffer.from(s, 'utf8');
  if (scratch.length < input.length * 3) scratch = Buffer.allocUnsafe(input.length * 3);
  const output = scratch;
  let written = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    if (KEEP_BYTE[byte] === 1) {
      output[written++] = byte;
    } else {
      output[written++] = PERCENT;
      output[written++] = HEX_DIGITS[byte >> 4]!;
      output[written++] = HEX_DIGITS[byte & 0x0f]!;
    }
  }
  return output.toString('latin1', 0, written);
}

/**
 * Strict percent-decoding: `+` stays `+`; a `%` not followed by two hex digits,
 * a decoded byte sequence that is not UTF-8, or a lone surrogate in `s` gives undefined.
 */
function oracleDecode(s: string): string | undefined {
  if (!s.isWellFormed()) return undefined;
  if (!s.includes('%')) return s;
  // Every character takes at most 3 UTF-8 bytes per UTF-16 unit; %XX shrinks to one.
  const bytes = new Uint8Array(s.length * 3);
  let length = 0;
  for (let i = 0; i < s.length; ) {
    const unit = s.charCodeAt(i);
    if (unit === PERCENT) {
      const high = hexDigitAt(s, i + 1);
      const low = hexDigitAt(s, i + 2);
      if (high < 0 || low < 0) return undefined;
      bytes[length++] = (high << 4) | low;
      i += 3;
    } else if (unit < 0x80) {
      bytes[length++] = unit;
      i += 1;
    } else {
      const codePoint = s.codePointAt(i)!;
      const step = codePoint > 0xffff ? 2 : 1;
      length += utf8Encoder.encodeInto(s.slice(i, i + step), bytes.subarray(length)).written;
      i += step;
    }
  }
  try {
    return strictUtf8Decoder.decode(bytes.subarray(0, length));
  } catch {
    return undefined;
  }
}

// ---- the properties

const RUNS = 20_000;
// Strings dense in what the codecs treat specially: '%', hex digits of both cases, the five
// characters encodeURIComponent keeps and Envoy escapes, '+', multi-byte and astral characters,
// lone surrogates, and percent-escapes of arbitrary bytes (valid and invalid UTF-8).
const special = fc.constantFrom('%', '+', '!', "'", '(', ')', '~', '*', '-', '.', '_', 'a', 'F', '0', '9', 'g', ' ', '\uFEFF', 'é', '€', '😀', '\uD800', '\uDFFF');
const escape = fc.integer({ min: 0, max: 255 }).map((byte) => `%${byte.toString(16).padStart(2, '0')}`);
const escapeUpper = escape.map((text) => text.toUpperCase());
const tricky = fc.array(fc.oneof(special, escape, escapeUpper, fc.string({ unit: 'binary', maxLength: 3 })), { maxLength: 24 }).map((parts) => parts.join(''));

describe('percent-encoding with the built-ins is byte-identical to the former codec', () => {
  it('encodes every string (any UTF-16, lone surrogates included) as before', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), tricky), (s) => {
      assert.equal(percentEncode(s), oracleEncode(s));
    }), { numRuns: RUNS });
  });

  it('encodes every single UTF-16 code unit as before', () => {
    for (let unit = 0; unit <= 0xffff; unit++) {
      const s = String.fromCharCode(unit);
      assert.equal(percentEncode(s), oracleEncode(s), `U+${unit.toString(16)}`);
    }
  });

  it('decodes (and refuses) every string as before', () => {
    fc.assert(fc.property(fc.oneof(tricky, fc.string({ unit: 'binary' }), fc.string().map(oracleEncode)), (s) => {
      assert.equal(percentDecode(s), oracleDecode(s));
    }), { numRuns: RUNS });
  });

  it('decodes every escaped byte pair as before (all UTF-8 lead and continuation combinations)', () => {
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b += 1) {
        const s = `%${a.toString(16).padStart(2, '0')}%${b.toString(16).padStart(2, '0').toUpperCase()}`;
        assert.equal(percentDecode(s), oracleDecode(s), s);
      }
    }
  });
});
