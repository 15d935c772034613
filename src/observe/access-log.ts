// The access log: one JSON line per request (pino), and one per refused connection or request with
// the same reason codes (src/ingress/reasons.ts) and the same fields. Lines are buffered and
// written asynchronously (pino's sonic-boom destination, in its buffer mode) in chunks of ~150 lines
// (64 KiB), at least every 500 ms, never on the request's own turn. The
// destination is stdout or a file, reopened on SIGHUP (logrotate's `postrotate kill -HUP`).
// Requests can be sampled; refusals always are logged (the metrics count them all the same).
import pino, { type Logger } from 'pino';
import { METHODS, methodIndex, OTHER_METHOD } from './methods.ts';
import type { ConnectionVerdict } from './verdict.ts';

export interface AccessLogOptions {
  /** `stdout`, `off`, or a file path. */
  readonly destination: string;
  /** The share of requests logged, 0 to 1 (default 1: every one). */
  readonly sampleRate?: number;
  /** Log the query string too (off by default: queries carry tokens and personal data). */
  readonly includeQuery?: boolean;
}

/** Per connection, logged with each of its requests (bound once per connection in a pino child). */
export interface ConnectionFields {
  readonly clientAddress: string;
  readonly tlsVersion?: string | undefined;
  readonly resumed?: boolean | undefined;
  readonly servername?: string | undefined;
  readonly verdict?: ConnectionVerdict | undefined;
}

/** A request's own fields (a RequestRecord), read when its line is made. */
export interface RequestFields {
  /** A UUID, or empty. */
  readonly requestId: string;
  /** 32 hex digits, or empty. */
  readonly traceId: string;
  readonly method: string;
  /** The request target; the query is left out unless includeQuery. */
  readonly target: string;
  readonly status: number;
  readonly bytes: number;
  /** -1: the app did not answer. */
  readonly upstreamMs: number;
  readonly protocol: string;
  /** A reason code of src/ingress/reasons.ts, or empty. */
  readonly reason: string;
}

export interface RefusalFields extends ConnectionFields {
  readonly reason: string;
  readonly app?: string | undefined;
  readonly cause?: string | undefined;
  readonly listener?: string | undefined;
}

/**
 * pino's sonic-boom destination, as far as the access log uses it: chunks are handed over as UTF-8
 * bytes (sonic-boom's buffer mode). In its string mode sonic-boom measures and encodes each chunk
 * four to five times (`Buffer.byteLength` on write, the write, `Buffer.from` on release); here it is
 * encoded once.
 */
export interface AccessLogDestination {
  write(chunk: Buffer): unknown;
  reopen?: () => void;
  flushSync?: () => void;
}

/**
 * Lines are handed to the destination in chunks of this many bytes (one write for ~150 lines: a
 * write per line costs more than making the line), and at least every FLUSH_EVERY_MS.
 */
const CHUNK_BYTES = 65_536;
const FLUSH_EVERY_MS = 500;
/**
 * At most this many bytes wait for a slow destination (a stdout pipe nobody drains, a stalled
 * disk); beyond, lines are dropped and counted: a request flood never grows memory without bound.
 */
export const ACCESS_LOG_BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * A connection's part of its request lines, serialized once per connection: `"clientAddress":...,`
 * and the rest, ready to be put into each line.
 */
export interface ConnectionLog {
  readonly fields: string;
}

/**
 * The start of a connection's request lines under one app, as bytes made once (`requestPrefix`):
 * `{"level":30,` the connection's fields and `"app":"<label>",`. Each line copies them and adds
 * its own fields: more than half of a line's bytes never pass through a string per request.
 */
export interface RequestPrefix {
  readonly bytes: Buffer;
}

/**
 * Every line is ASCII, so that a character is a byte: lines are written into their chunk as
 * latin1 (a copy) and never measured or encoded as UTF-8. A JSON text keeps its meaning with every
 * character from DEL up written as `\uXXXX` (they can only be inside its strings).
 */
const NOT_ASCII = /[\u007f-\uffff]/g;
const escapeChar = (char: string) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
export function asciiJson(json: string): string {
  return json.replace(NOT_ASCII, escapeChar);
}

/**
 * JSON for a string field, in ASCII: quoted as it is when it is printable ASCII without `"` or
 * `\` (JSON.stringify would return the same), else JSON.stringify's escaping, and `\uXXXX` for
 * the characters beyond ASCII (asciiJson).
 */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
export function quote(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : asciiJson(JSON.stringify(value));
}

/**
 * What `quote` puts between the quotes, for a request target: the path (and the query when
 * `includeQuery`). One pass finds both the `?` and whether the path is plain: a typical path is
 * returned as it is, or cut at its `?`, without a regular expression or a second scan.
 */
function pathField(target: string, includeQuery: boolean): string {
  const length = target.length;
  for (let i = 0; i < length; i++) {
    const code = target.charCodeAt(i);
    if (code === 0x3f /* ? */ && !includeQuery) return target.slice(0, i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) {
      const end = includeQuery ? -1 : target.indexOf('?', i);
      return asciiJson(JSON.stringify(end === -1 ? target : target.slice(0, end))).slice(1, -1);
    }
  }
  return target;
}

/**
 * The time as ISO 8601, exactly `new Date().toISOString()`, at a fraction of its cost (1.2 µs a
 * call, a third of a whole access-log line): the date and time to the second are made once a
 * second (atSecond; a request line takes its time field from the same: MS_FIELDS).
 */
let isoSecond = -1;
let isoPrefix = '';
/** `"time":"` and isoPrefix: a request line's time field but for its milliseconds (MS_FIELDS). */
let isoTimeField = '';
function atSecond(second: number): void {
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    isoTimeField = flat('"time":"', isoPrefix);
  }
}
export function isoNow(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  atSecond(second);
  const ms = now - second * 1000;
  return `${isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}

/**
 * One flat string of its parts. A template literal's result is a rope of its pieces, and every
 * line a rope is copied into walks it again, piece by piece (V8's WriteToFlat): the fragments
 * every line has are made flat once, so that each is one piece of the line.
 */
const flat = (...parts: readonly (string | number)[]): string => parts.join('');

/**
 * `123Z","requestId":"` for each millisecond of a second: after `"time":"` and the second
 * (isoTimeField, made once a second), the time field as two pieces made once. (A time field made
 * once per millisecond cost ~300 instructions whenever the millisecond changed: every request
 * of a gateway serving fewer than a thousand a second.)
 */
const MS_FIELDS = Array.from({ length: 1000 }, (_, ms) => flat(String(ms).padStart(3, '0'), 'Z","requestId":"'));

/** `","method":"GET","path":"` for the methods a request line mostly has, by methodIndex (`other` is quoted per line). */
const METHOD_FIELDS = METHODS.map((method) => flat('","method":"', method, '","path":"'));

/** `","status":200,"bytes":` for the statuses a line can have (0: the client left before any answer). */
const STATUS_FIELDS = Array.from({ length: 600 }, (_, status) => flat('","status":', status, ',"bytes":'));

/** A request line's end: the protocol (a constant of the HTTP stage) and the reason (a catalog code). */
function lineEnd(protocol: string, reason: string): string {
  return flat(',"protocol":', quote(protocol), ',"reason":', quote(reason), ',"msg":"request"}\n');
}
/** The ends of the lines of requests the app answered (no reason), made once. */
const HTTP1_END = lineEnd('HTTP/1.1', '');
const HTTP2_END = lineEnd('HTTP/2', '');
/** The ends with a reason, made once per reason (codes of src/ingress/reasons.ts: a bounded set; beyond 256, made per line). */
const REASON_ENDS = new Map<string, string>();
function lineEndWith(protocol: string, reason: string): string {
  const key = `${protocol} ${reason}`;
  let end = REASON_ENDS.get(key);
  if (end === undefined) {
    end = lineEnd(protocol, reason);
    if (REASON_ENDS.size < 256) REASON_ENDS.set(key, end);
  }
  return end;
}

/**
 * A request line after its prefix (`"time":...` to the end of the line): numbers as they are,
 * values that cannot need escaping as they are (the time; the request id, a UUID the ingress
 * made; the trace id, hex digits of a traceparent it checked or made), the method and path quoted
 * (`quote`), durations to the microsecond. Some thirteen pieces, most of them made once.
 */
function requestTail(fields: RequestFields, now: number, includeQuery: boolean, durationMs: number): string {
  const second = Math.floor(now / 1000);
  atSecond(second);
  const method = fields.method;
  const methodAt = methodIndex(method);
  const status = fields.status;
  const upstreamMs = fields.upstreamMs;
  const reason = fields.reason;
  const protocol = fields.protocol;
  const end = reason !== '' ? lineEndWith(protocol, reason) : protocol === 'HTTP/1.1' ? HTTP1_END : protocol === 'HTTP/2' ? HTTP2_END : lineEnd(protocol, reason);
  return `${isoTimeField}${MS_FIELDS[now - second * 1000]}${fields.requestId}","traceId":"${fields.traceId}${methodAt === OTHER_METHOD ? `","method":${quote(method)},"path":"` : METHOD_FIELDS[methodAt]}${pathField(fields.target, includeQuery)}${status >= 0 && status < 600 && status === Math.floor(status) ? STATUS_FIELDS[status] : flat('","status":', status, ',"bytes":')}${fields.bytes},"durationMs":${millis(durationMs)}${upstreamMs < 0 ? end : `,"upstreamMs":${millis(upstreamMs)}${end}`}`;
}

/** `.001` to `.999` without trailing zeros (`.5`, `.25`), index 0 empty: the fractions of a millisecond. */
const MICROS = Array.from({ length: 1000 }, (_, us) => (us === 0 ? '' : `.${String(us).padStart(3, '0').replace(/0+$/, '')}`));

/**
 * Milliseconds rounded to the microsecond, as `${Math.round(ms * 1000) / 1000}` prints them, from
 * two integers (printing a fraction costs several times more).
 */
export function millis(ms: number): string {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us < 1e15)) return Number.isFinite(us) ? String(us / 1000) : 'null';
  const whole = Math.floor(us / 1000);
  return `${whole}${MICROS[us - whole * 1000]}`;
}

/**
 * What `buf.write(string, offset, 'latin1')` calls once it has sorted out its arguments (on
 * Buffer.prototype since Node 0.x, not in its types): for a line, those checks cost more than the copy.
 */
type Latin1Writer = Buffer & { latin1Write(string: string, offset: number): number };

export class AccessLog {
  readonly #logger: Logger;
  readonly #destination: AccessLogDestination;
  readonly #sampleRate: number;
  readonly includeQuery: boolean;
  /** Lines not yet handed to the destination: the first `#used` bytes of `#chunk`. */
  #chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  #used = 0;
  #dropped = 0;
  /** The destination is a file (stdout cannot be reopened: sonic-boom throws). */
  #reopenable = false;
  /** The destination's pipe broke (EPIPE): chunks are dropped, counted, not written. */
  #broken = false;

  private constructor(destination: AccessLogDestination, options: AccessLogOptions) {
    this.#destination = destination;
    // Refusal lines go through pino itself, into the same chunks (one order in the file).
    this.#logger = pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, { write: (line: string) => this.#append(undefined, asciiJson(line)) });
    const timer = setInterval(() => this.#handOver(), FLUSH_EVERY_MS);
    timer.unref();
    this.#sampleRate = options.sampleRate ?? 1;
    this.includeQuery = options.includeQuery ?? false;
  }

  /** undefined when the destination is `off`. */
  static create(options: AccessLogOptions, destination?: AccessLogDestination): AccessLog | undefined {
    if (options.destination === 'off') return undefined;
    // maxWrite 1: sonic-boom never groups two chunks into one write. Its buffer mode keeps a length
    // per group, and its flushSync (at exit) puts a failed write back as a group without one, after
    // which every group would be cut to the next one's length: with one chunk per group the
    // lengths are never read.
    const bounded = { sync: false, maxLength: ACCESS_LOG_BUFFER_BYTES, contentMode: 'buffer', maxWrite: 1 } as const;
    // In buffer mode sonic-boom's write takes Buffers (its types declare strings only).
    const stream =
      destination ??
      ((options.destination === 'stdout' ? pino.destination({ fd: 1, ...bounded }) : pino.destination({ dest: options.destination, mkdir: true, ...bounded })) as unknown as AccessLogDestination);
    const log = new AccessLog(stream, options);
    log.#reopenable = destination === undefined && options.destination !== 'stdout';
    const events = stream as AccessLogDestination & { on?: (event: 'drop' | 'error', listener: (error?: NodeJS.ErrnoException) => void) => void };
    events.on?.('drop', () => log.#dropped++);
    // A failing destination (a full disk, a closed pipe) loses lines, never the gateway: an
    // unhandled 'error' would end the process. After a broken pipe pino's destination takes
    // nothing more (its write is a no-op): every later chunk is counted as dropped here.
    events.on?.('error', (error) => {
      log.#dropped++;
      if (error?.code === 'EPIPE') log.#broken = true;
    });
    return log;
  }

  /** Chunks of lines dropped: the destination fell ACCESS_LOG_BUFFER_BYTES behind, or failed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Whether this request is logged (sampling); decided before anything is formatted. */
  sampled(): boolean {
    return this.#sampleRate >= 1 || Math.random() < this.#sampleRate;
  }

  /** A connection's fields, serialized once for all its request lines. */
  forConnection(connection: ConnectionFields): ConnectionLog {
    const json = asciiJson(JSON.stringify(connectionBindings(connection)));
    return { fields: json.length > 2 ? `${json.slice(1, -1)},` : '' };
  }

  /**
   * The fields a connection's requests under one app share, as the bytes that start each of its
   * lines: the level, the connection's fields (`forConnection`) and `"app":"<label>",`.
   */
  requestPrefix(connection: ConnectionLog, appLabel: string): RequestPrefix {
    const text = `{"level":30,${connection.fields}"app":${quote(appLabel)},`;
    // Its own memory, not a slice of Node's shared pool (a connection's prefix lives as long as it).
    const bytes = Buffer.allocUnsafeSlow(text.length);
    (bytes as Latin1Writer).latin1Write(text, 0);
    return { bytes };
  }

  /**
   * One request line, in pino's format (level, the fields, msg) and through pino's asynchronous
   * destination, but put together here by hand: the level, the connection's fields and the app
   * come as bytes (`requestPrefix`), the request's own as one string (`requestTail`) copied in
   * after them. (Writing the fields into the chunk byte by byte from JavaScript was tried: at
   * ~1.6 ns a byte it costs more than making the string and copying it in one call.)
   */
  request(prefix: RequestPrefix, fields: RequestFields, durationMs: number): void {
    this.#append(prefix.bytes, requestTail(fields, Date.now(), this.includeQuery, durationMs));
  }

  refusal(fields: RefusalFields): void {
    const { reason, app, cause, listener } = fields;
    this.#logger.info({ ...connectionBindings(fields), reason, ...(app ? { app } : {}), ...(cause ? { cause } : {}), ...(listener ? { listener } : {}) }, 'refused');
  }

  /** After logrotate moved the file: lines go to a new file at the same path. */
  reopen(): void {
    // SIGHUP with the access log on stdout: nothing to reopen (sonic-boom would throw, and from a
    // signal handler that ends the process).
    if (!this.#reopenable) return;
    try {
      this.#destination.reopen?.();
    } catch {
      // Reopening failed (the folder is gone, no permission): the lines are lost, not the gateway.
      this.#dropped++;
    }
  }

  /** A line: `head`'s bytes, then `tail` (ASCII: one byte per character). */
  #append(head: Buffer | undefined, tail: string): void {
    const length = (head === undefined ? 0 : head.length) + tail.length;
    if (length > CHUNK_BYTES - this.#used) {
      this.#handOver();
      if (length > CHUNK_BYTES) {
        // A line longer than a chunk (a very long path) is handed over on its own.
        this.#write(head === undefined ? Buffer.from(tail, 'latin1') : Buffer.concat([head, Buffer.from(tail, 'latin1')]));
        return;
      }
    }
    const chunk = this.#chunk;
    let used = this.#used;
    if (head !== undefined) {
      chunk.set(head, used);
      used += head.length;
    }
    this.#used = used + (chunk as Latin1Writer).latin1Write(tail, used);
  }

  /**
   * The chunk to the destination, which keeps it until written. A chunk less than half full (the
   * timer's) is copied out and the chunk reused: a stalled destination then holds at most twice
   * the bytes it counts against ACCESS_LOG_BUFFER_BYTES.
   */
  #handOver(): void {
    const used = this.#used;
    if (used === 0) return;
    this.#used = 0;
    if (used < CHUNK_BYTES / 2) {
      // A copy of its own size: Buffer.copyBytesFrom and Buffer.from take small copies from
      // Node's shared pool, and a copy the destination holds would keep a whole pool slab alive.
      const copy = Buffer.allocUnsafeSlow(used);
      this.#chunk.copy(copy, 0, 0, used);
      this.#write(copy);
      return;
    }
    const chunk = this.#chunk;
    this.#chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    this.#write(used === CHUNK_BYTES ? chunk : chunk.subarray(0, used));
  }

  /** Bytes to the destination; after its pipe broke, counted as dropped instead. */
  #write(bytes: Buffer): void {
    if (this.#broken) this.#dropped++;
    else this.#destination.write(bytes);
  }

  /** Writes what is buffered (at exit). */
  flush(): void {
    this.#handOver();
    try {
      this.#destination.flushSync?.();
    } catch {
      // Not open yet (nothing was written): nothing to flush.
    }
  }
}

function connectionBindings(connection: ConnectionFields): Record<string, unknown> {
  const verdict = connection.verdict;
  return {
    clientAddress: connection.clientAddress,
    ...(connection.servername ? { servername: connection.servername } : {}),
    ...(connection.tlsVersion ? { tlsVersion: connection.tlsVersion, resumed: connection.resumed === true } : {}),
    ...(verdict
      ? {
          verdict: verdict.code,
          ...(verdict.thumbprint ? { certThumbprint: verdict.thumbprint, certSubject: verdict.subject, certSerial: verdict.serial } : {}),
        }
      : {}),
  };
}
