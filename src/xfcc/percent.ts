// Envoy's percent-encoding for XFCC Cert/Chain values: every UTF-8 byte except
// A-Z a-z 0-9 * - . _ becomes %XX with upper-case hex.

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
export function percentEncode(s: string): string {
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
export function percentDecode(s: string): string | undefined {
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
