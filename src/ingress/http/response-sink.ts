// Where the app's answer (or the ingress's own short answer) goes: an HTTP/1.1 ServerResponse or an
// HTTP/2 stream through Node's core API (no Http2ServerResponse compatibility objects). The proxy
// writes to this interface only.
import type { ServerResponse } from 'node:http';
import http2 from 'node:http2';
import { reasonOfMessage, type RequestRecord } from '../../observe/request-record.ts';

const { NGHTTP2_NO_ERROR } = http2.constants;

export interface ResponseSink {
  /** The response head went out: a failure can no longer be answered with a status. */
  readonly headersSent: boolean;
  /** The status and a flat [name, value, ...] list (hop-by-hop headers already removed). May throw. */
  head(status: number, headers: string[]): void;
  /** false: the client's side is full; wait for `onDrain`. */
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): void;
  onDrain(callback: () => void): void;
  /** A response under way is cut off (HTTP/1.1: the connection closes; HTTP/2: RST_STREAM), never passed off as complete. */
  abort(error: Error): void;
  /** A short plain-text answer from the ingress; `close`: the client must reconnect (Connection: close, or GOAWAY). */
  plain(status: number, message: string, close?: boolean): void;
  /**
   * A short answer while the request body is still unread (408 for a slow upload): HTTP/1.1 closes
   * the connection, HTTP/2 resets only this stream once the answer is out.
   */
  plainBeforeBody(status: number, message: string): void;
  /** Called once when the client goes away before the response is complete. */
  onAbandoned(callback: () => void): void;
}

function plainHeaders(body: string): Record<string, string | number> {
  return {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
}

export function sendPlain(res: ServerResponse, status: number, message: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${message}\n`;
  const headers = plainHeaders(body);
  if (close) headers['connection'] = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

/** Status, bytes and reason of the answer, for the access log and the metrics (when they follow the request). */
function recordPlain(record: RequestRecord | undefined, status: number, message: string): void {
  if (record === undefined) return;
  record.status = status;
  record.bytes += Buffer.byteLength(message) + 1;
  record.reason = reasonOfMessage(message);
}

export class Http1Sink implements ResponseSink {
  readonly #res: ServerResponse;
  /** Set when the request is followed (src/observe/): the sink notes status and bytes in it. */
  record: RequestRecord | undefined;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  get headersSent(): boolean {
    return this.#res.headersSent;
  }

  head(status: number, headers: string[]): void {
    this.#res.writeHead(status, headers);
    if (this.record !== undefined) this.record.status = status;
  }

  write(chunk: Buffer): boolean {
    if (this.record !== undefined) this.record.bytes += chunk.length;
    return this.#res.write(chunk);
  }

  end(chunk?: Buffer): void {
    if (this.record !== undefined && chunk !== undefined) this.record.bytes += chunk.length;
    this.#res.end(chunk);
  }

  onDrain(callback: () => void): void {
    this.#res.once('drain', callback);
  }

  abort(error: Error): void {
    this.#res.destroy(error);
  }

  plain(status: number, message: string, close = false): void {
    if (!this.#res.headersSent) recordPlain(this.record, status, message);
    sendPlain(this.#res, status, message, close);
  }

  plainBeforeBody(status: number, message: string): void {
    if (!this.#res.headersSent) recordPlain(this.record, status, message);
    // The rest of the body is not read: the connection cannot carry another request.
    sendPlain(this.#res, status, message, true);
  }

  onAbandoned(callback: () => void): void {
    const res = this.#res;
    res.once('close', () => {
      if (!res.writableFinished) callback();
    });
  }
}

const ignore = () => {};

/**
 * One HTTP/2 stream's response. The stream's end is watched from the start (before the request
 * is even forwarded), so a stream the client resets is seen at once: `onReset` counts it for the
 * session's rapid-reset bound, and the exchange with the app is aborted.
 */
export class Http2Sink implements ResponseSink {
  readonly stream: http2.ServerHttp2Stream;
  /** Set when the request is followed (src/observe/): the sink notes status and bytes in it. */
  record: RequestRecord | undefined;
  #abandoned: (() => void) | undefined;
  /** The ingress reset the stream itself (the app failed mid-response): not the client's reset. */
  #resetByIngress = false;

  constructor(stream: http2.ServerHttp2Stream, onReset: () => void) {
    this.stream = stream;
    // A client's RST_STREAM with an error code, or the ingress's own, surfaces as 'error': it is
    // handled by 'aborted' below (and would otherwise crash the process).
    stream.on('error', ignore);
    // 'aborted': closed (RST_STREAM, or the session went away) before the response was ended.
    stream.once('aborted', () => {
      const session = stream.session;
      // A stream closed by its session going away is not one the client reset.
      if (!this.#resetByIngress && session !== undefined && !session.closed && !session.destroyed) onReset();
      this.#abandoned?.();
    });
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  /** The client reset the stream, or the session went away, before it was answered. */
  get gone(): boolean {
    return this.stream.closed || this.stream.destroyed;
  }

  head(status: number, headers: string[]): void {
    // Node ends the stream itself for HEAD requests, 204 and 304.
    this.stream.respond([':status', String(status), ...headers]);
    if (this.record !== undefined) this.record.status = status;
  }

  write(chunk: Buffer): boolean {
    if (this.stream.writableEnded) return true;
    if (this.record !== undefined) this.record.bytes += chunk.length;
    return this.stream.write(chunk);
  }

  end(chunk?: Buffer): void {
    if (this.stream.writableEnded) return;
    if (this.record !== undefined && chunk !== undefined) this.record.bytes += chunk.length;
    this.stream.end(chunk);
  }

  onDrain(callback: () => void): void {
    this.stream.once('drain', callback);
  }

  abort(error: Error): void {
    this.#resetByIngress = true;
    // RST_STREAM INTERNAL_ERROR at once. (close(code) would end the writable side first, and the
    // client could see the truncated answer END_STREAM cleanly.)
    this.stream.destroy(error);
  }

  plain(status: number, message: string, close = false): void {
    const stream = this.stream;
    if (stream.headersSent) {
      this.abort(new Error(message));
      return;
    }
    if (this.gone) return;
    recordPlain(this.record, status, message);
    const body = `${message}\n`;
    stream.respond({ ':status': status, ...plainHeaders(body) });
    stream.end(body);
    // HTTP/2 has no Connection header: GOAWAY, and the client opens a new connection.
    if (close) stream.session?.close();
  }

  plainBeforeBody(status: number, message: string): void {
    this.plain(status, message);
    // The stream would stay open for the rest of the body: reset it once the answer is out.
    if (!this.stream.destroyed) this.stream.close(NGHTTP2_NO_ERROR);
  }

  onAbandoned(callback: () => void): void {
    this.#abandoned = callback;
  }
}
