// Forwarding one admitted request to its app and streaming the answer back, for HTTP/1.1 and
// HTTP/2 clients alike (through Node's HTTP/2 compatibility API, which mirrors node:http).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from 'pino';
import type { ExchangeHandler, OutgoingRequest } from './http1-client.ts';
import { clientResponseRawHeaders } from './headers.ts';
import { withCorsHeaders } from './cors.ts';
import type { Upstream } from './snapshot.ts';
import type { ExchangeHandle, UpstreamPools } from './upstream.ts';

export type ClientRequest = IncomingMessage | Http2ServerRequest;
export type ClientResponse = ServerResponse | Http2ServerResponse;

/** How a failure to reach the app is answered; these codes are stable and appear in logs. */
export function upstreamFailureStatus(error: unknown): { status: 400 | 502 | 503 | 504; reason: string } {
  const code = (error as { code?: string }).code ?? '';
  switch (code) {
    case 'CERTGATE_BAD_REQUEST':
      return { status: 400, reason: 'bad_request' };
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { status: 503, reason: 'app_unavailable' };
    case 'CERTGATE_QUEUE_FULL':
      return { status: 503, reason: 'queue_full' };
    case 'CERTGATE_CONNECT_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { status: 503, reason: 'app_connect_timeout' };
    case 'CERTGATE_RESPONSE_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { status: 504, reason: 'app_timeout' };
    default:
      return { status: 502, reason: 'app_error' };
  }
}

export function sendPlain(res: ClientResponse, status: number, message: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${message}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  // HTTP/2 has no Connection header; the caller closes the session instead.
  if (close && (res as ServerResponse).shouldKeepAlive !== undefined) headers['connection'] = 'close';
  (res as ServerResponse).writeHead(status, headers);
  res.end(body);
}

export function hasRequestBody(req: ClientRequest): boolean {
  if ('stream' in req) return !req.stream.endAfterHeaders;
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

/**
 * One request to the app through the ingress's HTTP/1.1 client, its answer written straight to the
 * client's response: header strings in, a flat header list out, body chunks passed on as they come
 * (with back-pressure both ways). No stream objects, pipeline or AbortController per request.
 */
class ForwardHandler implements ExchangeHandler {
  readonly #res: ClientResponse;
  readonly #upstream: Upstream;
  readonly #log: Logger;
  /** CORS headers for an allowed origin (cors.ts), in place of the app's own. */
  readonly #cors: readonly string[] | undefined;
  exchange: ExchangeHandle | undefined;
  /** The client went away, or the answer was replaced by an error: the app's answer is not wanted. */
  #abandoned = false;
  /** The answer's last chunk was passed to end(). */
  #ended = false;
  /** The client's side is full: the app is paused until `drain`. */
  #waitingForDrain = false;

  constructor(res: ClientResponse, upstream: Upstream, log: Logger, cors: readonly string[] | undefined) {
    this.#res = res;
    this.#cors = cors;
    this.#upstream = upstream;
    this.#log = log;
    // The client went away before the answer was complete: stop the app's request too.
    res.once('close', () => {
      if (res.writableFinished) return;
      this.#abandoned = true;
      this.exchange?.abort();
    });
  }

  onHead(statusCode: number, rawHeaders: string[]): boolean {
    if (this.#abandoned) return false;
    const res = this.#res;
    try {
      const headers = clientResponseRawHeaders(rawHeaders);
      (res as ServerResponse).writeHead(statusCode, this.#cors === undefined ? headers : withCorsHeaders(headers, this.#cors));
    } catch (writeError) {
      // The app sent a header the client's protocol cannot carry.
      this.#abandoned = true;
      this.#log.warn({ err: writeError, app: this.#upstream.origin }, 'invalid response header from app');
      sendPlain(res, 502, 'the app sent an invalid response (app_error)');
      return false;
    }
    return true;
  }

  onBody(chunk: Buffer, last: boolean): boolean {
    if (this.#abandoned) return true;
    if (last) {
      // The whole rest of the answer: one end() with it (one pass through Node's outgoing path).
      this.#ended = true;
      this.#res.end(chunk);
      return true;
    }
    // Node corks the client's socket for the rest of the tick: a small answer's headers, body and
    // end still leave in one TLS write.
    if ((this.#res as ServerResponse).write(chunk)) return true;
    // The client reads slower than the app sends: pause the app until the client drains.
    if (!this.#waitingForDrain) {
      this.#waitingForDrain = true;
      this.#res.once('drain', () => {
        this.#waitingForDrain = false;
        this.exchange?.resume();
      });
    }
    return false;
  }

  onEnd(): void {
    if (!this.#abandoned && !this.#ended) this.#res.end();
  }

  onError(error: Error): void {
    if (this.#abandoned) return;
    this.#abandoned = true;
    const res = this.#res;
    if (res.headersSent) {
      // The app reset mid-response: HTTP/1.1 closes the connection and HTTP/2 resets the stream, so a
      // truncated answer is never passed off as complete.
      this.#log.warn({ err: error, app: this.#upstream.origin }, 'response from app aborted');
      res.destroy(error);
      return;
    }
    const failure = upstreamFailureStatus(error);
    this.#log.warn({ err: error, app: this.#upstream.origin, reason: failure.reason }, 'request to app failed');
    if (failure.status === 400) {
      sendPlain(res, 400, `the request cannot be forwarded (${error.message})`);
      return;
    }
    sendPlain(res, failure.status, `${failure.status === 504 ? 'the app did not answer in time' : 'the app is unavailable'} (${failure.reason})`);
  }
}

/** The body's declared length, when the client declared one (HTTP/1.1 or HTTP/2 content-length). */
function declaredBodyLength(req: ClientRequest): number | undefined {
  const value = req.headers['content-length'];
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

export function proxyRequest(
  req: ClientRequest,
  res: ClientResponse,
  upstream: Upstream,
  headers: string[],
  trustedHeadLines: string,
  pools: UpstreamPools,
  log: Logger,
  cors?: readonly string[],
): void {
  const body = hasRequestBody(req) ? req : null;
  const handler = new ForwardHandler(res, upstream, log, cors);
  const request: OutgoingRequest = {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers,
    trustedHeadLines,
    body,
    bodyLength: body === null ? undefined : declaredBodyLength(req),
  };
  handler.exchange = pools.origin(upstream).request(request, handler);
}
