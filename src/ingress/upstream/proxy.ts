// Forwarding one admitted request to its app and streaming the answer back, for HTTP/1.1 and
// HTTP/2 clients alike: the answer goes to a ResponseSink (response-sink.ts), an HTTP/1.1
// ServerResponse or an HTTP/2 stream of Node's core API.
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ExchangeHandler, OutgoingRequest } from './http1-client.ts';
import { upstreamFailure } from '../reasons.ts';
import { clientResponseRawHeaders } from '../http/headers.ts';
import type { ResponseSink } from '../http/response-sink.ts';
import { withCorsHeaders } from '../http/cors.ts';
import type { Upstream } from '../snapshot.ts';
import type { ExchangeHandle, UpstreamPools } from './upstream.ts';
import type { RequestRecord } from '../../observe/request-record.ts';

/**
 * One request to the app through the ingress's HTTP/1.1 client, its answer written straight to the
 * client's sink: header strings in, a flat header list out, body chunks passed on as they come
 * (with back-pressure both ways). No stream objects, pipeline or AbortController per request.
 */
class ForwardHandler implements ExchangeHandler {
  readonly #sink: ResponseSink;
  readonly #upstream: Upstream;
  readonly #log: Logger;
  /** Strict-Transport-Security for the client, unless the app sends its own (HTTPS only). */
  readonly #hsts: string | undefined;

  /** CORS headers for an allowed origin (cors.ts), in place of the app's own. */
  readonly #cors: readonly string[] | undefined;
  exchange: ExchangeHandle | undefined;
  /** The client went away, or the answer was replaced by an error: the app's answer is not wanted. */
  #abandoned = false;
  /** The answer's last chunk was passed to end(). */
  #ended = false;
  /** The client's side is full: the app is paused until `drain`. */
  #waitingForDrain = false;
  /** Set when the request is followed (src/observe/): the time to the app's answer goes there. */
  readonly #record: RequestRecord | undefined;

  constructor(sink: ResponseSink, upstream: Upstream, log: Logger, hsts: string | undefined, cors: readonly string[] | undefined, record: RequestRecord | undefined) {
    this.#sink = sink;
    this.#record = record;
    this.#hsts = hsts;
    this.#cors = cors;
    this.#upstream = upstream;
    this.#log = log;
    // The client went away before the answer was complete: stop the app's request too (a queued
    // one is dropped, a sent one loses its connection).
    sink.onAbandoned(() => {
      this.#abandoned = true;
      this.exchange?.abort();
    });
  }

  onHead(statusCode: number, rawHeaders: string[], now: number, since: number): boolean {
    if (this.#abandoned) return false;
    const record = this.#record;
    if (record !== undefined) record.upstreamMs = now - since;
    try {
      const headers = clientResponseRawHeaders(rawHeaders);
      if (this.#hsts !== undefined && !hasHeader(headers, 'strict-transport-security')) headers.push('strict-transport-security', this.#hsts);
      this.#sink.head(statusCode, this.#cors === undefined ? headers : withCorsHeaders(headers, this.#cors));
    } catch (writeError) {
      // The app sent a header the client's protocol cannot carry.
      this.#abandoned = true;
      this.#log.warn({ err: writeError, app: this.#upstream.origin }, 'invalid response header from app');
      this.#sink.plain(502, 'the app sent an invalid response (app_error)');
      return false;
    }
    return true;
  }

  onBody(chunk: Buffer, last: boolean): boolean {
    if (this.#abandoned) return true;
    if (last) {
      // The whole rest of the answer: one end() with it (one pass through Node's outgoing path).
      this.#ended = true;
      this.#sink.end(chunk);
      return true;
    }
    // Node corks the client's socket for the rest of the tick: a small answer's headers, body and
    // end still leave in one TLS write.
    if (this.#sink.write(chunk)) return true;
    // The client reads slower than the app sends: pause the app until the client drains.
    if (!this.#waitingForDrain) {
      this.#waitingForDrain = true;
      this.#sink.onDrain(() => {
        this.#waitingForDrain = false;
        this.exchange?.resume();
      });
    }
    return false;
  }

  onEnd(): void {
    if (!this.#abandoned && !this.#ended) this.#sink.end();
  }

  onError(error: Error): void {
    if (this.#abandoned) return;
    this.#abandoned = true;
    const sink = this.#sink;
    if (sink.headersSent) {
      // The app reset mid-response: HTTP/1.1 closes the connection and HTTP/2 resets the stream, so a
      // truncated answer is never passed off as complete.
      this.#log.warn({ err: error, app: this.#upstream.origin, reason: upstreamFailure(error).reason }, 'response from app aborted');
      sink.abort(error);
      return;
    }
    const failure = upstreamFailure(error);
    this.#log.warn({ err: error, app: this.#upstream.origin, reason: failure.reason }, 'request to app failed');
    if (failure.status === 400) {
      sink.plain(400, `the request cannot be forwarded: ${error.message} (${failure.reason})`);
      return;
    }
    if (failure.status === 408) {
      sink.plainBeforeBody(408, `${error.message} (${failure.reason})`);
      return;
    }
    sink.plain(failure.status, `${failure.status === 504 ? 'the app did not answer in time' : 'the app is unavailable'} (${failure.reason})`);
  }
}

/** What the proxy needs of a client's request, whichever protocol it came in. */
export interface ClientRequestLine {
  readonly method: string;
  readonly path: string;
  /** The request body stream, or null when the request has none. */
  readonly body: Readable | null;
  /** The client's content-length header, if any. */
  readonly contentLength: string | string[] | undefined;
  /**
   * The client connection the request came on: the HTTP/1.1 socket, or the HTTP/2 session (for a
   * per-connection share of the app's upstream connections).
   */
  readonly clientConnection: object;
  /** The client's address (after PROXY protocol), for the per-address share of the app's connections. */
  readonly clientAddress: string;
}

/** The body's declared length, when the client declared one (HTTP/1.1 or HTTP/2 content-length). */
function declaredBodyLength(value: string | string[] | undefined): number | undefined {
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/** The one place an OutgoingRequest is made, for HTTP/1.1 and HTTP/2 clients alike (and plain HTTP). */
function outgoingRequest(request: ClientRequestLine, headers: string[], clientCertificate: string | undefined): OutgoingRequest {
  const body = request.body;
  return {
    method: request.method,
    path: request.path,
    headers,
    clientCertificate,
    body,
    bodyLength: body === null ? undefined : declaredBodyLength(request.contentLength),
    // The unit of fair share in the app's pool: the client's connection (HTTP/2: its session).
    owner: request.clientConnection,
    ownerAddress: request.clientAddress,
  };
}

export function proxyRequest(
  request: ClientRequestLine,
  sink: ResponseSink,
  upstream: Upstream,
  headers: string[],
  clientCertificate: string | undefined,
  pools: UpstreamPools,
  log: Logger,
  hsts?: string,
  cors?: readonly string[],
  record?: RequestRecord,
): void {
  const handler = new ForwardHandler(sink, upstream, log, hsts, cors, record);
  handler.exchange = pools.origin(upstream).request(outgoingRequest(request, headers, clientCertificate), handler);
}

/** Whether a flat [name, value, ...] list with lower-case names has `name`. */
function hasHeader(headers: readonly string[], name: string): boolean {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return true;
  return false;
}
