// A strict, incremental HTTP/1.1 response parser for the ingress's upstream client (pure: bytes in,
// callbacks out). Where a response ends decides which bytes belong to the next client's response
// on a reused connection, so anything ambiguous about framing is an error and the connection is
// dropped (RFC 9112 6.3, 11.2): Content-Length and Transfer-Encoding together, differing lengths,
// codings other than chunked, obs-fold, bare CR or LF, bytes after the response.

import { INVALID_FIELD_VALUE, TOKEN } from '../http/http-syntax.ts';
import type { UpstreamErrorCode } from '../reasons.ts';

export class ResponseParseError extends Error {
  readonly code: UpstreamErrorCode = 'CERTGATE_BAD_RESPONSE';
}

export interface ResponseHead {
  readonly status: number;
  /** [name, value, ...] as the app sent them (latin1), hop-by-hop headers included. */
  readonly rawHeaders: string[];
  /** The connection may carry another request once this response is complete. */
  readonly keepAlive: boolean;
}

export interface ResponseSink {
  /**
   * The final (non-1xx) response head; 1xx interim responses are skipped. After an upgrade request
   * (`expect(method, true)`), 101 is final too: every byte after it is the new protocol's, passed
   * to `onBody` as it comes.
   */
  onHead(head: ResponseHead): void;
  /** `last`: this chunk completes a Content-Length body (onEnd follows at once). */
  onBody(chunk: Buffer, last: boolean): void;
  onEnd(): void;
}

export interface ResponseParserLimits {
  /** Status line and headers together (and, separately, a chunked body's trailers). */
  readonly maxHeadBytes: number;
}

export const DEFAULT_RESPONSE_LIMITS: ResponseParserLimits = Object.freeze({ maxHeadBytes: 64 * 1024 });

// States (plain numbers: `const enum` is not erasable syntax).
const IDLE = 0;
const HEAD = 1;
const LENGTH = 2;
const CHUNK_SIZE = 3;
const CHUNK_DATA = 4;
const CHUNK_END = 5;
const TRAILERS = 6;
const UNTIL_CLOSE = 7;
const DONE = 8;
/** After a 101 to an upgrade request: the bytes are no longer HTTP. */
const SWITCHED = 9;

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]{1,12})[\t ]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;
const MAX_CHUNK_LINE = 4096;
const DIGITS = /^\d{1,15}$/;
const CRLF_CRLF = Buffer.from('\r\n\r\n');

const HEAD_GRAMMAR = /^HTTP\/1\.[01] [1-9]\d\d(?: [\t\x20-\x7e\x80-\xff]*)?(?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*)*$/;

/** What is wrong with a head that failed HEAD_GRAMMAR, as an error. */
function invalidHead(lines: readonly string[]): ResponseParseError {
  if (!STATUS_LINE.test(lines[0]!)) return new ResponseParseError('the app sent an invalid status line');
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    // Also refuses obs-fold (a line starting with whitespace) and whitespace before the colon.
    if (!TOKEN.test(name)) return new ResponseParseError('the app sent an invalid header line');
    if (INVALID_FIELD_VALUE.test(line.slice(colon + 1))) return new ResponseParseError(`the app sent an invalid value for ${name}`);
  }
  return new ResponseParseError('the app sent an invalid response head');
}

/** The field value after the colon without its leading and trailing spaces and tabs. */
function trimOws(line: string, from: number, to: number): string {
  let start = from;
  let end = to;
  while (start < end && (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9)) start++;
  while (end > start && (line.charCodeAt(end - 1) === 32 || line.charCodeAt(end - 1) === 9)) end--;
  return line.slice(start, end);
}

export class ResponseParser {
  readonly #sink: ResponseSink;
  readonly #limits: ResponseParserLimits;
  #state = IDLE;
  #noBody = false;
  /** The head (or a chunk-size line, or trailers) received so far, when it spans reads. */
  #pending: Buffer | undefined;
  #remaining = 0;
  /** Bytes of a chunk's closing CRLF already seen (it may be split across reads). */
  #crlfSeen = 0;
  #keepAlive = false;
  #receivedAny = false;
  #upgrade = false;

  constructor(sink: ResponseSink, limits: ResponseParserLimits = DEFAULT_RESPONSE_LIMITS) {
    this.#sink = sink;
    this.#limits = limits;
  }

  /**
   * Expect the response to a request just sent; a HEAD request's response has no body.
   * @param upgrade the request asked to switch protocols (a WebSocket upgrade): 101 is its answer
   */
  expect(method: string, upgrade = false): void {
    if (this.#state !== IDLE && this.#state !== DONE) throw new Error('a response is still being parsed');
    this.#state = HEAD;
    this.#noBody = method === 'HEAD';
    this.#upgrade = upgrade;
    this.#receivedAny = false;
    this.#keepAlive = false;
  }

  get complete(): boolean {
    return this.#state === DONE;
  }

  /** Whether any byte of the current response arrived (a request is safe to retry only before). */
  get receivedAny(): boolean {
    return this.#receivedAny;
  }

  /** The connection may be reused after the completed response. */
  get keepAlive(): boolean {
    return this.#state === DONE && this.#keepAlive;
  }

  /** Feeds bytes from the app; throws ResponseParseError on anything malformed or unexpected. */
  execute(data: Buffer): void {
    if (data.length === 0) return;
    if (this.#state === IDLE || this.#state === DONE) throw new ResponseParseError('the app sent data while no response was expected');
    this.#receivedAny = true;
    let offset = 0;
    while (offset < data.length) {
      if (this.#state === DONE) throw new ResponseParseError('the app sent data after the end of the response');
      switch (this.#state) {
        case HEAD:
          offset = this.#head(data, offset);
          break;
        case LENGTH:
          offset = this.#body(data, offset);
          if (this.#remaining === 0) this.#finish();
          break;
        case CHUNK_SIZE:
          offset = this.#chunkSize(data, offset);
          break;
        case CHUNK_DATA:
          offset = this.#body(data, offset);
          if (this.#remaining === 0) {
            this.#state = CHUNK_END;
            this.#crlfSeen = 0;
          }
          break;
        case CHUNK_END:
          while (offset < data.length && this.#crlfSeen < 2) {
            if (data[offset] !== (this.#crlfSeen === 0 ? 13 : 10)) throw new ResponseParseError('a chunk is not followed by CRLF');
            this.#crlfSeen++;
            offset++;
          }
          if (this.#crlfSeen === 2) this.#state = CHUNK_SIZE;
          break;
        case TRAILERS:
          offset = this.#trailers(data, offset);
          break;
        case UNTIL_CLOSE:
        case SWITCHED:
          this.#sink.onBody(offset === 0 ? data : data.subarray(offset), false);
          offset = data.length;
          break;
      }
    }
  }

  /**
   * The app closed the connection. Returns true when that ends the response (a body delimited by
   * the close); throws when the response was incomplete.
   */
  closed(): boolean {
    if (this.#state === UNTIL_CLOSE) {
      this.#finish();
      return true;
    }
    if (this.#state === DONE || this.#state === IDLE) return false;
    throw new ResponseParseError(this.#state === HEAD ? 'the app closed the connection before answering' : 'the app closed the connection mid-response');
  }

  /** Passes on up to the bytes the body (or chunk) still has; returns where it stopped. */
  #body(data: Buffer, offset: number): number {
    const take = Math.min(this.#remaining, data.length - offset);
    this.#remaining -= take;
    this.#sink.onBody(data.subarray(offset, offset + take), this.#remaining === 0 && this.#state === LENGTH);
    return offset + take;
  }

  #finish(): void {
    this.#state = DONE;
    this.#pending = undefined;
    this.#sink.onEnd();
  }

  /** Bytes up to the end of a block ending in CRLF CRLF (head or trailers), or undefined if not yet. */
  #block(data: Buffer, offset: number, what: string): { text: string; next: number } | undefined {
    const previous = this.#pending;
    const buffer = previous === undefined ? data : Buffer.concat([previous, data.subarray(offset)]);
    const start = previous === undefined ? offset : 0;
    // A CRLF CRLF may straddle the previous read and this one: search from just before the join.
    const from = previous === undefined ? offset : Math.max(0, previous.length - 3);
    const end = buffer.indexOf(CRLF_CRLF, from);
    if (end === -1) {
      // Up to three bytes of the CRLF CRLF may be here already: a block of exactly the limit is
      // accepted however the app's reads split it (the fuzz target http1-response found this).
      if (buffer.length - start > this.#limits.maxHeadBytes + 3) throw new ResponseParseError(`the app's ${what} exceeds ${this.#limits.maxHeadBytes} bytes`);
      // Copied: a view would keep the whole read buffer alive.
      this.#pending = Buffer.from(buffer.subarray(start));
      return undefined;
    }
    if (end - start > this.#limits.maxHeadBytes) throw new ResponseParseError(`the app's ${what} exceeds ${this.#limits.maxHeadBytes} bytes`);
    this.#pending = undefined;
    const text = buffer.toString('latin1', start, end);
    // Where the block ends in `data`'s own offsets.
    const next = previous === undefined ? end + 4 : end + 4 - previous.length + offset;
    return { text, next };
  }

  #head(data: Buffer, offset: number): number {
    const block = this.#block(data, offset, 'response head');
    if (block === undefined) return data.length;
    const text = block.text;
    // One pass over the whole head's grammar (status line, then `token: value` lines, CRLF only);
    // the line-by-line checks run only to say what was wrong.
    if (!HEAD_GRAMMAR.test(text)) throw invalidHead(text.split('\r\n'));
    const http10 = text.charCodeAt(7) === 48; /* the '0' of HTTP/1.0 */
    const code = Number(text.slice(9, 12));
    const rawHeaders: string[] = [];
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let close = false;
    let keepAliveToken = false;
    // Line by line without splitting: the grammar already holds, so each line is `name:value`.
    for (let start = text.indexOf('\r\n') + 2; start > 1; ) {
      const next = text.indexOf('\r\n', start);
      const end = next === -1 ? text.length : next;
      const colon = text.indexOf(':', start);
      const name = text.slice(start, colon);
      const value = trimOws(text, colon + 1, end);
      start = next + 2;
      rawHeaders.push(name, value);
      switch (name.length) {
        case 10:
          if (name.toLowerCase() === 'connection') {
            const options = value.toLowerCase();
            // The usual single values first; a list is split.
            if (options === 'keep-alive') keepAliveToken = true;
            else if (options === 'close') close = true;
            else {
              for (const token of options.split(',')) {
                const option = token.trim();
                if (option === 'close') close = true;
                else if (option === 'keep-alive') keepAliveToken = true;
              }
            }
          }
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') {
            for (const part of DIGITS.test(value) ? [value] : value.split(',')) {
              const length = part.trim();
              if (!DIGITS.test(length)) throw new ResponseParseError('the app sent an invalid Content-Length');
              if (contentLength !== undefined && Number(contentLength) !== Number(length)) {
                throw new ResponseParseError('the app sent differing Content-Length values');
              }
              contentLength = length;
            }
          }
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
          }
          break;
      }
    }
    if (code === 101 && this.#upgrade) {
      this.#keepAlive = false;
      this.#sink.onHead({ status: code, rawHeaders, keepAlive: false });
      this.#state = SWITCHED;
      return block.next;
    }
    if (code < 200) {
      // 101 answers only an upgrade; to anything else it is an error. Other 1xx are interim.
      if (code === 101) throw new ResponseParseError('the app switched protocols without being asked');
      return block.next;
    }
    this.#keepAlive = !close && (!http10 || keepAliveToken);
    // Framing is decided (and refused when ambiguous) before the head is handed on, so a client
    // never gets the start of an answer whose end cannot be known.
    let next: number;
    if (this.#noBody || code === 204 || code === 304) {
      next = DONE;
    } else if (transferEncoding !== undefined) {
      if (contentLength !== undefined) throw new ResponseParseError('the app sent both Transfer-Encoding and Content-Length');
      if (transferEncoding.trim().toLowerCase() !== 'chunked') throw new ResponseParseError(`the app sent an unsupported Transfer-Encoding (${transferEncoding})`);
      next = CHUNK_SIZE;
    } else if (contentLength !== undefined) {
      this.#remaining = Number(contentLength);
      next = this.#remaining === 0 ? DONE : LENGTH;
    } else {
      // Neither: the body runs until the app closes the connection, which then cannot be reused.
      this.#keepAlive = false;
      next = UNTIL_CLOSE;
    }
    this.#sink.onHead({ status: code, rawHeaders, keepAlive: this.#keepAlive });
    if (next === DONE) this.#finish();
    else this.#state = next;
    return block.next;
  }

  #chunkSize(data: Buffer, offset: number): number {
    const previous = this.#pending;
    const lf = data.indexOf(10, offset);
    if (lf === -1) {
      const length = (previous?.length ?? 0) + data.length - offset;
      if (length > MAX_CHUNK_LINE) throw new ResponseParseError('the app sent an overlong chunk-size line');
      this.#pending = previous === undefined ? Buffer.from(data.subarray(offset)) : Buffer.concat([previous, data.subarray(offset)]);
      return data.length;
    }
    const line = previous === undefined ? data.toString('latin1', offset, lf + 1) : Buffer.concat([previous, data.subarray(offset, lf + 1)]).toString('latin1');
    this.#pending = undefined;
    if (line.length > MAX_CHUNK_LINE) throw new ResponseParseError('the app sent an overlong chunk-size line');
    const size = line.endsWith('\r\n') ? CHUNK_SIZE_LINE.exec(line.slice(0, -2)) : null;
    if (size === null) throw new ResponseParseError('the app sent an invalid chunk-size line');
    this.#remaining = Number.parseInt(size[1]!, 16);
    this.#state = this.#remaining === 0 ? TRAILERS : CHUNK_DATA;
    return lf + 1;
  }

  #trailers(data: Buffer, offset: number): number {
    // The common case: no trailers, the last chunk is followed by CRLF alone.
    if (this.#pending === undefined && data.length - offset >= 2 && data[offset] === 13 && data[offset + 1] === 10) {
      this.#finish();
      return offset + 2;
    }
    // Trailers end with CRLF CRLF; prefixing CRLF lets one search find that or a lone CRLF.
    if (this.#pending === undefined) this.#pending = Buffer.from('\r\n');
    const block = this.#block(data, offset, 'trailers');
    if (block === undefined) return data.length;
    // Trailer fields are checked like headers and then dropped (the client's response is already
    // under way; nothing in certgate forwards trailers).
    for (const line of block.text.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || INVALID_FIELD_VALUE.test(line.slice(colon + 1))) {
        throw new ResponseParseError('the app sent an invalid trailer line');
      }
    }
    this.#finish();
    return block.next;
  }
}
