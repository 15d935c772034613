// Forwarding one admitted request to its app and streaming the answer back, for HTTP/1.1 and
// HTTP/2 clients alike (through Node's HTTP/2 compatibility API, which mirrors node:http).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { clientResponseRawHeaders } from './headers.ts';
import type { Upstream } from './snapshot.ts';
import type { UpstreamPools } from './upstream.ts';

export type ClientRequest = IncomingMessage | Http2ServerRequest;
export type ClientResponse = ServerResponse | Http2ServerResponse;

/** How a failure to reach the app is answered; these codes are stable and appear in logs. */
export function upstreamFailureStatus(error: unknown): { status: 502 | 503 | 504; reason: string } {
  const code = (error as { code?: string }).code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { status: 503, reason: 'app_unavailable' };
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { status: 503, reason: 'app_connect_timeout' };
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
 * One request to the app through undici's dispatcher, its answer written straight to the client's
 * response: raw header buffers in, a flat header list out, body chunks passed on as they come (with
 * back-pressure both ways). No stream objects, pipeline or AbortController per request: those cost
 * more than the rest of the proxying (see docs/performance.md).
 */
class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #res: ClientResponse;
  readonly #upstream: Upstream;
  readonly #log: Logger;
  #abort: ((error?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  /** The client went away, or the answer was replaced by an error: the app's answer is not wanted. */
  #abandoned = false;
  /** The client's side is full: undici was told to pause and waits for `drain`. */
  #waitingForDrain = false;

  constructor(res: ClientResponse, upstream: Upstream, log: Logger) {
    this.#res = res;
    this.#upstream = upstream;
    this.#log = log;
    // The client went away before the answer was complete: stop the app's request too.
    res.once('close', () => {
      if (res.writableFinished) return;
      this.#abandoned = true;
      this.#abort?.(new Error('the client closed the connection'));
    });
  }

  onConnect(abort: (error?: Error) => void): void {
    this.#abort = abort;
    if (this.#abandoned) abort(new Error('the client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx (other than 100, which undici refuses): informational, not passed on.
    if (statusCode < 200) return true;
    this.#resume = resume;
    const res = this.#res;
    try {
      (res as ServerResponse).writeHead(statusCode, clientResponseRawHeaders(rawHeaders));
    } catch (writeError) {
      // The app sent a header the client's protocol cannot carry.
      this.#abandoned = true;
      this.#log.warn({ err: writeError, app: this.#upstream.origin }, 'invalid response header from app');
      sendPlain(res, 502, 'the app sent an invalid response (app_error)');
      this.#abort?.(writeError as Error);
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#abandoned) return false;
    // Node corks the client's socket for the rest of the tick: a small answer's headers, body and
    // end still leave in one TLS write.
    if ((this.#res as ServerResponse).write(chunk)) return true;
    // The client reads slower than the app sends: pause the app until the client drains.
    if (!this.#waitingForDrain) {
      this.#waitingForDrain = true;
      this.#res.once('drain', () => {
        this.#waitingForDrain = false;
        this.#resume?.();
      });
    }
    return false;
  }

  onComplete(): void {
    if (!this.#abandoned) this.#res.end();
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
    sendPlain(res, failure.status, `${failure.status === 504 ? 'the app did not answer in time' : 'the app is unavailable'} (${failure.reason})`);
  }
}

export function proxyRequest(
  req: ClientRequest,
  res: ClientResponse,
  upstream: Upstream,
  headers: string[],
  pools: UpstreamPools,
  log: Logger,
): void {
  const options: Dispatcher.DispatchOptions = {
    path: req.url ?? '/',
    method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
    headers,
    body: hasRequestBody(req) ? req : null,
  };
  pools.pool(upstream).dispatch(options, new ForwardHandler(res, upstream, log));
}
