// Idle HTTP/1.1 client connections (TLS and plain) are closed after the keep-alive time. One sweep
// over the open connections every second replaces Node's own keepAliveTimeout, which re-arms a
// socket timer twice per request (with the upstream's timers, ~5% of a proxied request's CPU;
// docs/performance.md). HTTP/2 sessions keep Node's session timeout.
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';

/** Told when a response closed (a RequestRecord). */
export interface ResponseEnd {
  closed(now: number): void;
}

interface Activity {
  /** Requests whose response has not closed yet. */
  inFlight: number;
  /** performance.now() when the connection last became idle (or was accepted). */
  idleSince: number;
}

export class KeepAliveSweeper {
  readonly #idleMs: number;
  readonly #sweepMs: number;
  readonly #connections = new Map<Duplex, Activity>();
  #timer: NodeJS.Timeout | undefined;

  constructor(idleMs: number) {
    this.#idleMs = idleMs;
    // A connection closes between idleMs and idleMs plus a quarter of it (at most a second) late.
    this.#sweepMs = Math.max(10, Math.min(1_000, Math.floor(idleMs / 4)));
  }

  /** A new HTTP/1.1 connection: idle from now until its first request. */
  add(socket: Duplex): void {
    this.#connections.set(socket, { inFlight: 0, idleSince: performance.now() });
    socket.once('close', () => this.#connections.delete(socket));
    this.#timer ??= setInterval(() => this.#sweep(), this.#sweepMs).unref();
  }

  /**
   * A request arrived on the connection; it is busy until the response closes. `ended`, when the
   * request is followed (src/observe/), is told at that same close, with the same clock reading:
   * the observed path adds no listener of its own.
   */
  requestStarted(socket: Duplex, response: { once(event: 'close', listener: () => void): unknown }, ended?: ResponseEnd): void {
    const activity = this.#connections.get(socket);
    if (activity === undefined) {
      if (ended !== undefined) response.once('close', () => ended.closed(performance.now()));
      return;
    }
    activity.inFlight++;
    response.once('close', () => {
      activity.inFlight--;
      const now = performance.now();
      activity.idleSince = now;
      ended?.closed(now);
    });
  }

  /** The connection is no longer HTTP (a WebSocket tunnel): its life is the tunnel's. */
  forget(socket: Duplex): void {
    this.#connections.delete(socket);
  }

  #sweep(): void {
    const limit = performance.now() - this.#idleMs;
    for (const [socket, activity] of this.#connections) {
      if (activity.inFlight === 0 && activity.idleSince < limit) {
        this.#connections.delete(socket);
        socket.destroy();
      }
    }
    if (this.#connections.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
