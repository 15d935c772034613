// What the access log and the metrics learn of one request, filled in as it goes (by the HTTP
// stage, the response sink and the forwarding handler) and read once when it ends. Plain fields:
// nothing is formatted until the request is over, and only when something consumes it.
import type { CompiledApp } from '../ingress/snapshot.ts';

export class RequestRecord {
  /** performance.now() when the request head was complete. */
  readonly start: number;
  readonly method: string;
  /** The request target as the client sent it (the access log drops the query unless told otherwise). */
  readonly target: string;
  readonly protocol: 'HTTP/1.1' | 'HTTP/2';
  app: CompiledApp | undefined;
  /** X-Request-Id sent to the app; empty when the request was not forwarded. */
  requestId = '';
  /** The trace id of the traceparent sent to the app; empty when none. */
  traceId = '';
  status = 0;
  /** Body bytes sent to the client. */
  bytes = 0;
  /** performance.now() when the request was handed to the app's pool; 0: never. */
  upstreamStart = 0;
  /** Milliseconds until the app's response head; -1: no answer from the app. */
  upstreamMs = -1;
  /** The reason code of an answer the ingress gave itself (refusals, failures); empty otherwise. */
  reason = '';

  constructor(start: number, method: string, target: string, protocol: 'HTTP/1.1' | 'HTTP/2') {
    this.start = start;
    this.method = method;
    this.target = target;
    this.protocol = protocol;
  }
}

/** The reason code at the end of a short plain-text answer (`... (queue_full)`); empty when none. */
export function reasonOfMessage(message: string): string {
  if (message.charCodeAt(message.length - 1) !== 41 /* ')' */) return '';
  const open = message.lastIndexOf('(');
  const reason = open === -1 ? '' : message.slice(open + 1, -1);
  return /^[a-z0-9_]+$/.test(reason) ? reason : '';
}
