// The access log: one JSON line per request (pino), and one per refused connection or request with
// the same reason codes (src/ingress/reasons.ts) and the same fields. Lines are buffered and
// written asynchronously (pino's sonic-boom destination), never on the request's own turn. The
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

export interface RequestFields {
  readonly requestId: string;
  readonly traceId: string;
  readonly app: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly bytes: number;
  readonly durationMs: number;
  readonly upstreamMs: number | undefined;
  readonly protocol: string;
  readonly reason: string;
}

export interface RefusalFields extends ConnectionFields {
  readonly reason: string;
  readonly app?: string | undefined;
  readonly cause?: string | undefined;
  readonly listener?: string | undefined;
}

/** pino's sonic-boom destination, as far as the access log uses it. */
type Destination = pino.DestinationStream & { reopen?: () => void; flushSync?: () => void };

export class AccessLog {
  readonly #logger: Logger;
  readonly #destination: Destination;
  readonly #sampleRate: number;
  readonly includeQuery: boolean;

  private constructor(logger: Logger, destination: Destination, options: AccessLogOptions) {
    this.#logger = logger;
    this.#destination = destination;
    this.#sampleRate = options.sampleRate ?? 1;
    this.includeQuery = options.includeQuery ?? false;
  }

  /** undefined when the destination is `off`. */
  static create(options: AccessLogOptions, destination?: pino.DestinationStream): AccessLog | undefined {
    if (options.destination === 'off') return undefined;
    const stream =
      destination ??
      (options.destination === 'stdout' ? pino.destination({ fd: 1, sync: false }) : pino.destination({ dest: options.destination, sync: false, mkdir: true }));
    const logger = pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, stream);
    return new AccessLog(logger, stream, options);
  }

  /** Whether this request is logged (sampling); decided before anything is formatted. */
  sampled(): boolean {
    return this.#sampleRate >= 1 || Math.random() < this.#sampleRate;
  }

  /** The logger a connection's requests are logged with: its fields serialized once. */
  forConnection(connection: ConnectionFields): Logger {
    return this.#logger.child(connectionBindings(connection));
  }

  request(logger: Logger, fields: RequestFields): void {
    logger.info(fields, 'request');
  }

  refusal(fields: RefusalFields): void {
    const { reason, app, cause, listener } = fields;
    this.#logger.info({ ...connectionBindings(fields), reason, ...(app ? { app } : {}), ...(cause ? { cause } : {}), ...(listener ? { listener } : {}) }, 'refused');
  }

  /** After logrotate moved the file: lines go to a new file at the same path. */
  reopen(): void {
    this.#destination.reopen?.();
  }

  /** Writes what is buffered (at exit). */
  flush(): void {
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
