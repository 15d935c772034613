// Forwarding one admitted request to its app and streaming the answer back, for HTTP/1.1 and
// HTTP/2 clients alike (through Node's HTTP/2 compatibility API, which mirrors node:http).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { pipeline } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { clientResponseHeaders } from './headers.ts';
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

export function proxyRequest(
  req: ClientRequest,
  res: ClientResponse,
  upstream: Upstream,
  headers: string[],
  pools: UpstreamPools,
  log: Logger,
): void {
  const abort = new AbortController();
  // The client went away before the answer was complete: stop the app's request too.
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const method = req.method ?? 'GET';
  const options: Dispatcher.RequestOptions = {
    path: req.url ?? '/',
    method: method as Dispatcher.HttpMethod,
    headers,
    body: hasRequestBody(req) ? req : null,
    signal: abort.signal,
  };
  pools.pool(upstream).request(options, (error, data) => {
    if (error) {
      if (abort.signal.aborted) return;
      const failure = upstreamFailureStatus(error);
      log.warn({ err: error, app: upstream.origin, reason: failure.reason }, 'request to app failed');
      sendPlain(res, failure.status, `${failure.status === 504 ? 'the app did not answer in time' : 'the app is unavailable'} (${failure.reason})`);
      return;
    }
    const { statusCode, headers: responseHeaders, body } = data;
    try {
      (res as ServerResponse).writeHead(statusCode, clientResponseHeaders(responseHeaders));
    } catch (writeError) {
      // The app sent a header the client's protocol cannot carry.
      body.destroy();
      log.warn({ err: writeError, app: upstream.origin }, 'invalid response header from app');
      sendPlain(res, 502, 'the app sent an invalid response (app_error)');
      return;
    }
    // If the app resets mid-response, pipeline destroys the client's response: HTTP/1.1 closes the
    // connection and HTTP/2 resets the stream, so a truncated answer is never passed off as complete.
    pipeline(body, res as NodeJS.WritableStream, (streamError) => {
      if (streamError && !abort.signal.aborted) {
        log.warn({ err: streamError, app: upstream.origin }, 'response from app aborted');
      }
    });
  });
}
