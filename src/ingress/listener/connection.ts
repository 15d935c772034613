// Per-connection state, set once when the TLS handshake completes and read by every request on the
// connection (HTTP/1.1 keep-alive or HTTP/2 streams).
import type { Socket } from 'node:net';
import type { ListenerKind, Route } from '../snapshot.ts';
import type { ConnectionVerdict } from '../verify/verdicts.ts';

export interface ConnectionState {
  /** The SNI name, lower-cased; undefined when the client sent none. */
  readonly servername: string | undefined;
  /** The app route the SNI chose; undefined when the connection is under no app's policy. */
  readonly route: Route | undefined;
  /**
   * X-Forwarded-Client-Cert for every request of this connection, decided once at the handshake
   * (client-certificate.ts): undefined when the app's mode is ignore or the client sent no
   * certificate, and always on plain HTTP. Written by the upstream request writer only.
   */
  readonly clientCertificate: string | undefined;
  /** The client's address: the socket's, or the one a trusted PROXY-protocol header named. */
  readonly clientAddress: string;
  readonly proto: 'http' | 'https';
  /** The listener the connection came in on; undefined means external. */
  readonly listener?: ListenerKind;
  /**
   * The client certificate's verdict, decided once after the handshake (verify/verdicts.ts): `OK`,
   * `NONE` (no certificate), `UNVERIFIED` (the app verifies nothing) or an app library code; read
   * by the access log, the metrics and the inventory too.
   */
  readonly verdict?: ConnectionVerdict;
  /** Headers every request of the connection carries: a verifying app's verdict, RFC 9440's (clientCertificateForwarding); undefined for none. */
  readonly verdictHeaders?: readonly string[] | undefined;
  /** The app's verification refused this certificate: no request of the connection reaches the app. */
  readonly verificationRefused?: boolean;
  /** TLS only: the protocol version (`TLSv1.3`) and whether the session was resumed. */
  readonly tlsVersion?: string | undefined;
  readonly resumed?: boolean;
}

const STATE = Symbol('certgate.connection');

export function attachConnectionState(socket: Socket, state: ConnectionState): void {
  (socket as unknown as Record<symbol, ConnectionState>)[STATE] = state;
}

/** Works on the HTTP/2 session's socket proxy too: it forwards property reads to the TLS socket. */
export function connectionState(socket: Socket): ConnectionState | undefined {
  return (socket as unknown as Record<symbol, ConnectionState | undefined>)[STATE];
}
