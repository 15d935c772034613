// The ingress's client for apps with transport `http2`: HTTP/2 over cleartext TCP with prior
// knowledge (h2c, RFC 9113 3.3), as ACA's Envoy speaks to such apps. Same shape as OriginPool
// (http1-client.ts): `request(OutgoingRequest, ExchangeHandler)`, the answer handed over as a flat
// header list and body chunks with back-pressure. Per origin a few multiplexed sessions, each
// carrying at most `maxStreamsPerSession` streams; requests beyond that wait in a bounded queue.
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { TOKEN, INVALID_FIELD_VALUE } from '../http/http-syntax.ts';
import { UpstreamError, type ExchangeHandler, type OutgoingRequest } from './http1-client.ts';

export interface H2cPoolOptions {
  readonly responseTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Sessions per origin. */
  readonly maxSessions: number;
  /** Streams per session (also capped by the app's SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxStreamsPerSession: number;
  /** Requests waiting for a free stream; beyond this: 503 (a slow app cannot pile up memory). */
  readonly maxQueued: number;
  /** Sessions without streams are closed after this time. */
  readonly keepAliveTimeoutMs: number;
  /** How long the answer may stay paused for a client that reads nothing (then client_write_timeout). */
  readonly clientWriteTimeoutMs: number;
}

/** Hop-by-hop and HTTP/1-only headers HTTP/2 forbids (RFC 9113 8.2.2); host becomes :authority. */
const NOT_IN_HTTP2 = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host']);

const { NGHTTP2_CANCEL } = http2.constants;

interface Session {
  readonly session: http2.ClientHttp2Session;
  readonly exchanges: Set<H2cExchange>;
  streams: number;
  connected: boolean;
  error?: Error;
}

/** One request to the app; the proxy's handle on it. */
export class H2cExchange {
  readonly request: OutgoingRequest;
  readonly handler: ExchangeHandler;
  stream: http2.ClientHttp2Stream | undefined;
  /** The request's HTTP/2 headers, made once (kept while the exchange waits for a stream). */
  headers: http2.OutgoingHttpHeaders | undefined;
  finished = false;
  /** performance.now() when the pool took it (ExchangeHandler.onHead's `since`). */
  readonly since = performance.now();
  #paused = false;
  readonly #bodyTimeoutMs: number;
  readonly #clientWriteTimeoutMs: number;

  constructor(request: OutgoingRequest, handler: ExchangeHandler, bodyTimeoutMs: number, clientWriteTimeoutMs: number) {
    this.request = request;
    this.handler = handler;
    this.#bodyTimeoutMs = bodyTimeoutMs;
    this.#clientWriteTimeoutMs = clientWriteTimeoutMs;
  }

  /** Paused for a client that does not read: the stream's timeout is the client's, not the app's. */
  get paused(): boolean {
    return this.#paused;
  }

  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.stream?.close(NGHTTP2_CANCEL);
  }

  /** The client drained: read from the app again, and restart the app's pause clock. */
  resume(): void {
    if (!this.#paused || this.stream === undefined) return;
    this.#paused = false;
    this.stream.setTimeout(this.#bodyTimeoutMs);
    this.stream.resume();
  }

  pause(): void {
    if (this.stream === undefined) return;
    this.#paused = true;
    // The client is slow, not the app: the app's pause clock stops, the client's write clock runs.
    this.stream.setTimeout(this.#clientWriteTimeoutMs);
    this.stream.pause();
  }

  fail(error: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.stream?.close(NGHTTP2_CANCEL);
    this.handler.onError(error);
  }
}

export class H2cOriginPool {
  readonly options: H2cPoolOptions;
  readonly #authority: string;
  readonly #sessions: Session[] = [];
  readonly #queue: H2cExchange[] = [];
  #closed = false;

  /** @param origin `http://host:port` */
  constructor(origin: string, options: H2cPoolOptions) {
    this.#authority = origin;
    this.options = options;
  }

  request(request: OutgoingRequest, handler: ExchangeHandler): H2cExchange {
    const exchange = new H2cExchange(request, handler, this.options.bodyTimeoutMs, this.options.clientWriteTimeoutMs);
    if (this.#closed) {
      exchange.fail(new UpstreamError('CERTGATE_POOL_CLOSED', 'the app is no longer served'));
      return exchange;
    }
    try {
      exchange.headers = h2Headers(request);
    } catch (error) {
      exchange.fail(error as Error);
      return exchange;
    }
    const session = this.#freeSession();
    if (session !== undefined) {
      this.#start(session, exchange);
    } else if (this.#queue.length < this.options.maxQueued) {
      this.#queue.push(exchange);
    } else {
      exchange.fail(new UpstreamError('CERTGATE_QUEUE_FULL', `more than ${this.options.maxQueued} requests wait for the app`));
    }
    return exchange;
  }

  close(): void {
    this.#closed = true;
    for (const exchange of this.#queue.splice(0)) exchange.fail(new UpstreamError('CERTGATE_POOL_CLOSED', 'the app is no longer served'));
    for (const { session } of this.#sessions) session.close();
  }

  #capacity(session: Session): number {
    const remote = session.connected ? session.session.remoteSettings.maxConcurrentStreams : undefined;
    return Math.min(this.options.maxStreamsPerSession, remote ?? this.options.maxStreamsPerSession);
  }

  #freeSession(): Session | undefined {
    for (const session of this.#sessions) if (session.streams < this.#capacity(session)) return session;
    if (this.#sessions.length >= this.options.maxSessions) return undefined;
    return this.#connect();
  }

  #connect(): Session {
    const session = http2.connect(this.#authority, { peerMaxConcurrentStreams: this.options.maxStreamsPerSession });
    const entry: Session = { session, exchanges: new Set(), streams: 0, connected: false };
    this.#sessions.push(entry);
    const connectTimer = setTimeout(() => {
      session.destroy(new UpstreamError('CERTGATE_CONNECT_TIMEOUT', `the app did not accept a connection within ${this.options.connectTimeoutMs} ms`));
    }, this.options.connectTimeoutMs);
    connectTimer.unref();
    session.once('connect', () => {
      clearTimeout(connectTimer);
      entry.connected = true;
    });
    // Idle sessions close; busy ones are kept alive by their streams' own timeouts.
    session.setTimeout(this.options.keepAliveTimeoutMs, () => {
      if (entry.streams === 0) session.close();
    });
    // The session's error (ECONNREFUSED, a connect timeout) is what its requests learn, so that the
    // client gets 503 app_unavailable rather than the stream's generic cancel.
    session.on('error', (error) => {
      entry.error = error;
      for (const exchange of entry.exchanges) exchange.fail(error);
    });
    session.once('close', () => {
      clearTimeout(connectTimer);
      const index = this.#sessions.indexOf(entry);
      if (index !== -1) this.#sessions.splice(index, 1);
      this.#drainQueue();
    });
    session.once('goaway', () => {
      // No new streams on a session the app is closing.
      const index = this.#sessions.indexOf(entry);
      if (index !== -1) this.#sessions.splice(index, 1);
    });
    return entry;
  }

  #drainQueue(): void {
    while (this.#queue.length > 0) {
      const exchange = this.#queue[0]!;
      if (exchange.finished) {
        this.#queue.shift();
        continue;
      }
      const session = this.#closed ? undefined : this.#freeSession();
      if (session === undefined) return;
      this.#queue.shift();
      this.#start(session, exchange);
    }
  }

  #start(entry: Session, exchange: H2cExchange): void {
    const { request, handler } = exchange;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = entry.session.request(exchange.headers!, { endStream: request.body === null });
    } catch (error) {
      exchange.fail(error as Error);
      return;
    }
    entry.streams++;
    entry.exchanges.add(exchange);
    entry.session.ref();
    exchange.stream = stream;
    stream.setTimeout(this.options.responseTimeoutMs);
    let answered = false;
    stream.on('timeout', () => {
      exchange.fail(
        exchange.paused
          ? new UpstreamError('CERTGATE_CLIENT_WRITE_TIMEOUT', `the client read nothing of the answer for ${this.options.clientWriteTimeoutMs} ms`)
          : answered
          ? new UpstreamError('CERTGATE_BODY_TIMEOUT', `the app paused its answer for ${this.options.bodyTimeoutMs} ms`)
          : new UpstreamError('CERTGATE_RESPONSE_TIMEOUT', `the app did not answer within ${this.options.responseTimeoutMs} ms`),
      );
    });
    stream.on('response', (responseHeaders) => {
      if (exchange.finished) return;
      const status = Number(responseHeaders[':status']);
      // 1xx interim answers are not passed on (the HTTP/1.1 client drops them too).
      if (status < 200) return;
      answered = true;
      stream.setTimeout(this.options.bodyTimeoutMs);
      if (!handler.onHead(status, flatHeaders(responseHeaders), performance.now(), exchange.since)) exchange.abort();
    });
    stream.on('data', (chunk: Buffer) => {
      if (exchange.finished) return;
      if (!handler.onBody(chunk, false)) exchange.pause();
    });
    stream.on('end', () => {
      if (exchange.finished) return;
      exchange.finished = true;
      handler.onEnd();
    });
    stream.on('error', (error) => {
      // A stream of a session that never connected: the session's error says why (it may come next).
      if (entry.connected) exchange.fail(error);
      else setImmediate(() => exchange.fail(entry.error ?? error));
    });
    stream.once('close', () => {
      entry.streams--;
      entry.exchanges.delete(exchange);
      if (entry.streams === 0) entry.session.unref();
      if (!exchange.finished && entry.connected) exchange.fail(new UpstreamError('CERTGATE_UPSTREAM_RESET', `the app reset the stream (code ${stream.rstCode})`));
      else if (!exchange.finished) setImmediate(() => exchange.fail(entry.error ?? new UpstreamError('CERTGATE_UPSTREAM_RESET', 'the connection to the app closed')));
      this.#drainQueue();
    });
    if (request.body !== null) {
      request.body.pipe(stream);
      request.body.once('error', () => exchange.abort());
    }
  }
}

function h2Headers(request: OutgoingRequest): http2.OutgoingHttpHeaders {
  if (!TOKEN.test(request.method)) throw new UpstreamError('CERTGATE_BAD_REQUEST', 'invalid request method');
  if (request.method === 'CONNECT') throw new UpstreamError('CERTGATE_BAD_REQUEST', 'CONNECT is not forwarded');
  if (request.path.length === 0 || /[^\x21-\x7e\x80-\xff]/.test(request.path)) throw new UpstreamError('CERTGATE_BAD_REQUEST', 'invalid request target');
  const out: http2.OutgoingHttpHeaders = { ':method': request.method, ':path': request.path, ':scheme': 'http' };
  const add = (name: string, value: string) => {
    const lower = name.toLowerCase();
    if (!TOKEN.test(name) || INVALID_FIELD_VALUE.test(value)) throw new UpstreamError('CERTGATE_BAD_REQUEST', `invalid request header ${JSON.stringify(name)}`);
    if (lower === 'host') {
      out[':authority'] = value;
      return;
    }
    if (NOT_IN_HTTP2.has(lower)) return;
    const existing = out[lower];
    out[lower] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [String(existing), value];
  };
  for (let i = 0; i + 1 < request.headers.length; i += 2) add(request.headers[i]!, request.headers[i + 1]!);
  // The connection's X-Forwarded-Client-Cert, decided at its handshake (client-certificate.ts), last.
  if (request.clientCertificate !== undefined) add('x-forwarded-client-cert', request.clientCertificate);
  return out;
}

function flatHeaders(headers: http2.IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    if (Array.isArray(value)) for (const each of value) out.push(name, each);
    else out.push(name, String(value));
  }
  return out;
}
