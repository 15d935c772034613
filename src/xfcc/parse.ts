// Parser for X-Forwarded-Client-Cert as Envoy writes it (grammar in Envoy's
// headers.rst): elements split by `,`, `key=value` pairs split by `;`, both only
// outside double quotes; keys case-insensitive; `"` inside quotes written `\"`.
//
// Decoding per key, following what Envoy emits (conn_manager_utility.cc):
// - Cert, Chain: always percent-encoded by Envoy, so strictly percent-decoded.
// - By, URI, DNS: written raw, unquoted, and not percent-encoded. Decoding them
//   would change the identity (`spiffe://td/a%2Fb` is not `spiffe://td/a/b`) and
//   let two different SANs compare equal, so they are kept as sent.
// - Subject, Issuer: quoted but neither percent-encoded nor escaped by Envoy;
//   they are RFC 2253 strings whose own escaping already turns `"` into `\"` and
//   `\` into `\\`. The text between the quotes is returned verbatim so that
//   `CN=a\\,O=b` (CN "a\", O "b") is not turned into `CN=a\,O=b` (one CN).
// - Other quoted values: `\"` becomes `"` and `\\` becomes `\`.
//
// Limitation (Envoy issue 32945): Envoy does not quote By/URI/DNS, so a SAN
// containing `;` or `,` is ambiguous. A `;`-separated segment without `=` that
// follows an unquoted By/URI/DNS value is taken as the rest of that value
// (`URI=spiffe://td/a;b` gives `spiffe://td/a;b`); a segment with `=` is read as
// a new pair and a `,` always starts a new element. So where a proxy forwards
// URI/DNS, a client can smuggle extra URI/DNS values, or a whole extra element,
// through its own SANs: authorize on the certificate in Cert, not on URI/DNS, and
// do not trust elements you did not expect. (ACA's and certgate's own header
// carries only Hash, Cert and Chain, which cannot be forged this way.) Within an
// element, single-valued keys (Hash, Cert, Chain, Subject, Issuer and unknown
// keys) may appear once, so a SAN cannot override them.

import { percentDecode } from './percent.ts';

export interface XfccElement {
  by: string[];
  /** Lower-case hex SHA-256 of the leaf's DER. */
  hash?: string;
  /** PEM of the leaf. */
  cert?: string;
  /** Concatenated PEMs, leaf first as Envoy sends them. */
  chain?: string;
  subject?: string;
  issuer?: string;
  uri: string[];
  dns: string[];
  /** Unknown keys, lower-cased, values unquoted but otherwise as sent. Null prototype. */
  extra: Record<string, string>;
}

export type XfccErrorCode =
  | 'XFCC_EMPTY'
  | 'XFCC_TOO_LARGE'
  | 'XFCC_SYNTAX'
  | 'XFCC_BAD_ENCODING'
  | 'XFCC_BAD_HASH'
  | 'XFCC_DUPLICATE_KEY';

export type XfccParseResult =
  | { ok: true; elements: XfccElement[] }
  | { ok: false; code: XfccErrorCode; message: string };

export interface XfccParseOptions {
  /** Longest header accepted, in UTF-16 code units. */
  maxLength?: number;
}

// A few certificates per element and a few proxies; Node caps all headers at 16 KiB by default.
export const DEFAULT_XFCC_MAX_LENGTH = 64 * 1024;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

class XfccError extends Error {
  readonly code: XfccErrorCode;
  constructor(code: XfccErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Parses an X-Forwarded-Client-Cert value, nearest proxy's element last. Never throws. */
export function parseXfcc(header: string, options: XfccParseOptions = {}): XfccParseResult {
  const maxLength = options.maxLength ?? DEFAULT_XFCC_MAX_LENGTH;
  if (typeof header !== 'string' || isBlank(header)) {
    return { ok: false, code: 'XFCC_EMPTY', message: 'header is empty' };
  }
  if (header.length > maxLength) {
    return { ok: false, code: 'XFCC_TOO_LARGE', message: `header longer than ${maxLength} characters` };
  }
  try {
    return { ok: true, elements: new XfccScanner(header).elements() };
  } catch (error) {
    if (error instanceof XfccError) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}

class XfccScanner {
  readonly #text: string;
  #position = 0;

  constructor(text: string) {
    this.#text = text;
  }

  elements(): XfccElement[] {
    const elements = [this.#element()];
    while (this.#peek() === ',') {
      this.#position++;
      elements.push(this.#element());
    }
    return elements;
  }

  #element(): XfccElement {
    const element: XfccElement = { by: [], uri: [], dns: [], extra: Object.create(null) };
    const seenKeys = new Set<string>();
    let pairCount = 0;
    // The list whose last value an Envoy-style unquoted `;` may have cut short.
    let continuable: string[] | undefined;
    for (;;) {
      this.#skipWhitespace();
      const next = this.#peek();
      if (next === undefined || next === ',') break;
      if (next === ';') {
        this.#position++; // empty pair: a trailing or doubled `;`
        continue;
      }
      const segment = trimTrailingWhitespace(this.#readUntil('=;,'));
      if (this.#peek() !== '=') {
        if (continuable === undefined) {
          throw new XfccError('XFCC_SYNTAX', `"${segment}" is not a key=value pair`);
        }
        rejectQuote(segment);
        continuable[continuable.length - 1] += `;${segment}`;
        continue;
      }
      this.#position++;
      if (!TOKEN.test(segment)) throw new XfccError('XFCC_SYNTAX', `invalid key "${segment}"`);
      const key = segment.toLowerCase();
      this.#skipWhitespace();
      const quoted = this.#peek() === '"';
      const value = quoted ? this.#quotedValue(key === 'subject' || key === 'issuer') : this.#rawValue();
      continuable = undefined;
      if (key === 'by' || key === 'uri' || key === 'dns') {
        const list = element[key];
        // Envoy writes `URI=` when the certificate has none.
        if (value !== '') {
          list.push(value);
          if (!quoted) continuable = list;
        }
      } else {
        if (seenKeys.has(key)) throw new XfccError('XFCC_DUPLICATE_KEY', `"${segment}" appears twice in one element`);
        seenKeys.add(key);
        setSingleValue(element, key, value);
      }
      pairCount++;
    }
    if (pairCount === 0) throw new XfccError('XFCC_SYNTAX', 'empty element');
    return element;
  }

  /** Reads `"..."` and the whitespace after it; `verbatim` keeps backslash escapes as written. */
  #quotedValue(verbatim: boolean): string {
    const text = this.#text;
    let value = '';
    let runStart = ++this.#position;
    while (this.#position < text.length) {
      const char = text[this.#position];
      if (char === '"') {
        value += text.slice(runStart, this.#position++);
        this.#skipWhitespace();
        const after = this.#peek();
        if (after !== undefined && after !== ';' && after !== ',') {
          throw new XfccError('XFCC_SYNTAX', 'unexpected text after a quoted value');
        }
        return value;
      }
      if (char === '\\') {
        const escaped = text[this.#position + 1];
        if (!verbatim && (escaped === '"' || escaped === '\\')) {
          value += text.slice(runStart, this.#position) + escaped;
          this.#position += 2;
          runStart = this.#position;
          continue;
        }
        // A backslash always hides the next character from the end-of-value check.
        this.#position += escaped === undefined ? 1 : 2;
        continue;
      }
      this.#position++;
    }
    throw new XfccError('XFCC_SYNTAX', 'unterminated quoted value');
  }

  #rawValue(): string {
    const value = trimTrailingWhitespace(this.#readUntil(';,'));
    rejectQuote(value);
    return value;
  }

  #readUntil(stopChars: string): string {
    const start = this.#position;
    while (this.#position < this.#text.length && !stopChars.includes(this.#text[this.#position]!)) {
      this.#position++;
    }
    return this.#text.slice(start, this.#position);
  }

  #skipWhitespace(): void {
    while (isWhitespace(this.#peek())) this.#position++;
  }

  #peek(): string | undefined {
    return this.#text[this.#position];
  }
}

function setSingleValue(element: XfccElement, key: string, value: string): void {
  switch (key) {
    case 'hash':
      if (!SHA256_HEX.test(value)) throw new XfccError('XFCC_BAD_HASH', 'Hash is not 64 hex digits');
      element.hash = value.toLowerCase();
      return;
    case 'cert':
    case 'chain': {
      const decoded = percentDecode(value);
      if (decoded === undefined) throw new XfccError('XFCC_BAD_ENCODING', `${key} is not valid percent-encoded UTF-8`);
      element[key] = decoded;
      return;
    }
    case 'subject':
    case 'issuer':
      element[key] = value;
      return;
    default:
      element.extra[key] = value;
  }
}

// Unquoted By/URI/DNS never hold `"` (URIs and DNS names cannot); one there
// means a mangled or hostile header whose quoting we cannot guess.
function rejectQuote(value: string): void {
  if (value.includes('"')) throw new XfccError('XFCC_SYNTAX', 'unexpected " in an unquoted value');
}

function isWhitespace(char: string | undefined): boolean {
  return char === ' ' || char === '\t';
}

function isBlank(s: string): boolean {
  for (const char of s) if (!isWhitespace(char)) return false;
  return true;
}

function trimTrailingWhitespace(s: string): string {
  let end = s.length;
  while (end > 0 && isWhitespace(s[end - 1])) end--;
  return s.slice(0, end);
}
