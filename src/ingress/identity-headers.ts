// Request headers that carry a client certificate or an authenticated identity in one proxy or
// cloud or another (pure data). Apps, frameworks and certgate's own app library may read any of
// them, so a client must never be able to supply one: all are removed in every mode, and only the
// ingress sets X-Forwarded-Client-Cert (Envoy's SANITIZE_SET). Names are lower-case and compared
// after `_` is folded into `-` (see foldHeaderName): CGI, WSGI, PHP and Rack read `X_SSL_Cert` and
// `X-SSL-Cert` as the same variable. Keep docs/ingress.md ("Identity headers") in step.

/** Exact names, grouped by the product that sets them. */
export const IDENTITY_HEADER_NAMES: ReadonlySet<string> = new Set([
  // Envoy, Istio, Azure Container Apps, certgate: the certificate and chain (XFCC).
  'x-forwarded-client-cert',
  // RFC 9440 (Client-Cert, Client-Cert-Chain), as set by Cloudflare, Fastly and others.
  'client-cert',
  'client-cert-chain',
  // Traefik's passTLSClientCert middleware.
  'x-forwarded-tls-client-cert',
  'x-forwarded-tls-client-cert-info',
  // HAProxy and nginx configuration conventions (ssl_c_* / $ssl_client_*), and F5 iRules.
  'x-ssl-cert',
  'x-ssl-client-cert',
  'x-ssl-client-verify',
  'x-ssl-client-s-dn',
  'x-ssl-client-i-dn',
  'x-ssl-client-dn',
  'x-ssl-client-cn',
  'x-ssl-client-serial',
  'x-ssl-client-fingerprint',
  'x-ssl-client-sha1',
  'x-ssl-client-notbefore',
  'x-ssl-client-notafter',
  'x-ssl-subject',
  'x-ssl-issuer',
  'x-ssl-verify',
  'x-client-verify',
  'x-client-dn',
  'x-client-s-dn',
  'x-client-i-dn',
  'x-client-cert',
  'x-client-certificate',
  // Caddy and Kong configuration conventions ({http.request.tls.client.*}).
  'x-tls-client-cert',
  'x-tls-client-subject',
  'x-tls-client-issuer',
  'x-tls-client-fingerprint',
  'x-tls-client-serial',
  // Apache mod_ssl variables forwarded as headers (SSL_CLIENT_CERT, SSL_CLIENT_S_DN, ...), folded.
  'ssl-client-cert',
  'ssl-client-verify',
  'ssl-client-s-dn',
  'ssl-client-i-dn',
  // Azure App Service: the client certificate (ARR) and Easy Auth's authenticated principal.
  'x-arr-clientcert',
  'x-ms-client-principal',
  'x-ms-client-principal-name',
  'x-ms-client-principal-id',
  'x-ms-client-principal-idp',
  // AWS Application Load Balancer mutual TLS (passthrough and verify modes).
  'x-amzn-mtls-clientcert',
  'x-amzn-mtls-clientcert-leaf',
  'x-amzn-mtls-clientcert-serial-number',
  'x-amzn-mtls-clientcert-issuer',
  'x-amzn-mtls-clientcert-subject',
  'x-amzn-mtls-clientcert-validity',
  // Google Cloud IAP and Cloud Run: the authenticated user and its signed assertion.
  'x-goog-authenticated-user-email',
  'x-goog-authenticated-user-id',
  'x-goog-iap-jwt-assertion',
]);

/**
 * Name prefixes of families whose members vary (user-named mTLS headers of Google Cloud load
 * balancers, Cloudflare's, Apache's, IAP's): any header starting with one is removed too.
 */
export const IDENTITY_HEADER_PREFIXES: readonly string[] = Object.freeze([
  // Google Cloud load balancer mTLS custom headers as documented (X-Client-Cert-Present, -Hash, ...).
  'x-client-cert-',
  // Cloudflare API Shield / Access (Cf-Client-Cert-Der-Base64, Cf-Client-Cert-Sha256).
  'cf-client-cert-',
  // Apache mod_ssl SSL_CLIENT_* forwarded as headers.
  'ssl-client-',
  // HAProxy/nginx conventions beyond the names above.
  'x-ssl-client-',
  // Google Cloud IAP.
  'x-goog-authenticated-user-',
  // AWS ALB mTLS headers added later.
  'x-amzn-mtls-',
]);

/**
 * A header name as apps may read it: lower case, `_` folded into `-`. `lower` must already be
 * lower case; the copy is made only when the name holds an underscore (rare).
 */
export function foldHeaderName(lower: string): string {
  return lower.includes('_') ? lower.replaceAll('_', '-') : lower;
}

/** Whether the built-in list removes this folded name. */
export function isIdentityHeader(folded: string): boolean {
  if (IDENTITY_HEADER_NAMES.has(folded)) return true;
  for (const prefix of IDENTITY_HEADER_PREFIXES) if (folded.startsWith(prefix)) return true;
  return false;
}
