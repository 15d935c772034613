// The HTTP/2 server, on Node's core stream API ('stream' events, no compatibility objects), and the
// bounds on what one session may make the ingress do: concurrent streams (advertised in SETTINGS),
// streams the client resets before their answer (CVE-2023-44487, rapid reset), memory, refused
// streams and invalid frames.
import { performance } from 'node:perf_hooks';
import { MAX_HEADER_COUNT_LIMIT } from '../../model/ingress.ts';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { IngressObserver } from '../../observe/observer.ts';
import { connectionState, type ConnectionState } from '../listener/connection.ts';
import { ResetWindow } from './http2-reset-window.ts';
import { Http2Sink } from './response-sink.ts';

export interface Http2Limits {
  /**
   * SETTINGS_MAX_CONCURRENT_STREAMS: streams one session may have open at once; nghttp2 refuses
   * more with RST_STREAM REFUSED_STREAM. Stops one connection from holding every upstream
   * connection of an app with thousands of streams.
   */
  readonly maxConcurrentStreams: number;
  /** Streams the client may reset before their answer was complete, per session in `resetWindowMs`; more: GOAWAY ENHANCE_YOUR_CALM. */
  readonly maxPrematureResets: number;
  readonly resetWindowMs: number;
  /** nghttp2's memory per session (header tables, queued frames), in MB; past it new streams are refused. */
  readonly maxSessionMemoryMb: number;
  /** Streams refused (over the concurrency bound) before the session is closed with ENHANCE_YOUR_CALM. */
  readonly maxRejectedStreams: number;
  /** Invalid frames before the session is closed. */
  readonly maxInvalidFrames: number;
  /** Header fields per request, pseudo-headers included. */
  readonly maxHeaderListPairs: number;
  /**
   * PING frames, and SETTINGS frames, the client may send per session in `controlWindowMs` (each
   * kind counted apart); more: GOAWAY ENHANCE_YOUR_CALM (h2_control_flood). Each costs the ingress
   * an answer (PING ACK, SETTINGS ACK) and nghttp2 work while no request is made.
   */
  readonly maxControlFrames: number;
  readonly controlWindowMs: number;
}

export const DEFAULT_HTTP2_LIMITS: Http2Limits = Object.freeze({
  maxConcurrentStreams: 100,
  maxPrematureResets: 100,
  resetWindowMs: 10_000,
  maxSessionMemoryMb: 10,
  maxRejectedStreams: 100,
  maxInvalidFrames: 100,
  // The environment's headerCountLimit (up to 1,000, checked per request: 431) must be reachable;
  // the bytes stay bounded by nghttp2's header-list size (64 KiB).
  maxHeaderListPairs: MAX_HEADER_COUNT_LIMIT + 8,
  // A browser sends a few SETTINGS and an occasional PING; gRPC keepalives and BDP probes stay far
  // below 10 a second. Floods sent hundreds of thousands in seconds.
  maxControlFrames: 100,
  controlWindowMs: 10_000,
});

/** A request stream, admitted and forwarded by the HTTP stage (http.ts). */
export type StreamHandler = (
  sink: Http2Sink,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
  connection: ConnectionState | undefined,
) => void;

const { NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/**
 * Per session: its connection state (read once), its reset window, and the streams that arrived in
 * the current read. Streams are forwarded on the next turn of the event loop, after every frame of
 * the read has been processed: a stream the same read already reset (the rapid-reset pattern,
 * HEADERS then RST_STREAM) never reaches the app.
 */
class SessionGuard {
  readonly session: http2.ServerHttp2Session;
  readonly connection: ConnectionState | undefined;
  readonly #resets: ResetWindow;
  readonly #limits: Http2Limits;
  readonly #log: Logger;
  readonly #handle: StreamHandler;
  /** sink, headers, rawHeaders, ... for the streams waiting for the next turn. */
  #pending: unknown[] = [];
  readonly onReset = () => this.#onReset();
  /** Closed by #onReset (already logged with its reason). */
  closedForAbuse = false;

  readonly #observer: Pick<IngressObserver, 'refusal'> | undefined;

  constructor(session: http2.ServerHttp2Session, limits: Http2Limits, log: Logger, handle: StreamHandler, observer?: Pick<IngressObserver, 'refusal'>) {
    this.session = session;
    this.#observer = observer;
    this.connection = connectionState(session.socket as Socket);
    this.#resets = new ResetWindow(limits.maxPrematureResets, limits.resetWindowMs);
    this.#limits = limits;
    this.#log = log;
    this.#handle = handle;
    // Node exposes received PINGs and SETTINGS (not WINDOW_UPDATE: see docs/ingress.md).
    const pings = new ResetWindow(limits.maxControlFrames, limits.controlWindowMs);
    const settings = new ResetWindow(limits.maxControlFrames, limits.controlWindowMs);
    session.on('ping', () => {
      if (pings.record(performance.now())) this.#closeForControlFlood('PING');
    });
    session.on('remoteSettings', () => {
      if (settings.record(performance.now())) this.#closeForControlFlood('SETTINGS');
    });
  }

  #closeForControlFlood(frame: string): void {
    if (this.session.destroyed || this.closedForAbuse) return;
    this.#log.warn(
      { client: this.connection?.clientAddress, reason: 'h2_control_flood', frame, limit: this.#limits.maxControlFrames, windowMs: this.#limits.controlWindowMs },
      'HTTP/2 session closed: the client sent too many control frames',
    );
    this.closedForAbuse = true;
    this.#refused('h2_control_flood');
    this.session.destroy(new Error('h2_control_flood'), NGHTTP2_ENHANCE_YOUR_CALM);
  }

  add(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, rawHeaders: string[]): void {
    const sink = new Http2Sink(stream, this.onReset);
    if (this.#pending.length === 0) setImmediate(() => this.#flush());
    this.#pending.push(sink, headers, rawHeaders);
  }

  #flush(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (let i = 0; i < pending.length; i += 3) {
      const sink = pending[i] as Http2Sink;
      // Reset (or the session closed) before it was forwarded: nothing to do.
      if (sink.gone) continue;
      this.#handle(sink, pending[i + 1] as http2.IncomingHttpHeaders, pending[i + 2] as string[], this.connection);
    }
  }

  #refused(reason: 'h2_control_flood' | 'h2_rapid_reset'): void {
    const connection = this.connection;
    this.#observer?.refusal({ reason, clientAddress: connection?.clientAddress ?? '', app: connection?.route?.app, servername: connection?.servername, verdict: connection?.verdict, tlsVersion: connection?.tlsVersion });
  }

  #onReset(): void {
    if (!this.#resets.record(performance.now())) return;
    if (this.session.destroyed || this.closedForAbuse) return;
    this.#log.warn(
      {
        client: this.connection?.clientAddress,
        reason: 'h2_rapid_reset',
        limit: this.#limits.maxPrematureResets,
        windowMs: this.#limits.resetWindowMs,
      },
      'HTTP/2 session closed: the client reset too many streams before their answer',
    );
    // GOAWAY ENHANCE_YOUR_CALM, then the connection closes; the streams still open are dropped.
    // (nghttp2 still parses the rest of the current read; those streams are never forwarded.)
    this.closedForAbuse = true;
    this.#refused('h2_rapid_reset');
    // (With an error: destroy(undefined, code) sends NO_ERROR, its first parameter defaulting to 0.)
    this.session.destroy(new Error('h2_rapid_reset'), NGHTTP2_ENHANCE_YOUR_CALM);
  }
}

export function createHttp2Server(limits: Http2Limits, keepAliveTimeoutMs: number, log: Logger, handle: StreamHandler, observer?: Pick<IngressObserver, 'refusal'>) {
  const server = http2.createServer({
    settings: { enableConnectProtocol: false, maxConcurrentStreams: limits.maxConcurrentStreams },
    maxSessionMemory: limits.maxSessionMemoryMb,
    // A client refused past the stream bound this often (Node's default, stated), or sending this
    // many invalid frames (Node's default is 1,000), is closed: floods that cost nghttp2 work.
    maxSessionRejectedStreams: limits.maxRejectedStreams,
    maxSessionInvalidFrames: limits.maxInvalidFrames,
    maxHeaderListPairs: limits.maxHeaderListPairs,
    // SETTINGS entries per frame, and unanswered PINGs and SETTINGS (SETTINGS and PING floods).
    maxSettings: 32,
    maxOutstandingPings: 10,
  });
  // Idle HTTP/2 sessions close after the keep-alive time, as HTTP/1.1 connections do.
  // (Without a 'timeout' listener Node destroys the session abruptly.)
  server.setTimeout(keepAliveTimeoutMs);
  server.on('timeout', (session: http2.ServerHttp2Session) => session.close());
  const guards = new WeakMap<http2.ServerHttp2Session, SessionGuard>();
  server.on('sessionError', (error, session: http2.ServerHttp2Session) => {
    if (!guards.get(session)?.closedForAbuse) log.info({ err: error, reason: 'h2_session_error', cause: (error as NodeJS.ErrnoException).code ?? error.message }, 'HTTP/2 session error');
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    guards.set(session, new SessionGuard(session, limits, log, handle, observer));
    session.once('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers, _flags, rawHeaders: string[]) => {
    guards.get(stream.session as http2.ServerHttp2Session)!.add(stream, headers, rawHeaders);
  });
  return { server, sessions };
}
