// Reads the SNI server name and ALPN list from the first bytes of a TCP connection
// (like Envoy's tls_inspector), so the ingress can pick the app and its TLS policy
// before handing the same bytes to Node's TLS. Stateless: call it again with all
// bytes received so far. Pure; never throws; reads only within bounds.
//
// Formats: TLS record layer (RFC 8446 §5.1), ClientHello (RFC 8446 §4.1.2),
// server_name (RFC 6066 §3), ALPN (RFC 7301 §3.1), supported_versions (RFC 8446 §4.2.1).
import { normalizeHostname } from '../../model/hostnames.ts';

import type { IngressReason } from '../reasons.ts';

export type ClientHelloResult =
  | { status: 'incomplete' }
  | {
      status: 'done';
      /** Lower-cased, without a trailing dot; undefined when the client sent no SNI. */
      serverName: string | undefined;
      /** Protocol names in the client's order of preference. */
      alpn: readonly string[];
      /** Offered versions (0x0304 is TLS 1.3): supported_versions without GREASE, else the legacy version. */
      tlsVersions: readonly number[];
    }
  | {
      status: 'error';
      /** Stable code (reasons.ts), logged as `reason`. */
      reason: ClientHelloReason;
      /** What exactly was wrong, for people: logged as `message`. */
      message: string;
    };

export type ClientHelloReason = Extract<IngressReason, 'clienthello_malformed' | 'clienthello_too_large' | 'not_tls' | 'plain_http' | 'sslv2_hello'>;

export const DEFAULT_MAX_CLIENT_HELLO_BYTES = 16_384;
const NOT_TLS = Object.freeze({ status: 'error', reason: 'not_tls', message: 'not a TLS handshake' } as const);
const PLAIN_HTTP = Object.freeze({ status: 'error', reason: 'plain_http', message: 'plain HTTP sent to the HTTPS port' } as const);

const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_TYPE_CLIENT_HELLO = 1;
const RECORD_HEADER_LENGTH = 5;
const HANDSHAKE_HEADER_LENGTH = 4;
const MAX_RECORD_FRAGMENT = 16_384;
/**
 * Real clients send the ClientHello in one record (two for very large post-quantum key shares).
 * Bounding the count keeps each call's walk short, so a client trickling 1-byte records cannot make
 * the repeated calls cost O(n²).
 */
export const MAX_CLIENT_HELLO_RECORDS = 32;
const EXTENSION_SERVER_NAME = 0;
const EXTENSION_ALPN = 16;
const EXTENSION_SUPPORTED_VERSIONS = 43;
const SERVER_NAME_TYPE_HOST_NAME = 0;

const HTTP_REQUEST_STARTS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PRI'].map(
  (method) => new TextEncoder().encode(`${method} `),
);

/**
 * Reads the ClientHello from `bytes`, everything received so far, which must fit in
 * `maxBytes` (record headers included) and in MAX_CLIENT_HELLO_RECORDS records. Each call
 * re-walks the record headers (at most that many) without allocating.
 */
export function readClientHello(bytes: Uint8Array, maxBytes = DEFAULT_MAX_CLIENT_HELLO_BYTES): ClientHelloResult {
  const handshake = reassembleClientHello(bytes, maxBytes);
  if (!(handshake instanceof Uint8Array)) return handshake;
  try {
    return parseClientHelloBody(new Cursor(handshake, HANDSHAKE_HEADER_LENGTH, handshake.length));
  } catch (error) {
    if (error instanceof MalformedHello) return malformed(`malformed ClientHello: ${error.message}`);
    throw error;
  }
}

/**
 * Walks the handshake records and returns the whole ClientHello message (header
 * included) once every record carrying it has arrived; only complete records are used.
 * Called again for every TCP segment, so the walk allocates nothing until the end.
 */
function reassembleClientHello(bytes: Uint8Array, maxBytes: number): Uint8Array | ClientHelloResult {
  const firstByte = bytes[0];
  if (firstByte === undefined) return { status: 'incomplete' };
  if (firstByte !== CONTENT_TYPE_HANDSHAKE) return classifyNonTls(bytes);

  let handshakeHeader = 0; // the first 4 handshake bytes, big-endian
  let fragmentBytes = 0;
  let messageLength: number | undefined; // header + body, once the handshake header is in
  let offset = 0;
  for (let records = 0; ; records++) {
    if (messageLength !== undefined && fragmentBytes >= messageLength) {
      return copyHandshake(bytes, messageLength);
    }
    if (records === MAX_CLIENT_HELLO_RECORDS) {
      return malformed(`ClientHello spread over more than ${MAX_CLIENT_HELLO_RECORDS} records`);
    }
    const headerError = checkRecordHeader(bytes, offset);
    if (headerError !== undefined) return malformed(headerError);
    if (offset + RECORD_HEADER_LENGTH > maxBytes) return tooLarge(maxBytes);
    if (bytes.length < offset + RECORD_HEADER_LENGTH) return { status: 'incomplete' };

    const fragmentStart = offset + RECORD_HEADER_LENGTH;
    const recordEnd = fragmentStart + readUint16(bytes, offset + 3);
    if (recordEnd > maxBytes) return tooLarge(maxBytes);
    if (bytes.length < recordEnd) return { status: 'incomplete' };
    for (let i = fragmentStart; i < recordEnd && fragmentBytes + i - fragmentStart < HANDSHAKE_HEADER_LENGTH; i++) {
      handshakeHeader = handshakeHeader * 256 + bytes[i]!;
    }
    fragmentBytes += recordEnd - fragmentStart;
    offset = recordEnd;

    if (messageLength === undefined && fragmentBytes >= HANDSHAKE_HEADER_LENGTH) {
      const messageType = handshakeHeader >>> 24;
      if (messageType !== HANDSHAKE_TYPE_CLIENT_HELLO) {
        return malformed(`handshake message type ${messageType} is not a ClientHello`);
      }
      messageLength = HANDSHAKE_HEADER_LENGTH + (handshakeHeader & 0xffffff);
      // Each further record adds a header, so this is the least the hello can take.
      if (offset + messageLength - fragmentBytes > maxBytes) return tooLarge(maxBytes);
    }
  }
}

/** Checks the bytes received so far of the record header at `offset`; undefined when acceptable. */
function checkRecordHeader(bytes: Uint8Array, offset: number): string | undefined {
  const available = bytes.length - offset;
  if (available >= 1 && bytes[offset] !== CONTENT_TYPE_HANDSHAKE) {
    return `record content type ${bytes[offset]} inside the ClientHello`;
  }
  if (available >= 2 && bytes[offset + 1] !== 3) return `record version major ${bytes[offset + 1]} is not 3`;
  if (available >= 3 && bytes[offset + 2]! > 4) return `record version 3.${bytes[offset + 2]} is unknown`;
  if (available >= RECORD_HEADER_LENGTH) {
    const length = readUint16(bytes, offset + 3);
    // RFC 8446 §5.1: handshake records are never empty and carry at most 2^14 bytes.
    if (length === 0) return 'empty handshake record';
    if (length > MAX_RECORD_FRAGMENT) return `record length ${length} exceeds ${MAX_RECORD_FRAGMENT}`;
  }
  return undefined;
}

/** Copies the first `length` handshake bytes out of the (already checked) records at the start of `bytes`. */
function copyHandshake(bytes: Uint8Array, length: number): Uint8Array {
  const message = new Uint8Array(length);
  let written = 0;
  for (let offset = 0; written < length; ) {
    const fragmentLength = readUint16(bytes, offset + 3);
    const fragmentEnd = offset + RECORD_HEADER_LENGTH + Math.min(fragmentLength, length - written);
    for (let i = offset + RECORD_HEADER_LENGTH; i < fragmentEnd; i++) message[written++] = bytes[i]!;
    offset += RECORD_HEADER_LENGTH + fragmentLength;
  }
  return message;
}

function classifyNonTls(bytes: Uint8Array): ClientHelloResult {
  // SSLv2-compatible hello: 2-byte length with the high bit set, then message type 1.
  if ((bytes[0]! & 0x80) !== 0) {
    if (bytes.length < 3) return { status: 'incomplete' };
    if (bytes[2] === HANDSHAKE_TYPE_CLIENT_HELLO) {
      return { status: 'error', reason: 'sslv2_hello', message: 'SSLv2-style ClientHello is not supported' };
    }
    return NOT_TLS;
  }
  let mayStillBeHttp = false;
  for (const start of HTTP_REQUEST_STARTS) {
    const compared = Math.min(start.length, bytes.length);
    if (!start.subarray(0, compared).every((byte, i) => byte === bytes[i])) continue;
    if (compared === start.length) return PLAIN_HTTP;
    mayStillBeHttp = true;
  }
  // A few more bytes tell a plain-HTTP request line from other non-TLS traffic.
  return mayStillBeHttp ? { status: 'incomplete' } : NOT_TLS;
}

function parseClientHelloBody(body: Cursor): ClientHelloResult {
  const legacyVersion = body.uint16('legacy_version');
  if (legacyVersion >> 8 !== 3) throw new MalformedHello(`legacy_version 0x${legacyVersion.toString(16)}`);
  body.skip(32, 'random');
  const sessionId = body.vector8('legacy_session_id');
  if (sessionId.remaining > 32) throw new MalformedHello('legacy_session_id longer than 32 bytes');
  const cipherSuites = body.vector16('cipher_suites');
  if (cipherSuites.remaining === 0 || cipherSuites.remaining % 2 !== 0) throw new MalformedHello('cipher_suites length');
  if (body.vector8('legacy_compression_methods').remaining === 0) {
    throw new MalformedHello('no compression methods');
  }

  let serverName: string | undefined;
  let alpn: readonly string[] = [];
  let tlsVersions: readonly number[] = [legacyVersion];
  // SSLv3-era hellos may end here, without an extensions block.
  if (body.remaining > 0) {
    const extensions = body.vector16('extensions');
    body.expectEnd('ClientHello');
    const seen = new Set<number>();
    while (extensions.remaining > 0) {
      const type = extensions.uint16('extension type');
      const data = extensions.vector16(`extension ${type}`);
      if (seen.has(type)) throw new MalformedHello(`extension ${type} appears twice`);
      seen.add(type);
      if (type === EXTENSION_SERVER_NAME) serverName = parseServerName(data);
      else if (type === EXTENSION_ALPN) alpn = parseAlpn(data);
      else if (type === EXTENSION_SUPPORTED_VERSIONS) tlsVersions = parseSupportedVersions(data);
    }
  }
  return { status: 'done', serverName, alpn, tlsVersions };
}

function parseServerName(data: Cursor): string {
  const list = data.vector16('server_name_list');
  data.expectEnd('server_name');
  let hostName: string | undefined;
  while (list.remaining > 0) {
    const nameType = list.uint8('server name type');
    const name = list.vector16('server name');
    if (nameType !== SERVER_NAME_TYPE_HOST_NAME) continue;
    // RFC 6066 §3: at most one name of each type.
    if (hostName !== undefined) throw new MalformedHello('two host_name entries');
    hostName = normalizeHostName(name.rest());
  }
  if (hostName === undefined) throw new MalformedHello('server_name without a host_name');
  return hostName;
}

/** The host name under the one host-name rule (model/hostnames.ts), lower-cased, one trailing dot dropped. */
function normalizeHostName(bytes: Uint8Array): string {
  let name = '';
  for (const byte of bytes) name += String.fromCharCode(byte);
  const hostName = normalizeHostname(name);
  if (hostName === undefined) throw new MalformedHello('server name is not a DNS host name');
  return hostName;
}

function parseAlpn(data: Cursor): string[] {
  const list = data.vector16('ALPN protocol_name_list');
  data.expectEnd('ALPN');
  if (list.remaining === 0) throw new MalformedHello('empty ALPN list');
  const protocols: string[] = [];
  while (list.remaining > 0) {
    const protocol = list.vector8('ALPN protocol name').rest();
    if (protocol.length === 0) throw new MalformedHello('empty ALPN protocol name');
    // Protocol names are opaque bytes; latin1 keeps them one character per byte.
    let name = '';
    for (const byte of protocol) name += String.fromCharCode(byte);
    protocols.push(name);
  }
  return protocols;
}

function parseSupportedVersions(data: Cursor): number[] {
  const list = data.vector8('supported_versions');
  data.expectEnd('supported_versions');
  if (list.remaining === 0 || list.remaining % 2 !== 0) throw new MalformedHello('supported_versions length');
  const versions: number[] = [];
  while (list.remaining > 0) {
    const version = list.uint16('version');
    if (!isGrease(version)) versions.push(version);
  }
  return versions;
}

// RFC 8701 GREASE values: 0x0A0A, 0x1A1A, ..., 0xFAFA.
function isGrease(value: number): boolean {
  return (value & 0x0f0f) === 0x0a0a && value >> 8 === (value & 0xff);
}

function tooLarge(maxBytes: number): ClientHelloResult {
  return { status: 'error', reason: 'clienthello_too_large', message: `ClientHello larger than ${maxBytes} bytes` };
}

function malformed(message: string): ClientHelloResult {
  return { status: 'error', reason: 'clienthello_malformed', message };
}

function readUint16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

class MalformedHello extends Error {}

/** Bounds-checked reader over bytes[start, end); every read past the end throws MalformedHello. */
class Cursor {
  readonly #bytes: Uint8Array;
  readonly #end: number;
  #offset: number;

  constructor(bytes: Uint8Array, start: number, end: number) {
    this.#bytes = bytes;
    this.#offset = start;
    this.#end = end;
  }

  get remaining(): number {
    return this.#end - this.#offset;
  }

  uint8(field: string): number {
    this.#require(1, field);
    return this.#bytes[this.#offset++]!;
  }

  uint16(field: string): number {
    this.#require(2, field);
    const value = readUint16(this.#bytes, this.#offset);
    this.#offset += 2;
    return value;
  }

  skip(length: number, field: string): void {
    this.#require(length, field);
    this.#offset += length;
  }

  /** A sub-cursor over a vector with a one-byte length prefix. */
  vector8(field: string): Cursor {
    return this.#vector(this.uint8(field), field);
  }

  /** A sub-cursor over a vector with a two-byte length prefix. */
  vector16(field: string): Cursor {
    return this.#vector(this.uint16(field), field);
  }

  rest(): Uint8Array {
    const rest = this.#bytes.subarray(this.#offset, this.#end);
    this.#offset = this.#end;
    return rest;
  }

  expectEnd(field: string): void {
    if (this.remaining !== 0) throw new MalformedHello(`${this.remaining} unexpected bytes after ${field}`);
  }

  #vector(length: number, field: string): Cursor {
    this.#require(length, field);
    const vector = new Cursor(this.#bytes, this.#offset, this.#offset + length);
    this.#offset += length;
    return vector;
  }

  #require(length: number, field: string): void {
    if (length > this.remaining) throw new MalformedHello(`${field} runs past its enclosing length`);
  }
}
