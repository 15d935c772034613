// The access log: one JSON line per request (pino), and one per refused connection or request with
// the same reason codes (src/ingress/reasons.ts) and the same fields. Lines are buffered and
// written asynchronously (pino's sonic-boom destination) in chunks of ~180 lines (64 KiB), at least every
// 500 ms, never on the request's own turn. The
// destination is stdout or a file, reopened on SIGHUP (logrotate's `postrotate kill -HUP`).
// Requests can be sampled; refusals always are logged (the metrics count them all the same).
import pino, { type Logger } from 'pino';
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

/** pino's sonic-boom destination, as far as the access log uses it. */
type Destination = pino.DestinationStream & { reopen?: () => void; flushSync?: () => void; flush?: () => void; destroy?: () => void };

/**
 * Lines are handed to the destination in chunks of this many characters (one write for ~180 lines:
 * a write per line costs more than making the line), and at least every FLUSH_EVERY_MS.
 */
const CHUNK_CHARS = 65_536;
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

/** A connection's fields and its app's, serialized for its request lines under that app (`requestPrefix`). */
export interface RequestPrefix {
  readonly fields: string;
  /** `"app":"<label>",` */
  readonly app: string;
}

/**
 * JSON for a string field: quoted as it is when JSON.stringify would escape nothing (no `"`, `\`,
 * control character or surrogate: JSON.stringify leaves every other character as it is), else
 * JSON.stringify's own escaping.
 */
const PLAIN = /^[^"\\\x00-\x1f\ud800-\udfff]*$/;
export function quote(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}

/**
 * The time as ISO 8601, exactly `new Date().toISOString()`, at a fraction of its cost (1.2 µs a
 * call, a third of a whole access-log line): the date and time to the second are made once a second.
 */
let isoSecond = -1;
let isoPrefix = '';
/** The last time made, and its millisecond: requests that end in the same millisecond share it. */
let isoLast = '';
let isoLastMs = -1;
export function isoNow(now = Date.now()): string {
  if (now === isoLastMs) return isoLast;
  const second = Math.floor(now / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const ms = now - second * 1000;
  isoLastMs = now;
  isoLast = `${isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
  return isoLast;
}

/** `"method":"GET","path":` for the methods a request line mostly has (any other is quoted per line). */
const METHOD_FIELDS = new Map(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((method) => [method, `"method":"${method}","path":`]));

/** A request line's end: the protocol (a constant of the HTTP stage) and the reason (a catalog code). */
function lineEnd(protocol: string, reason: string): string {
  return `"protocol":${quote(protocol)},"reason":${quote(reason)},"msg":"request"}\n`;
}
/** The ends of the lines of requests the app answered (no reason), made once. */
const PLAIN_ENDS = new Map(['HTTP/1.1', 'HTTP/2'].map((protocol) => [protocol, lineEnd(protocol, '')]));

/** `.001` to `.999` without trailing zeros (`.5`, `.25`), index 0 empty: the fractions of a millisecond. */
const MICROS = Array.from({ length: 1000 }, (_, us) => (us === 0 ? '' : `.${String(us).padStart(3, '0').replace(/0+$/, '')}`));

/**
 * Milliseconds rounded to the microsecond, as `${Math.round(ms * 1000) / 1000}` prints them, from
 * two integers (printing a fraction costs several times more).
 */
export function millis(ms: number): string {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us < 1e15)) return String(us / 1000);
  const whole = Math.floor(us / 1000);
  return `${whole}${MICROS[us - whole * 1000]}`;
}

export class AccessLog {
  readonly #logger: Logger;
  readonly #destination: Destination;
  readonly #sampleRate: number;
  readonly includeQuery: boolean;
  /** Lines not yet handed to the destination. */
  #chunk = '';
  #dropped = 0;

  private constructor(destination: Destination, options: AccessLogOptions) {
    this.#destination = destination;
    // Refusal lines go through pino itself, into the same chunks (one order in the file).
    this.#logger = pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, { write: (line: string) => this.#append(line) });
    const timer = setInterval(() => this.#handOver(), FLUSH_EVERY_MS);
    timer.unref();
    this.#sampleRate = options.sampleRate ?? 1;
    this.includeQuery = options.includeQuery ?? false;
  }

  /** undefined when the destination is `off`. */
  static create(options: AccessLogOptions, destination?: pino.DestinationStream): AccessLog | undefined {
    if (options.destination === 'off') return undefined;
    const bounded = { sync: false, maxLength: ACCESS_LOG_BUFFER_BYTES };
    const stream =
      destination ??
      (options.destination === 'stdout' ? pino.destination({ fd: 1, ...bounded }) : pino.destination({ dest: options.destination, mkdir: true, ...bounded }));
    const log = new AccessLog(stream, options);
    const events = stream as Destination & { on?: (event: 'drop' | 'error', listener: () => void) => void };
    events.on?.('drop', () => log.#dropped++);
    // A failing destination (a full disk, a closed pipe) loses lines, never the gateway: an
    // unhandled 'error' would end the process.
    events.on?.('error', () => log.#dropped++);
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
    const json = JSON.stringify(connectionBindings(connection));
    return { fields: json.length > 2 ? `${json.slice(1, -1)},` : '' };
  }

  /**
   * The fields a connection's requests under one app share, serialized once: the connection's
   * (`forConnection`) and `"app":"<label>",` (in their places in the line).
   */
  requestPrefix(connection: ConnectionLog, appLabel: string): RequestPrefix {
    return { fields: connection.fields, app: `"app":${quote(appLabel)},` };
  }

  /**
   * One request line, in pino's format (level, time, the fields, msg) and through pino's
   * asynchronous destination, but put together here by hand: the connection's fields and the app
   * come serialized, the request's own are numbers as they are, values that cannot need escaping
   * (ids, codes, the protocol) as they are, and the method and path quoted (`quote`). Durations
   * to the microsecond.
   */
  request(prefix: RequestPrefix, fields: RequestFields, durationMs: number): void {
    const target = fields.target;
    const query = this.includeQuery ? -1 : target.indexOf('?');
    const upstreamMs = fields.upstreamMs;
    const upstream = upstreamMs < 0 ? '' : `"upstreamMs":${millis(upstreamMs)},`;
    const method = fields.method;
    const reason = fields.reason;
    const protocol = fields.protocol;
    this.#append(
      `{"level":30,"time":"${isoNow()}",${prefix.fields}"requestId":"${fields.requestId}","traceId":"${fields.traceId}",${prefix.app}${METHOD_FIELDS.get(method) ?? `"method":${quote(method)},"path":`}${quote(query === -1 ? target : target.slice(0, query))},"status":${fields.status},"bytes":${fields.bytes},"durationMs":${millis(durationMs)},${upstream}${reason === '' ? (PLAIN_ENDS.get(protocol) ?? lineEnd(protocol, reason)) : lineEnd(protocol, reason)}`,
    );
  }

  refusal(fields: RefusalFields): void {
    const { reason, app, cause, listener } = fields;
    this.#logger.info({ ...connectionBindings(fields), reason, ...(app ? { app } : {}), ...(cause ? { cause } : {}), ...(listener ? { listener } : {}) }, 'refused');
  }

  /** After logrotate moved the file: lines go to a new file at the same path. */
  reopen(): void {
    this.#destination.reopen?.();
  }

  #append(line: string): void {
    this.#chunk += line;
    if (this.#chunk.length >= CHUNK_CHARS) this.#handOver();
  }

  #handOver(): void {
    if (this.#chunk === '') return;
    const chunk = this.#chunk;
    this.#chunk = '';
    this.#destination.write(chunk);
  }

  /** Gives up the destination and what still waits for it (a stalled pipe keeps retrying otherwise). */
  destroy(): void {
    this.#chunk = '';
    this.#destination.destroy?.();
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
