// Lingering close after a failed TLS handshake, so the client reads the alert that says why.
//
// A TLS 1.3 client finishes its side of the handshake before the server has checked its
// certificate and sends its first request at once. When the server then fails the handshake
// (`require` and no certificate: alert 116) and closes the socket with that request still unread,
// the kernel answers with RST instead of FIN, and the client's kernel may drop the alert before the
// client reads it: curl then says `getpeername() failed` or `Connection reset by peer` instead of
// `alert certificate required`. As nginx does (lingering_close), the write side is shut down after
// the alert and whatever the client still sends is read and discarded, for a bounded time and byte
// count, before the socket is closed. A client that closes first ends the wait at once.
import type net from 'node:net';
import type tls from 'node:tls';

export interface LingerLimits {
  /** Longest wait for the client to close after the alert. */
  readonly ms: number;
  /** Most bytes read and discarded before closing anyway. */
  readonly bytes: number;
}

export const DEFAULT_LINGER: LingerLimits = Object.freeze({ ms: 2_000, bytes: 64 * 1024 });

/** How often lingering sockets are checked against their bounds (one timer for all of them). */
const SWEEP_MS = 100;

interface Lingering {
  readonly raw: net.Socket;
  /** Closed once it has read more than this (bytesRead of the raw socket). */
  readonly byteLimit: number;
  readonly deadline: number;
  readonly finish: () => void;
}

/**
 * The lingering closes of one ingress: its sockets waiting for their clients to read the alert,
 * checked by one timer while any wait (never shared with another ingress in the process).
 */
export class LingeringCloses {
  readonly #limits: LingerLimits;
  readonly #entries = new Set<Lingering>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(limits: LingerLimits = DEFAULT_LINGER) {
    this.#limits = limits;
  }

  /** Sockets lingering now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Makes the handshake failure of `tlsSocket` (Node destroys it with the error) a lingering close
   * of `raw`, its TCP socket. Other destroys (timeouts, resets, shutdown, after the handshake) are
   * immediate.
   * @param onFailure told of the handshake error once, when the linger starts
   */
  onHandshakeFailure(tlsSocket: tls.TLSSocket, raw: net.Socket, onFailure: (error: Error) => void): void {
    const entries = this.#entries;
    const limits = this.#limits;
    const destroyNow = tlsSocket.destroy;
    /** Set while lingering: closes for real (any later destroy call also ends the linger). */
    let finish: (() => void) | undefined;
    const start = (entry: Lingering) => {
      entries.add(entry);
      this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS).unref();
    };
    tlsSocket.destroy = function (this: tls.TLSSocket, error?: Error) {
      if (finish !== undefined) {
        finish();
        return this;
      }
      // Only a TLS failure before `secure` (Node's handshake-error path, OpenSSL's ERR_SSL_* codes)
      // sent an alert worth lingering for; a reset or a timeout closes at once.
      const established = (this as unknown as { _secureEstablished: boolean })._secureEstablished;
      if (established || !isTlsError(error)) return destroyNow.call(this, error ?? undefined);
      onFailure(error);
      const entry: Lingering = {
        raw,
        byteLimit: raw.bytesRead + limits.bytes,
        deadline: Date.now() + limits.ms,
        finish: () => {
          if (!entries.delete(entry)) return;
          destroyNow.call(tlsSocket);
        },
      };
      finish = entry.finish;
      start(entry);
      // The alert is already written; FIN follows it once it has left (uv_shutdown waits for writes).
      // The raw socket's own errors are of no interest any more: it is closed at the end regardless.
      raw.on('error', () => {});
      raw.end();
      // The TLS layer keeps reading from the TCP socket (and discarding what it cannot decrypt); its
      // end-of-stream is the client's FIN: the client has read the alert and closed.
      tlsSocket.once('end', entry.finish);
      tlsSocket.resume();
      return this;
    } as typeof tlsSocket.destroy;
  }

  #sweep(): void {
    const now = Date.now();
    for (const entry of this.#entries) if (now >= entry.deadline || entry.raw.bytesRead > entry.byteLimit) entry.finish();
    if (this.#entries.size === 0) this.#stopSweeping();
  }

  #stopSweeping(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  /** Shutdown: every lingering socket is closed now. */
  close(): void {
    for (const entry of [...this.#entries]) entry.finish();
    this.#stopSweeping();
  }
}

function isTlsError(error: Error | null | undefined): error is Error {
  const code = (error as NodeJS.ErrnoException | null | undefined)?.code;
  return typeof code === 'string' && code.startsWith('ERR_SSL_');
}
