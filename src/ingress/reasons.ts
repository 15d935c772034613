// The one catalog of the ingress's reason codes: why a request was answered with an error, or why
// a connection was closed. Codes are stable lower_snake_case strings, logged as `reason` (the human
// message is a separate field) and appended to short plain-text bodies as `(reason)`, so later
// metrics can count them. docs/ingress.md "Reason codes" lists each one (a test checks both ways).
import { defineCatalog, type CatalogEntry } from '../model/error-catalog.ts';
import { ERROR_CODES, type AuthErrorCode, type VerifyErrorCode } from '../app-auth/codes.ts';

const BASE_REASONS = defineCatalog({
  // Requests: the status the client gets.
  bad_host: { status: 400, meaning: 'the request has no valid Host (or :authority)' },
  authority_mismatch: { status: 400, meaning: 'an HTTP/2 request whose :authority and Host name different hosts' },
  bad_request_target: { status: 400, meaning: 'the request target is neither origin nor absolute form, names no valid host, or is `*` without OPTIONS' },
  bad_request: { status: 400, meaning: 'the request cannot be forwarded as it is (invalid method or header, CONNECT, a body longer or shorter than its Content-Length)' },
  malformed_request: { status: 400, meaning: 'HTTP/1.1 request that does not parse; the connection is closed (the parser code is logged as `cause`)' },
  https_required: { status: 400, meaning: 'a WebSocket upgrade on the plain-HTTP port for an app that does not allow insecure access' },
  missing_upgrade: { status: 400, meaning: 'an upgrade request without an Upgrade header' },
  ip_forbidden: { status: 403, meaning: "the client's address is refused by the app's IP restrictions: 403 over HTTP, a TLS access_denied alert before the handshake" },
  no_app: { status: 404, meaning: 'no app is served at the host the request names' },
  no_app_in_environment: { status: 404, meaning: "the host is one label under an environment's domain (default domain or dnsSuffix) and no app of that name is served there: the environment's wildcard certificate answered the handshake" },
  request_head_timeout: { status: 408, meaning: 'the request head did not arrive in time (HTTP/1.1); the connection is closed' },
  request_body_timeout: { status: 408, meaning: 'the request body did not arrive in time (too slow on the whole, or idle too long)' },
  expectation_unsupported: { status: 417, meaning: 'an Expect header other than 100-continue (HTTP/2)' },
  sni_required: { status: 421, meaning: 'the host is served only to TLS connections that name it (SNI), and this one did not' },
  tls_policy_changed: { status: 421, meaning: "the host's TLS policy changed since the connection was made; the client must reconnect" },
  misdirected_connection: { status: 421, meaning: 'the connection was made (SNI) for another host than the request names' },
  misdirected_target: { status: 421, meaning: 'an absolute-form target names another host than the request' },
  request_head_too_large: { status: 431, meaning: 'the request head is larger than the HTTP/1.1 parser allows; the connection is closed' },
  internal_error: { status: 500, meaning: 'a bug in certgate (the connection state is missing); nothing was forwarded' },
  app_error: { status: 502, meaning: 'the app closed the connection, reset it, or sent an invalid or unexpected response' },
  app_body_timeout: { status: 502, meaning: "the app paused its answer's body longer than the body timeout (the answer is cut short)" },
  upgrade_refused: { status: 502, meaning: 'the app answered a WebSocket upgrade with something other than 101' },
  client_aborted: { status: 502, meaning: 'the client stopped sending the request body; the request to the app is abandoned' },
  app_unavailable: { status: 503, meaning: 'the app cannot be reached (connection refused, host unknown or unreachable) or has no targetPort' },
  app_connect_timeout: { status: 503, meaning: 'no connection to the app within the connect timeout' },
  too_many_headers: { status: 431, meaning: "the request has more header fields than the environment's headerCountLimit" },
  tcp_connection_limit: { status: undefined, meaning: 'a TCP port has its maximum of open connections: the new one is closed at once' },
  tcp_client_limit: { status: undefined, meaning: 'this client address has its maximum of open connections on a TCP port: the new one is closed at once' },
  tcp_app_unavailable: { status: undefined, meaning: "a TCP app's target port cannot be reached: the client's connection is closed" },
  client_write_timeout: { status: undefined, meaning: "the client did not read the answer for the client write timeout: the answer is cut (HTTP/1.1 connection closed, HTTP/2 stream reset) and the app's connection freed" },
  websocket_tunnels_full: { status: 503, meaning: 'the app has its maximum of WebSocket tunnels (per worker): the upgrade is refused' },
  websocket_client_tunnels_full: { status: 503, meaning: 'this client address has its maximum of WebSocket tunnels to the app: the upgrade is refused' },
  websocket_handshake_timeout: { status: 504, meaning: 'the app did not answer a WebSocket upgrade (101) within the handshake deadline' },
  websocket_idle_timeout: { status: undefined, meaning: 'a WebSocket tunnel carried no byte either way for the idle timeout: both connections are closed' },
  queue_full: { status: 503, meaning: "the app's queue of waiting requests is full (or this client connection has its fair share in it)" },
  queue_timeout: { status: 503, meaning: 'the request waited in the queue longer than the queue timeout' },
  app_timeout: { status: 504, meaning: 'the app did not answer (its response head) within the response timeout' },
  // Connections closed: nothing is answered.
  clienthello_timeout: { status: undefined, meaning: 'the ClientHello did not arrive within the ClientHello timeout' },
  clienthello_too_large: { status: undefined, meaning: 'the ClientHello is larger than the ClientHello size bound' },
  clienthello_malformed: { status: undefined, meaning: 'the ClientHello (or a record carrying it) does not parse, or is spread over too many records' },
  not_tls: { status: undefined, meaning: 'the first bytes on the HTTPS port are not a TLS handshake' },
  plain_http: { status: undefined, meaning: 'plain HTTP sent to the HTTPS port' },
  sslv2_hello: { status: undefined, meaning: 'an SSLv2-style ClientHello (never supported)' },
  client_socket_error: { status: undefined, meaning: 'the socket failed before TLS started (the system code is logged as `cause`)' },
  handshake_timeout: { status: undefined, meaning: 'the TLS handshake did not finish within the handshake timeout' },
  handshake_failed: { status: undefined, meaning: "the TLS handshake failed for another reason than those below (OpenSSL's code is logged as `cause`)" },
  h2_rapid_reset: { status: undefined, meaning: 'an HTTP/2 client reset too many streams before their answer: GOAWAY ENHANCE_YOUR_CALM, then the connection closes' },
  h2_control_flood: { status: undefined, meaning: 'an HTTP/2 client sent too many PING or SETTINGS frames: GOAWAY ENHANCE_YOUR_CALM' },
  tunnel_not_admitted: { status: undefined, meaning: 'an open WebSocket tunnel that a configuration change no longer admits (IP rules, internal app, mode) is closed' },
  h2_session_error: { status: undefined, meaning: "the HTTP/2 session failed (a protocol error, a flood Node's limits stop); Node's code is logged as `cause`" },
  proxy_protocol_untrusted_source: { status: undefined, meaning: 'a connection to a PROXY-protocol listener from a source that is not trusted' },
  proxy_protocol_timeout: { status: undefined, meaning: 'the PROXY protocol header did not arrive in time' },
  proxy_protocol_missing: { status: undefined, meaning: 'the connection does not start with a PROXY protocol signature' },
  proxy_protocol_too_long: { status: undefined, meaning: 'the PROXY protocol header is longer than its bound' },
  proxy_protocol_v1_too_long: { status: undefined, meaning: 'a PROXY v1 line longer than 107 bytes' },
  proxy_protocol_v1_malformed: { status: undefined, meaning: 'a PROXY v1 line that does not parse (only TCP4 and TCP6 are accepted)' },
  proxy_protocol_v2_bad_version: { status: undefined, meaning: 'a PROXY v2 header with a version other than 2' },
  proxy_protocol_v2_bad_command: { status: undefined, meaning: 'a PROXY v2 header whose command is not PROXY' },
  proxy_protocol_v2_not_stream: { status: undefined, meaning: 'a PROXY v2 header for a transport other than a stream (TCP)' },
  proxy_protocol_v2_short_address: { status: undefined, meaning: 'a PROXY v2 header whose address block is too short for its family' },
  proxy_protocol_v2_bad_family: { status: undefined, meaning: 'a PROXY v2 header with an address family other than IPv4 or IPv6' },
  proxy_protocol_socket_error: { status: undefined, meaning: 'the socket failed while the PROXY protocol header was read' },
});

/**
 * A verification refusal's reason is the app library's code (app-auth/codes.ts) in lower case: one
 * vocabulary at the edge and in the app. Every one is answered 403 (500 for internal_error's kin).
 */
export const VERIFICATION_REASONS = defineCatalog(
  Object.fromEntries(
    (Object.keys(ERROR_CODES) as AuthErrorCode[])
      .filter((code): code is VerifyErrorCode => code !== 'UNTRUSTED_PROXY' && code !== 'INTERNAL_ERROR')
      .map((code) => [
        code.toLowerCase(),
        code === 'CERT_MISSING'
          ? { status: 401, meaning: 'no client certificate: for an app with clientCertificateMode `require` the handshake fails (certificate_required alert, no HTTP answer; OpenSSL\'s code is logged as `cause`); on a path the app requires a verified certificate for (clientCertificateVerifiedPaths), 401' }
          : { status: 403, meaning: `the app's client-certificate verification refused the certificate: ${code} (docs/app-library.md)` },
      ]),
  ) as Record<Lowercase<Exclude<VerifyErrorCode, 'INTERNAL_ERROR'>>, CatalogEntry>,
);

export type VerificationReason = keyof typeof VERIFICATION_REASONS;

export const INGRESS_REASONS = Object.freeze({ ...BASE_REASONS, ...VERIFICATION_REASONS });

export type IngressReason = keyof typeof INGRESS_REASONS;

/** Every reason the PROXY-protocol stage can close a connection with. */
export type ProxyProtocolReason = Extract<IngressReason, `proxy_protocol_${string}`>;

/**
 * The codes of errors on the way to the app and the reason each is answered with: certgate's
 * upstream client (UpstreamError, ResponseParseError), the system's socket errors, and undici's
 * timeout codes (kept for callers that use undici). An unknown code is `app_error`.
 */
const UPSTREAM_ERROR_REASONS = {
  CERTGATE_BAD_REQUEST: 'bad_request',
  CERTGATE_CLIENT_ABORTED: 'client_aborted',
  CERTGATE_REQUEST_BODY_TIMEOUT: 'request_body_timeout',
  CERTGATE_CLIENT_WRITE_TIMEOUT: 'client_write_timeout',
  CERTGATE_QUEUE_FULL: 'queue_full',
  CERTGATE_QUEUE_TIMEOUT: 'queue_timeout',
  CERTGATE_CONNECT_TIMEOUT: 'app_connect_timeout',
  CERTGATE_CONNECT_FAILED: 'app_error',
  CERTGATE_RESPONSE_TIMEOUT: 'app_timeout',
  CERTGATE_BODY_TIMEOUT: 'app_body_timeout',
  CERTGATE_POOL_CLOSED: 'app_error',
  CERTGATE_BAD_RESPONSE: 'app_error',
  CERTGATE_UPSTREAM_RESET: 'app_error',
  ECONNREFUSED: 'app_unavailable',
  EHOSTUNREACH: 'app_unavailable',
  ENETUNREACH: 'app_unavailable',
  EADDRNOTAVAIL: 'app_unavailable',
  ENOTFOUND: 'app_unavailable',
  EAI_AGAIN: 'app_unavailable',
  UND_ERR_CONNECT_TIMEOUT: 'app_connect_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'app_timeout',
} as const satisfies Readonly<Record<string, IngressReason>>;

/** The codes certgate's upstream client gives its errors. */
export type UpstreamErrorCode = Extract<keyof typeof UPSTREAM_ERROR_REASONS, `CERTGATE_${string}`>;

export type RequestFailure = { readonly status: number; readonly reason: IngressReason };

/** How a failure to reach the app is answered. */
export function upstreamFailure(error: unknown): RequestFailure {
  const code = (error as { code?: string } | undefined)?.code;
  const reason: IngressReason = (code !== undefined && Object.hasOwn(UPSTREAM_ERROR_REASONS, code) ? UPSTREAM_ERROR_REASONS[code as keyof typeof UPSTREAM_ERROR_REASONS] : undefined) ?? 'app_error';
  return { status: INGRESS_REASONS[reason].status ?? 502, reason };
}

/** OpenSSL's codes for a handshake the client's missing certificate failed (TLS 1.3 and 1.2). */
const NO_CERTIFICATE_CODES = new Set(['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'ERR_SSL_NO_CERTIFICATE_RETURNED']);

/** The reason a failed TLS handshake is counted and logged under, from OpenSSL's code. */
export function handshakeFailureReason(cause: string): IngressReason {
  return NO_CERTIFICATE_CODES.has(cause) ? 'cert_missing' : 'handshake_failed';
}

/** The status a request-answering reason has (all but the close reasons have one). */
export function reasonStatus(reason: IngressReason): number {
  return INGRESS_REASONS[reason].status ?? 500;
}
