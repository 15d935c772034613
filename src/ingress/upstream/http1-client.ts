// The ingress's HTTP/1.1 client for apps: per app origin, a pool of keep-alive TCP connections, one
// request at a time on each. Built for the proxy's hot path (docs/performance.md): the request head
// is one string written once, the response is parsed by the strict parser in http1-response.ts and
// handed over as header strings and body views, and nothing else is allocated per request. A
// connection is reused only after a complete, well-framed exchange. Requests waiting for a
// connection queue per client connection (a bounded share each, round-robin, a bounded queue with a
// deadline), and request bodies run on the client's clock: see docs/ingress.md, Limits and abuse.
import { performance } from 'node:perf_hooks';
import net from 'node:net';
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import { INVALID_FIELD_VALUE, TOKEN } from '../http/http-syntax.ts';
import { ResponseParser, type ResponseHead } from './http1-response.ts';
import type { UpstreamErrorCode } from '../reasons.ts';

export interface OriginPoolOptions {
  /** How long the app may take to send its response head (then: UpstreamError app_timeout). */
  readonly responseTimeoutMs: number;
  /** How long the app may pause between body reads once its answer started. */
  readonly bodyTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxConnections: number;
  /** Idle connections are closed after this time (apps usually close theirs after 5–75 s). */
  readonly keepAliveTimeoutMs: number;
  /** Requests waiting for a connection, all clients together (then: 503 queue_full). */
  readonly maxQueued: number;
  /** Requests of one client connection waiting for a connection (then: 503 queue_full). */
  readonly maxQueuedPerClient: number;
  /** How long a request may wait for a connection (then: 503 queue_timeout). */
  readonly queueTimeoutMs: number;
  /** Connections one client connection's requests may hold at once; its further requests wait. */
  readonly maxConnectionsPerClient: number;
  /** The whole request body must arrive within this time (then: 408 request_body_timeout). */
  readonly requestBodyTimeoutMs: number;
  /**
   * The request body may pause this long between chunks, and after this long it must have averaged
   * at least `requestBodyMinBytesPerSecond` (a slow upload holds an app connection; nginx's
   * client_body_timeout, Kestrel's MinRequestBodyDataRate).
   */
  readonly requestBodyIdleTimeoutMs: number;
  readonly requestBodyMinBytesPerSecond: number;
  /**
   * How long the answer may stay paused because the client does not read it (nginx's send_timeout);
   * then the exchange fails with client_write_timeout and the app's connection is freed.
   */
  readonly clientWriteTimeoutMs: number;
  /**
   * Connections the requests of one client address (all its connections together) may hold at once;
   * their further requests wait. Many connections each within `maxConnectionsPerClient` would
   * otherwise still take the whole app.
   */
  readonly maxConnectionsPerAddress: number;
  /**
   * targetPortHttpScheme `https`: TLS to the app. The app's certificate is not verified (ACA has no
   * setting for a CA to verify it against; apps serve self-signed ones): encryption, not authentication.
   */
  readonly tls?: boolean;
}

/** Errors of the exchange with the app; `code` is what reasons.ts `upstreamFailure` maps to a reason and status. */
export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode;
  constructor(code: UpstreamErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export interface ExchangeHandler {
  /**
   * The app's final response head, at `now` (performance.now()); `since` is when the pool took
   * the exchange (queued, else sent): the app's time, its queue included, is `now - since`, from
   * two clock readings the client makes anyway. Returning false abandons the exchange.
   */
  onHead(status: number, rawHeaders: string[], now: number, since: number): boolean;
  /** A piece of the body; returning false pauses the app until `Exchange.resume()`. */
  onBody(chunk: Buffer, last: boolean): boolean;
  onEnd(): void;
  /** Called at most once, instead of (or after some of) the above; never after onEnd. */
  onError(error: Error): void;
}

export interface OutgoingRequest {
  readonly method: string;
  readonly path: string;
  /** [name, value, ...], already rewritten for the app (no hop-by-hop headers); each is checked. */
  readonly headers: readonly string[];
  /**
   * The connection's X-Forwarded-Client-Cert (client-certificate.ts), or undefined for none. Written
   * last and unchecked: the 2.4 KB value is safe by construction (base64 and percent-encoding) and
   * decided once per connection, so checking it on every request would only cost.
   */
  readonly clientCertificate: string | undefined;
  /** The request body, streamed; its framing comes from `bodyLength`. */
  readonly body: Readable | null;
  /** The body's Content-Length when the client gave one; otherwise the body is sent chunked. */
  readonly bodyLength: number | undefined;
  /**
   * The client connection the request came on (HTTP/1.1: its socket; HTTP/2: its session): the
   * unit of fairness, which may hold at most `maxConnectionsPerClient` of the app's connections.
   */
  readonly owner: object;
  /**
   * The client's address (after PROXY protocol): all of one address's connections together may hold
   * at most `maxConnectionsPerAddress` of the app's connections.
   */
  readonly ownerAddress: string;
}

/** One request's life: queued, then on a connection, then done. The handle lets the proxy stop it. */
export class Exchange {
  readonly request: OutgoingRequest;
  readonly handler: ExchangeHandler;
  readonly #pool: OriginPool;
  connection: UpstreamConnection | undefined;
  /** While the exchange waits for a connection: its client's place in the pool's queue. */
  waiting: Client | undefined;
  /** performance.now() when it started waiting. */
  queuedAt = 0;
  /** performance.now() when the pool took it: when it was queued, else when it was first sent. */
  since = 0;
  finished = false;
  /** Sent once already on a reused connection that the app had closed: not tried a third time. */
  retried = false;

  constructor(request: OutgoingRequest, handler: ExchangeHandler, pool: OriginPool) {
    this.request = request;
    this.handler = handler;
    this.#pool = pool;
  }

  /**
   * The client went away: drop the request at once, whether it waits in the queue (it leaves it)
   * or is on a connection (the connection is closed: the app saw part of an exchange).
   */
  abort(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.waiting !== undefined) this.#pool.dequeue(this);
    this.connection?.destroy();
  }

  /** The client drained: read from the app again. */
  resume(): void {
    this.connection?.resumeReading();
  }

  fail(error: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.handler.onError(error);
  }
}

/** The header the ingress alone writes: any a client sent is dropped (headers.ts). */
const CLIENT_CERTIFICATE_HEADER = 'x-forwarded-client-cert';

/** A request-target as it may appear on the wire: no controls, spaces or non-latin1 characters. */
const INVALID_TARGET = /[^\x21-\x7e\x80-\xff]/;

/**
 * The request head for the app. Every name and value is checked (HTTP/2 clients' headers come
 * from nghttp2's rules, not HTTP/1.1's), so nothing can split the head.
 */
export function requestHead(request: OutgoingRequest): string {
  if (!TOKEN.test(request.method)) throw new UpstreamError('CERTGATE_BAD_REQUEST', 'invalid request method');
  // A tunnel through the ingress would bypass everything the ingress does per request.
  if (request.method === 'CONNECT') throw new UpstreamError('CERTGATE_BAD_REQUEST', 'CONNECT is not forwarded');
  if (request.path.length === 0 || INVALID_TARGET.test(request.path)) throw new UpstreamError('CERTGATE_BAD_REQUEST', 'invalid request target');
  let head = `${request.method} ${request.path} HTTP/1.1\r\n`;
  const headers = request.headers;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (!TOKEN.test(name) || INVALID_FIELD_VALUE.test(value)) throw new UpstreamError('CERTGATE_BAD_REQUEST', `invalid request header ${JSON.stringify(name)}`);
    head += `${name}: ${value}\r\n`;
  }
  if (request.body !== null && request.bodyLength === undefined) head += 'transfer-encoding: chunked\r\n';
  const certificate = request.clientCertificate;
  return certificate === undefined ? `${head}\r\n` : `${head}${CLIENT_CERTIFICATE_HEADER}: ${certificate}\r\n\r\n`;
}

const CHUNKED_END = '0\r\n\r\n';

/** Methods a client may expect to be repeated without harm (RFC 9110 9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * Where every upstream connection's reads land. One buffer serves them all: each read is handed to
 * its connection's parser at once, which copies what it keeps (head text, partial lines, body
 * chunks), before the event loop performs the next read.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** A TCP connection to an app, carrying one exchange at a time. */
export class UpstreamConnection {
  readonly socket: net.Socket;
  readonly #pool: OriginPool;
  readonly #parser: ResponseParser;
  #exchange: Exchange | undefined;
  #connected = false;
  #destroyed = false;
  #requestSent = false;
  /** Exchanges completed on this connection; a reused connection may have been closed by the app. */
  #served = 0;
  /**
   * When the current phase times out (performance.now() ms): connecting, waiting for the answer,
   * between body reads, or idle. Checked by the pool's sweep instead of a socket timer re-armed on
   * every request (Node's socket timers cost ~5% of a proxied request).
   */
  #deadline: number;
  /** The client whose exchange holds the connection (the pool's fair-share count). */
  client: Client | undefined;
  /**
   * The request body is on its way: the client's clock runs (requestBody* options), not the app's.
   * Checked by the sweep too: a chunk only records when and how much arrived.
   */
  #uploading = false;
  #uploadStart = 0;
  #uploadLast = 0;
  #uploadBytes = 0;
  /** The app does not read the body (its socket is full) since then: the app's clock runs instead. */
  #uploadBlockedSince: number | undefined;
  /** Reading from the app is paused for a client that does not read: `#deadline` is the client's. */
  #clientPaused = false;

  constructor(pool: OriginPool, host: string, port: number) {
    this.#pool = pool;
    // Reads land in one shared buffer and go straight to the parser: no stream 'data' events and
    // no buffer allocated per read (see READ_BUFFER).
    const options = {
      host,
      port,
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (bytes: number, buffer: Uint8Array) => this.#onRead(bytes, buffer as Buffer) },
    };
    this.socket = pool.options.tls
      ? tls.connect({ ...options, rejectUnauthorized: false, minVersion: 'TLSv1.2', ...(net.isIP(host) ? {} : { servername: host }) })
      : net.connect(options);
    this.#parser = new ResponseParser({
      onHead: (head) => this.#onHead(head),
      onBody: (chunk, last) => {
        const exchange = this.#exchange;
        // A copy: `chunk` is a view of READ_BUFFER, which the next read overwrites, and the client's
        // socket may hold what it is given until it drains.
        if (exchange !== undefined && !exchange.finished && !exchange.handler.onBody(Buffer.from(chunk), last)) this.#pauseReading();
      },
      onEnd: () => {
        const exchange = this.#exchange;
        if (exchange === undefined || exchange.finished) return;
        exchange.finished = true;
        exchange.handler.onEnd();
      },
    });
    const socket = this.socket;
    this.#deadline = performance.now() + pool.options.connectTimeoutMs;
    socket.once(pool.options.tls ? 'secureConnect' : 'connect', () => {
      this.#connected = true;
      this.#pool.connected(this);
    });
    socket.on('end', () => this.#onClose(undefined));
    socket.on('error', (error) => this.#onClose(error));
    socket.on('close', () => this.#onClose(undefined));
  }

  /**
   * The client is slower than the app: stop reading, and stop the app's body clock; the client's
   * write clock runs instead (a client that never reads would hold the connection forever).
   */
  #pauseReading(): void {
    this.socket.pause();
    this.#clientPaused = true;
    this.#deadline = performance.now() + this.#pool.options.clientWriteTimeoutMs;
  }

  resumeReading(): void {
    if (this.#destroyed) return;
    this.#clientPaused = false;
    this.#deadline = performance.now() + this.#pool.options.bodyTimeoutMs;
    this.socket.resume();
  }

  get idle(): boolean {
    return this.#exchange === undefined && !this.#destroyed;
  }

  get reused(): boolean {
    return this.#served > 0;
  }

  /** Sends the exchange's request (the connection is connected and idle). */
  start(exchange: Exchange): void {
    this.#exchange = exchange;
    exchange.connection = this;
    this.#requestSent = false;
    let head: string;
    try {
      head = requestHead(exchange.request);
    } catch (error) {
      this.#exchange = undefined;
      exchange.connection = undefined;
      exchange.fail(error as Error);
      this.#pool.release(this);
      return;
    }
    this.#parser.expect(exchange.request.method);
    this.#clientPaused = false;
    this.socket.ref();
    this.socket.resume();
    const body = exchange.request.body;
    const now = performance.now();
    if (exchange.since === 0) exchange.since = now;
    if (body === null) {
      this.#deadline = now + this.#pool.options.responseTimeoutMs;
      this.socket.write(head, 'latin1');
      this.#requestSent = true;
      return;
    }
    // The app cannot be expected to answer before it has the body: its clock starts at the body's end.
    this.#deadline = Infinity;
    this.#uploading = true;
    this.#uploadStart = now;
    this.#uploadLast = now;
    this.#uploadBytes = 0;
    this.#uploadBlockedSince = undefined;
    this.socket.write(head, 'latin1');
    this.#streamBody(exchange, body);
  }

  /** Why the upload is too slow (requestBody* options), or undefined while it is fine. */
  #uploadTooSlow(now: number): string | undefined {
    const options = this.#pool.options;
    const elapsed = now - this.#uploadStart;
    if (elapsed > options.requestBodyTimeoutMs) return `the request body took longer than ${options.requestBodyTimeoutMs} ms`;
    if (now - this.#uploadLast > options.requestBodyIdleTimeoutMs) return `the request body paused for more than ${options.requestBodyIdleTimeoutMs} ms`;
    if (elapsed > options.requestBodyIdleTimeoutMs && this.#uploadBytes * 1_000 < options.requestBodyMinBytesPerSecond * elapsed) {
      return `the request body arrived slower than ${options.requestBodyMinBytesPerSecond} bytes/s`;
    }
    return undefined;
  }

  /** The app's socket is full: the time until it drains is the app's, not the client's. */
  #uploadBlocked(): void {
    this.#uploadBlockedSince = performance.now();
    if (!this.#parser.receivedAny) this.#deadline = this.#uploadBlockedSince + this.#pool.options.responseTimeoutMs;
  }

  #uploadUnblocked(): void {
    if (this.#uploadBlockedSince === undefined) return;
    const now = performance.now();
    this.#uploadStart += now - this.#uploadBlockedSince;
    this.#uploadLast = now;
    this.#uploadBlockedSince = undefined;
    if (!this.#parser.receivedAny) this.#deadline = Infinity;
  }

  #streamBody(exchange: Exchange, body: Readable): void {
    const chunked = exchange.request.bodyLength === undefined;
    const expected = exchange.request.bodyLength ?? 0;
    let sent = 0;
    const socket = this.socket;
    const onData = (chunk: Buffer) => {
      // An empty chunk would read as the chunked body's end.
      if (this.#exchange !== exchange || exchange.finished || chunk.length === 0) return;
      sent += chunk.length;
      // The sweep judges the upload's pace from these two (no timer per chunk).
      this.#uploadBytes = sent;
      this.#uploadLast = performance.now();
      if (!chunked && sent > expected) {
        this.#abandon(exchange, new UpstreamError('CERTGATE_BAD_REQUEST', 'the request body is longer than its Content-Length'));
        return;
      }
      const ok = chunked ? (socket.write(`${chunk.length.toString(16)}\r\n`), socket.write(chunk), socket.write('\r\n')) : socket.write(chunk);
      if (!ok) {
        body.pause();
        this.#uploadBlocked();
        socket.once('drain', () => {
          this.#uploadUnblocked();
          body.resume();
        });
      }
    };
    const onEnd = () => {
      cleanup();
      if (this.#exchange !== exchange || exchange.finished && !this.#parser.complete) return;
      if (!chunked && sent !== expected) {
        this.#abandon(exchange, new UpstreamError('CERTGATE_BAD_REQUEST', 'the request body is shorter than its Content-Length'));
        return;
      }
      if (chunked) socket.write(CHUNKED_END);
      this.#requestSent = true;
      this.#uploading = false;
      // Now the app has the whole request: its clock starts (unless it has answered already).
      if (!this.#parser.receivedAny) this.#deadline = performance.now() + this.#pool.options.responseTimeoutMs;
      // The app answered before the body was complete (an early 413, say): the exchange is over.
      if (this.#parser.complete) this.#afterResponse();
    };
    const onAbort = () => {
      cleanup();
      // The client stopped sending: the app saw part of a body, so the connection cannot go on.
      if (this.#exchange === exchange && !this.#requestSent) this.#abandon(exchange, new UpstreamError('CERTGATE_CLIENT_ABORTED', 'the client stopped sending the request body'));
    };
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onAbort);
      body.off('close', onAbort);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onAbort);
    body.once('close', onAbort);
  }

  #abandon(exchange: Exchange, error: Error): void {
    exchange.fail(error);
    this.destroy();
  }

  #onHead(head: ResponseHead): void {
    const exchange = this.#exchange;
    if (exchange === undefined || exchange.finished) return;
    const now = performance.now();
    this.#deadline = now + this.#pool.options.bodyTimeoutMs;
    if (!exchange.handler.onHead(head.status, head.rawHeaders, now, exchange.since)) {
      exchange.finished = true;
      this.destroy();
    }
  }

  #onRead(bytes: number, buffer: Buffer): boolean {
    if (this.#destroyed) return false;
    if (this.#deadline !== Infinity && !this.#clientPaused && this.#parser.receivedAny) this.#deadline = performance.now() + this.#pool.options.bodyTimeoutMs;
    try {
      this.#parser.execute(buffer.subarray(0, bytes));
    } catch (error) {
      this.#exchange?.fail(error as Error);
      this.destroy();
      return false;
    }
    if (this.#parser.complete && this.#exchange !== undefined) this.#afterResponse();
    // Reading stops when the client side asked for a pause (#pauseReading).
    return !this.socket.isPaused();
  }

  /** The response is complete: reuse the connection if the exchange as a whole was clean. */
  #afterResponse(): void {
    const exchange = this.#exchange!;
    if (!this.#requestSent) {
      // Still sending the body: stop; the connection is in the middle of a request.
      if (exchange.request.body !== null) {
        this.#exchange = undefined;
        this.destroy();
      }
      return;
    }
    this.#exchange = undefined;
    exchange.connection = undefined;
    this.#served++;
    if (!this.#parser.keepAlive) {
      this.destroy();
      return;
    }
    this.#deadline = performance.now() + this.#pool.options.keepAliveTimeoutMs;
    this.#pool.release(this);
  }

  /** Called by the pool's sweep: the connection's current deadline (connect, answer, body, idle) passed. */
  expireIf(now: number): void {
    if (this.#destroyed) return;
    if (now > this.#deadline) {
      this.#onTimeout();
      return;
    }
    if (!this.#uploading || this.#uploadBlockedSince !== undefined) return;
    const slow = this.#uploadTooSlow(now);
    const exchange = this.#exchange;
    if (slow === undefined || exchange === undefined) return;
    // The app saw part of a body: the connection cannot carry another request.
    this.#abandon(exchange, new UpstreamError('CERTGATE_REQUEST_BODY_TIMEOUT', slow));
  }

  #onTimeout(): void {
    const exchange = this.#exchange;
    if (!this.#connected) {
      this.#failConnect(new UpstreamError('CERTGATE_CONNECT_TIMEOUT', `no connection to the app within ${this.#pool.options.connectTimeoutMs} ms`));
    } else if (exchange !== undefined && !exchange.finished) {
      exchange.fail(
        this.#clientPaused
          ? new UpstreamError('CERTGATE_CLIENT_WRITE_TIMEOUT', `the client read nothing of the answer for ${this.#pool.options.clientWriteTimeoutMs} ms`)
          : this.#parser.receivedAny
          ? new UpstreamError('CERTGATE_BODY_TIMEOUT', `the app paused its answer for ${this.#pool.options.bodyTimeoutMs} ms`)
          : new UpstreamError('CERTGATE_RESPONSE_TIMEOUT', `the app did not answer within ${this.#pool.options.responseTimeoutMs} ms`),
      );
    }
    this.destroy();
  }

  #onClose(error: Error | undefined): void {
    if (!this.#connected) {
      this.#failConnect(error ?? new UpstreamError('CERTGATE_CONNECT_FAILED', 'the connection to the app closed while connecting'));
      return;
    }
    const exchange = this.#exchange;
    if (exchange !== undefined && !exchange.finished) {
      let ended = false;
      try {
        ended = this.#parser.closed();
      } catch (parseError) {
        // Closed before any byte of the answer, on a connection that served before: the app closed
        // it while idle just as the request left. An idempotent request without a body (RFC 9110
        // 9.2.2) is sent again, once; anything else may have been acted on and gets 502.
        const safeToRetry =
          this.reused && !this.#parser.receivedAny && exchange.request.body === null && IDEMPOTENT.has(exchange.request.method) && !exchange.retried;
        this.#exchange = undefined;
        exchange.connection = undefined;
        if (safeToRetry) {
          exchange.retried = true;
          this.#pool.retry(exchange);
        } else {
          exchange.fail(error ?? (parseError as Error));
        }
      }
      if (ended) this.#exchange = undefined;
    }
    this.destroy();
  }

  #failConnect(error: Error): void {
    if (this.#destroyed) return;
    this.destroy();
    this.#pool.connectFailed(this, error);
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#uploading = false;
    this.socket.destroy();
    this.#pool.forget(this);
  }
}

/**
 * One client connection's standing in a pool: the connections its exchanges hold and the exchanges
 * it has waiting. The queue is one FIFO per client, served round-robin across clients, so one
 * connection flooding the app (pipelining, thousands of HTTP/2 streams) waits behind its own
 * requests only.
 */
export interface Client {
  active: number;
  readonly queue: Exchange[];
  /** In the pool's round-robin ring (it has exchanges waiting). */
  ringed: boolean;
  /** Its address's standing (replaced when the pool dropped it while the client was idle). */
  address: Address;
}

/**
 * One client address's standing: the connections all its client connections hold, and how many of
 * their waiting exchanges could start by their per-connection share (`ready`). Kept only while
 * non-zero, so at most one per connection in use or waiting client.
 */
interface Address {
  readonly key: string;
  active: number;
  ready: number;
}

/** The connections to one app origin, and the requests waiting for one. */
export class OriginPool {
  readonly options: OriginPoolOptions;
  readonly #host: string;
  readonly #port: number;
  readonly #all = new Set<UpstreamConnection>();
  /** Most recently used last: reusing the warmest connection lets the others time out. */
  readonly #idle: UpstreamConnection[] = [];
  readonly #connecting = new Set<UpstreamConnection>();
  /** Per client connection; a weak key, so a client that is gone leaves nothing behind. */
  readonly #clients = new WeakMap<object, Client>();
  /** Per client address, while any of its connections holds or waits for a connection. */
  readonly #addresses = new Map<string, Address>();
  /** Clients with exchanges waiting, served in turn from `#cursor`. */
  readonly #ring: Client[] = [];
  #cursor = 0;
  /** Exchanges waiting, all clients together. */
  #queued = 0;
  /**
   * Waiting exchanges that could start now (their client and its address are under their shares):
   * connections are opened for these, never for a client that already holds its share.
   */
  #ready = 0;
  #closed = false;
  /** Runs while the pool has connections or waiting exchanges: expires what is overdue. */
  #sweeper: NodeJS.Timeout | undefined;
  /** A quarter of the shortest timeout (at most 250 ms): a deadline is noticed within that. */
  readonly #sweepMs: number;

  constructor(host: string, port: number, options: OriginPoolOptions) {
    this.#host = host;
    this.#port = port;
    this.options = options;
    const shortest = Math.min(
      options.connectTimeoutMs,
      options.responseTimeoutMs,
      options.bodyTimeoutMs,
      options.keepAliveTimeoutMs,
      options.queueTimeoutMs,
      options.requestBodyIdleTimeoutMs,
      options.clientWriteTimeoutMs,
    );
    this.#sweepMs = Math.max(10, Math.min(250, Math.floor(shortest / 4)));
  }

  #sweep(): void {
    const now = performance.now();
    for (const connection of this.#all) connection.expireIf(now);
    this.#expireQueued(now);
    if (this.#all.size === 0 && this.#queued === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #startSweeper(): void {
    // Never keeps the process alive by itself: busy sockets do, idle ones must not.
    this.#sweeper ??= setInterval(() => this.#sweep(), this.#sweepMs).unref();
  }

  get connectionCount(): number {
    return this.#all.size;
  }

  /** Exchanges waiting for a connection. */
  get queuedCount(): number {
    return this.#queued;
  }

  request(request: OutgoingRequest, handler: ExchangeHandler): Exchange {
    const exchange = new Exchange(request, handler, this);
    if (this.#closed) {
      exchange.fail(new UpstreamError('CERTGATE_POOL_CLOSED', 'the app is no longer served'));
      return exchange;
    }
    let client = this.#clients.get(request.owner);
    if (client === undefined) {
      client = { active: 0, queue: [], ringed: false, address: this.#address(request.ownerAddress) };
      this.#clients.set(request.owner, client);
    } else {
      this.#attach(client);
    }
    // An idle connection means nobody under their share is waiting: start at once.
    if (this.#underShare(client)) {
      const connection = this.#idle.pop();
      if (connection !== undefined) {
        this.#assign(client, connection, exchange);
        return exchange;
      }
    }
    if (this.#queued >= this.options.maxQueued || client.queue.length >= this.options.maxQueuedPerClient) {
      // Refused: an address with nothing counted is not kept (a flood of refused addresses leaves nothing).
      this.#change(client, () => {});
      exchange.fail(new UpstreamError('CERTGATE_QUEUE_FULL', `${this.#queued} requests are already waiting for the app`));
      return exchange;
    }
    this.#enqueue(client, exchange, false);
    return exchange;
  }

  #address(key: string): Address {
    let address = this.#addresses.get(key);
    if (address === undefined) {
      address = { key, active: 0, ready: 0 };
      this.#addresses.set(key, address);
    }
    return address;
  }

  /**
   * The pool drops an address once nothing of it is counted (no connection held, nothing that could
   * start): a client of it then joins its address anew (it has nothing counted itself, so nothing moves).
   */
  #attach(client: Client): void {
    if (this.#addresses.get(client.address.key) !== client.address) client.address = this.#address(client.address.key);
  }

  #underShare(client: Client): boolean {
    return client.active < this.options.maxConnectionsPerClient && client.address.active < this.options.maxConnectionsPerAddress;
  }

  #readyOf(client: Client): number {
    return Math.min(client.queue.length, Math.max(0, this.options.maxConnectionsPerClient - client.active));
  }

  #addressReady(address: Address): number {
    return Math.min(address.ready, Math.max(0, this.options.maxConnectionsPerAddress - address.active));
  }

  /**
   * Applies a change to a client's queue or connection count and keeps `#ready` (and its address's
   * `ready`) in step: what could start is bounded by the client's share and by its address's.
   */
  #change(client: Client, change: () => void): void {
    const address = client.address;
    this.#ready -= this.#addressReady(address);
    address.ready -= this.#readyOf(client);
    change();
    address.ready += this.#readyOf(client);
    this.#ready += this.#addressReady(address);
    if (address.active === 0 && address.ready === 0 && this.#addresses.get(address.key) === address) this.#addresses.delete(address.key);
  }

  #enqueue(client: Client, exchange: Exchange, first: boolean): void {
    this.#attach(client);
    this.#change(client, () => {
      if (first) client.queue.unshift(exchange);
      else client.queue.push(exchange);
    });
    this.#queued++;
    exchange.waiting = client;
    exchange.queuedAt = performance.now();
    if (exchange.since === 0) exchange.since = exchange.queuedAt;
    if (!client.ringed) {
      client.ringed = true;
      this.#ring.push(client);
    }
    this.#startSweeper();
    this.#grow();
  }

  /** Opens connections for the waiting exchanges that could start, up to the app's limit. */
  #grow(): void {
    while (!this.#closed && this.#all.size < this.options.maxConnections && this.#connecting.size < this.#ready) {
      const connection = new UpstreamConnection(this, this.#host, this.#port);
      this.#all.add(connection);
      this.#connecting.add(connection);
      this.#startSweeper();
    }
  }

  /** Takes an exchange out of the queue (it starts, expires, fails, or its client left). */
  dequeue(exchange: Exchange): void {
    const client = exchange.waiting;
    if (client === undefined) return;
    exchange.waiting = undefined;
    const index = client.queue.indexOf(exchange);
    if (index === -1) return;
    this.#change(client, () => client.queue.splice(index, 1));
    this.#queued--;
    if (client.queue.length === 0) this.#unring(client);
  }

  #unring(client: Client): void {
    client.ringed = false;
    const index = this.#ring.indexOf(client);
    if (index === -1) return;
    this.#ring.splice(index, 1);
    if (index < this.#cursor) this.#cursor--;
  }

  /** The next exchange to start: the oldest of the next client in turn that is under its share. */
  #next(): { client: Client; exchange: Exchange } | undefined {
    const ring = this.#ring;
    for (let tries = ring.length; tries > 0; tries--) {
      if (this.#cursor >= ring.length) this.#cursor = 0;
      const client = ring[this.#cursor]!;
      this.#cursor++;
      if (!this.#underShare(client)) continue;
      const exchange = client.queue[0]!;
      this.dequeue(exchange);
      return { client, exchange };
    }
    return undefined;
  }

  #assign(client: Client, connection: UpstreamConnection, exchange: Exchange): void {
    // Taking its last waiting exchange out of the line (#next) may have dropped its address.
    this.#attach(client);
    this.#change(client, () => {
      client.active++;
      client.address.active++;
    });
    connection.client = client;
    connection.start(exchange);
  }

  /** The connection's exchange is over: its client holds one connection less. */
  #unassign(connection: UpstreamConnection): void {
    const client = connection.client;
    if (client === undefined) return;
    connection.client = undefined;
    this.#change(client, () => {
      client.active--;
      client.address.active--;
    });
  }

  #expireQueued(now: number): void {
    const limit = now - this.options.queueTimeoutMs;
    for (let i = this.#ring.length - 1; i >= 0; i--) {
      const client = this.#ring[i];
      // Each client's queue is oldest first: only its head can be overdue before the rest.
      while (client !== undefined && client.queue.length > 0 && client.queue[0]!.queuedAt < limit) {
        const exchange = client.queue[0]!;
        this.dequeue(exchange);
        exchange.fail(new UpstreamError('CERTGATE_QUEUE_TIMEOUT', `no connection to the app within ${this.options.queueTimeoutMs} ms`));
      }
    }
  }

  retry(exchange: Exchange): void {
    const client = this.#clients.get(exchange.request.owner);
    if (this.#closed || client === undefined) {
      exchange.fail(new UpstreamError('CERTGATE_POOL_CLOSED', 'the app is no longer served'));
      return;
    }
    // First in its client's line: it was already sent once. Never on an idle (maybe stale) connection.
    this.#enqueue(client, exchange, true);
  }

  connected(connection: UpstreamConnection): void {
    this.#connecting.delete(connection);
    this.release(connection);
  }

  connectFailed(connection: UpstreamConnection, error: Error): void {
    this.#connecting.delete(connection);
    // The app is not reachable: the requests waiting for this connection learn it now (a queue
    // longer than the connections being opened keeps its surplus for those).
    let failing = this.#connecting.size === 0 ? this.#queued : Math.max(1, this.#ready - this.#connecting.size);
    while (failing-- > 0 && this.#ring.length > 0) {
      if (this.#cursor >= this.#ring.length) this.#cursor = 0;
      const exchange = this.#ring[this.#cursor]!.queue[0]!;
      this.dequeue(exchange);
      exchange.fail(error);
    }
  }

  /** A connected connection is free: give it the next waiting request in turn, or keep it idle. */
  release(connection: UpstreamConnection): void {
    if (!connection.idle) return;
    this.#unassign(connection);
    const next = this.#next();
    if (next !== undefined) {
      this.#assign(next.client, connection, next.exchange);
      return;
    }
    if (this.#closed) {
      connection.destroy();
      return;
    }
    // An idle connection does not keep the process alive.
    connection.socket.unref();
    this.#idle.push(connection);
  }

  forget(connection: UpstreamConnection): void {
    this.#all.delete(connection);
    const wasConnecting = this.#connecting.delete(connection);
    const index = this.#idle.indexOf(connection);
    if (index !== -1) this.#idle.splice(index, 1);
    this.#unassign(connection);
    // A connection in use closed (finished, aborted, expired): its place goes to waiting work at
    // once. One that failed to connect does not: connectFailed tells the waiting requests.
    if (!wasConnecting) this.#grow();
  }

  /** Stops taking requests; idle connections close now, busy ones after their exchange. */
  close(): void {
    this.#closed = true;
    while (this.#ring.length > 0) {
      const exchange = this.#ring[0]!.queue[0]!;
      this.dequeue(exchange);
      exchange.fail(new UpstreamError('CERTGATE_POOL_CLOSED', 'the app is no longer served'));
    }
    for (const connection of [...this.#idle]) connection.destroy();
    if (this.#all.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}
