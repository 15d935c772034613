// The container-app ingress settings certgate understands: the fields of
// `properties.configuration.ingress` (Microsoft.App/containerApps, api-version 2025-01-01),
// plus certgate's own `targetHost` (where the app listens; certgate runs no containers).

export const CLIENT_CERTIFICATE_MODES = ['ignore', 'accept', 'require'] as const;
export type ClientCertificateMode = (typeof CLIENT_CERTIFICATE_MODES)[number];

export const TRANSPORTS = ['auto', 'http', 'http2', 'tcp'] as const;

/**
 * certgate's client-certificate verification members of the ingress (docs/ingress.md): one list
 * for the policy compiler (ingress/verify/policy.ts), the CLI's `verification show|remove` and the
 * console, so none of them forgets one.
 */
export const VERIFICATION_MEMBERS = [
  'clientCertificateTrustAnchors',
  'clientCertificateIntermediates',
  'clientCertificateRevocationLists',
  'clientCertificateValidationMode',
  'clientCertificateAllow',
  'clientCertificateRevocationMode',
  'clientCertificateOnlineRevocation',
  'clientCertificateNameAnchors',
  'clientCertificateExemptPaths',
  'clientCertificateVerifiedPaths',
] as const;
export type Transport = (typeof TRANSPORTS)[number];

export interface CustomDomain {
  readonly name: string;
  readonly bindingType?: 'Disabled' | 'SniEnabled' | 'Auto';
  readonly certificateId?: string;
}

/** ACA's IpSecurityRestrictionRule: all rules of an app are Allow, or all are Deny. */
export interface IpSecurityRestrictionRule {
  readonly name?: string;
  readonly description?: string;
  readonly ipAddressRange: string;
  readonly action: 'Allow' | 'Deny';
}

export interface IngressSettings {
  readonly external?: boolean;
  readonly targetPort?: number;
  readonly exposedPort?: number;
  readonly transport?: Transport;
  readonly allowInsecure?: boolean;
  readonly clientCertificateMode?: ClientCertificateMode;
  readonly customDomains?: readonly CustomDomain[];
  readonly ipSecurityRestrictions?: readonly IpSecurityRestrictionRule[];
  /** certgate extension: the host the app listens on (default 127.0.0.1). */
  readonly targetHost?: string;
  /** certgate extension: Strict-Transport-Security on the app's HTTPS responses. */
  readonly hsts?: HstsSettings;
  /**
   * The remaining ARM fields (traffic, ipSecurityRestrictions, corsPolicy, ...) are kept as given,
   * once the control plane has checked that the ingress applies them (control/resources/ingress-features.ts).
   */
  readonly [field: string]: unknown;
}

export interface HstsSettings {
  readonly maxAge: number;
  readonly includeSubDomains?: boolean;
  readonly preload?: boolean;
}

/** The Strict-Transport-Security value (RFC 6797 6.1), or undefined when the app sets none. */
export function hstsHeaderValue(settings: HstsSettings | undefined): string | undefined {
  if (settings === undefined || settings === null || !Number.isInteger(settings.maxAge) || settings.maxAge < 0) return undefined;
  let value = `max-age=${settings.maxAge}`;
  if (settings.includeSubDomains === true) value += '; includeSubDomains';
  if (settings.preload === true) value += '; preload';
  return value;
}

export const DEFAULT_TARGET_HOST = '127.0.0.1';

/** Unset behaves as `ignore`, as in Azure Container Apps. ARM's type is an open string, so any casing is accepted. */
export function normalizeClientCertificateMode(value: unknown): ClientCertificateMode | undefined {
  if (value === undefined || value === null) return 'ignore';
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  return (CLIENT_CERTIFICATE_MODES as readonly string[]).includes(lower) ? (lower as ClientCertificateMode) : undefined;
}

/**
 * The largest environment headerCountLimit certgate accepts: Node's HTTP/1.1 parser keeps at most
 * 2000 header fields, and the HTTP/2 server is configured for this many (maxHeaderListPairs).
 */
export const MAX_HEADER_COUNT_LIMIT = 1000;

/** What the ingress does with client certificates for one app: decided once, from its mode, when the configuration is compiled. */
export interface ClientCertificatePolicy {
  readonly mode: ClientCertificateMode;
  /** The handshake asks for a certificate (`accept`, `require`). */
  readonly requestCert: boolean;
  /** The handshake fails without one (`require`). */
  readonly rejectUnauthorized: boolean;
  /** The app gets X-Forwarded-Client-Cert when the connection carried a certificate (`accept`, `require`). */
  readonly forwardCertificate: boolean;
}

const policy = (mode: ClientCertificateMode, requestCert: boolean, rejectUnauthorized: boolean): ClientCertificatePolicy =>
  Object.freeze({ mode, requestCert, rejectUnauthorized, forwardCertificate: requestCert });

/** One frozen policy per mode, so the hot path reads fields and never compares mode strings. */
export const CLIENT_CERTIFICATE_POLICIES: Readonly<Record<ClientCertificateMode, ClientCertificatePolicy>> = Object.freeze({
  ignore: policy('ignore', false, false),
  accept: policy('accept', true, false),
  require: policy('require', true, true),
});

/** The policy for a stored mode (any casing; unset is `ignore`); undefined when the value is no mode. */
export function clientCertificatePolicy(value: unknown): ClientCertificatePolicy | undefined {
  const mode = normalizeClientCertificateMode(value);
  return mode === undefined ? undefined : CLIENT_CERTIFICATE_POLICIES[mode];
}
