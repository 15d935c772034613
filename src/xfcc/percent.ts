// Envoy's percent-encoding for XFCC Cert/Chain values: every UTF-8 byte except
// A-Z a-z 0-9 * - . _ becomes %XX with upper-case hex. The built-ins do the work:
// encodeURIComponent keeps five characters more (! ' ( ) ~), escaped here after it;
// decodeURIComponent is already strict (bad escapes and non-UTF-8 bytes throw).
// src/xfcc/percent.test.ts proves both byte-identical to the former hand-written codec.

const URI_EXTRA = /[!'()~]/g;
const ESCAPED: Record<string, string> = { '!': '%21', "'": '%27', '(': '%28', ')': '%29', '~': '%7E' };

/**
 * Percent-encodes `s` exactly as Envoy does. Lone surrogates cannot be encoded
 * as UTF-8 and become U+FFFD's UTF-8 (EF BF BD), as with TextEncoder.
 */
export function percentEncode(s: string): string {
  return encodeURIComponent(s.toWellFormed()).replace(URI_EXTRA, (char) => ESCAPED[char]!);
}

/**
 * Strict percent-decoding: `+` stays `+`; a `%` not followed by two hex digits,
 * a decoded byte sequence that is not UTF-8, or a lone surrogate in `s` gives undefined.
 */
export function percentDecode(s: string): string | undefined {
  // decodeURIComponent passes unescaped lone surrogates through; they are not text.
  if (!s.isWellFormed()) return undefined;
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
