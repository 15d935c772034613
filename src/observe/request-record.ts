// What the access log and the metrics learn of one request, filled in as it goes (by the HTTP
// stage, the response sink and the forwarding handler) and read once when it ends. Plain fields:
// nothing is formatted until the request is over, and only when something consumes it. The record
// is also what the end of the response calls (`closed`): no listener or closure of its own per
// request (HTTP/1.1: the keep-alive sweeper's close hook, which runs anyway, calls it).
import type { ConnectionState } from '../ingress/listener/connection.ts';
import type { CompiledApp } from '../ingress/snapshot.ts';

/** Told when a followed request is over (the ingress's IngressObserver). */
export interface RequestObserver {
  requestDone(record: RequestRecord, connection: ConnectionState, now: number): void;
}

/** An HTTP/1.1 response as far as the record reads it at the end (answers written to it directly, not through a sink). */
interface AnsweredResponse {
  readonly headersSent: boolean;
  readonly statusCode: number;
}

export class RequestRecord {
  /** performance.now() when the request head was complete. */
  readonly start: number;
  readonly method: string;
  /** The request target as the client sent it (the access log drops the query unless told otherwise). */
  readonly target: string;
  readonly protocol: 'HTTP/1.1' | 'HTTP/2';
  app: CompiledApp | undefined = undefined;
  /** X-Request-Id sent to the app; empty when the request was not forwarded. */
  requestId = '';
  /** The trace id of the traceparent sent to the app; empty when none. */
  traceId = '';
  status = 0;
  /** Body bytes sent to the client. */
  bytes = 0;
  /** The request was handed to the app's pool (the pool times the app's answer: ExchangeHandler.onHead). */
  forwarded = false;
  /** Milliseconds until the app's response head; -1: no answer from the app. */
  upstreamMs = -1;
  /** The reason code of an answer the ingress gave itself (refusals, failures); empty otherwise. */
  reason = '';
  /** Who is told at the end, the connection the request came on, and its HTTP/1.1 response. */
  readonly observer: RequestObserver;
  readonly connection: ConnectionState;
  readonly response: AnsweredResponse | undefined;

  constructor(
    observer: RequestObserver,
    connection: ConnectionState,
    start: number,
    method: string,
    target: string,
    protocol: 'HTTP/1.1' | 'HTTP/2',
    response?: AnsweredResponse,
  ) {
    this.observer = observer;
    this.connection = connection;
    this.start = start;
    this.method = method;
    this.target = target;
    this.protocol = protocol;
    this.response = response;
  }

  /** The response closed (complete, or the exchange abandoned) at `now` (performance.now()). */
  closed(now: number): void {
    const response = this.response;
    if (response !== undefined && this.status === 0 && response.headersSent) this.status = response.statusCode;
    this.observer.requestDone(this, this.connection, now);
  }
}

/** The reason code at the end of a short plain-text answer (`... (queue_full)`); empty when none. */
export function reasonOfMessage(message: string): string {
  if (message.charCodeAt(message.length - 1) !== 41 /* ')' */) return '';
  const open = message.lastIndexOf('(');
  const reason = open === -1 ? '' : message.slice(open + 1, -1);
  return /^[a-z0-9_]+$/.test(reason) ? reason : '';
}
