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
 * Client-address and path-override headers (pure data): proxies and frameworks take the client's
 * address, scheme, port or path prefix from these (Express/Django/Spring "trust proxy", IIS and
 * Symfony's X-Original-URL), so a client sending them could pose as another address (an app's own
 * IP allow-list), as HTTPS, or reach a path the ingress never routed. The ingress sets only
 * X-Forwarded-For/-Proto/-Host; these are removed in every mode, folded like the identity headers.
 */
export const CLIENT_ADDRESS_HEADER_NAMES: ReadonlySet<string> = new Set([
  // RFC 7239.
  'forwarded',
  // nginx (real_ip), Akamai and Cloudflare Enterprise, generic proxies, Cloudflare, Fastly, F5/Citrix.
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  // The X-Forwarded-* family beyond what the ingress sets (Traefik, AWS ALB, Microsoft.AspNetCore, Spring).
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-scheme',
  'x-forwarded-server',
  'x-forwarded-ssl',
  // Path overrides honoured by IIS URL Rewrite, Symfony and Zend: a path the ingress never routed.
  'x-original-url',
  'x-rewrite-url',
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
  // certgate's own verdict headers (ingress/verify/verdict-headers.ts): set only by the ingress.
  'x-certgate-client-',
  // Envoy's own (X-Envoy-External-Address, X-Envoy-Internal, retry and routing controls): an app
  // behind ACA's Envoy trusts them as Envoy's.
  'x-envoy-',
]);

/**
 * A header name as apps may read it: lower case, `_` folded into `-`. `lower` must already be
 * lower case; the copy is made only when the name holds an underscore (rare).
 */
export function foldHeaderName(lower: string): string {
  return lower.includes('_') ? lower.replaceAll('_', '-') : lower;
}

/** Whether the built-in lists (identity and client-address headers) remove this folded name. */
export function isIdentityHeader(folded: string): boolean {
  if (IDENTITY_HEADER_NAMES.has(folded) || CLIENT_ADDRESS_HEADER_NAMES.has(folded)) return true;
  for (const prefix of IDENTITY_HEADER_PREFIXES) if (folded.startsWith(prefix)) return true;
  return false;
}
