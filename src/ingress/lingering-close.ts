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

/** How often the byte bound is checked while lingering. */
const POLL_MS = 50;

/**
 * Makes the handshake failure of `tlsSocket` (Node destroys it with the error) a lingering close
 * of `raw`, its TCP socket. Other destroys (timeouts, shutdown, after the handshake) are immediate.
 * @param onFailure told of the handshake error once, when the linger starts
 */
export function lingerOnHandshakeFailure(
  tlsSocket: tls.TLSSocket,
  raw: net.Socket,
  limits: LingerLimits,
  onFailure: (error: Error) => void,
): void {
  const destroyNow = tlsSocket.destroy;
  /** Set while lingering: closes for real (any later destroy call also ends the linger). */
  let finish: (() => void) | undefined;
  tlsSocket.destroy = function (this: tls.TLSSocket, error?: Error) {
    const established = (this as unknown as { _secureEstablished: boolean })._secureEstablished;
    // Node's own handshake-error path is the only one that passes an error before `secure`.
    if (finish !== undefined || error === undefined || error === null || established) {
      if (finish !== undefined) {
        finish();
        return this;
      }
      return destroyNow.call(this, error ?? undefined);
    }
    onFailure(error);
    const startBytes = raw.bytesRead;
    let closed = false;
    finish = () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      destroyNow.call(tlsSocket);
    };
    const timer = setTimeout(finish, limits.ms);
    const poll = setInterval(() => {
      if (raw.bytesRead - startBytes > limits.bytes) finish!();
    }, POLL_MS);
    // The alert is already written; FIN follows it once it has left (uv_shutdown waits for writes).
    raw.end();
    // The TLS layer keeps reading from the TCP socket (and discarding what it cannot decrypt); its
    // end-of-stream is the client's FIN: the client has read the alert and closed.
    tlsSocket.once('end', finish);
    tlsSocket.resume();
    return this;
  } as typeof tlsSocket.destroy;
}
