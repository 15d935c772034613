// CORS answered by the ingress, as Azure Container Apps does with Envoy's CORS filter: a preflight
// (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin is answered here
// and never reaches the app; a real request from an allowed origin gets Access-Control-Allow-Origin
// (the request's origin, echoed), -Allow-Credentials and -Expose-Headers on the app's answer. A
// request from an origin the policy does not allow passes through untouched (Envoy's default,
// forward_not_matching_preflights): the ingress adds nothing, so the browser refuses it.
// Pure: compiled once into the route snapshot, then only read by the HTTP stage (HTTP/1.1, HTTP/2
// and the plain port call the same two functions).
import { TOKEN } from './http-syntax.ts';

/** `properties.configuration.ingress.corsPolicy` as ARM stores it. */
export interface CorsPolicySettings {
  readonly allowedOrigins: readonly string[];
  readonly allowedMethods?: readonly string[];
  readonly allowedHeaders?: readonly string[];
  readonly exposeHeaders?: readonly string[];
  readonly maxAge?: number;
  readonly allowCredentials?: boolean;
}

export interface CompiledCors {
  /** `*` is one of the allowed origins. */
  readonly anyOrigin: boolean;
  /** Exact origins, lower-cased. */
  readonly exact: ReadonlySet<string>;
  /** Origins with a `*` inside (`https://*.example.com`). */
  readonly patterns: readonly RegExp[];
  /** Preflight answer headers other than the origin, as [name, value, ...]. */
  readonly preflight: readonly string[];
  /** Headers added to real responses other than the origin, as [name, value, ...]. */
  readonly response: readonly string[];
}

/** A policy value the ingress cannot apply; `path` is relative to corsPolicy (e.g. `allowedOrigins[1]`). */
export class CorsPolicyError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** Scheme, then a host (letters, digits, dots, hyphens, `*` for one or more host characters), then an optional port. */
const ORIGIN_PATTERN = /^[a-z][a-z0-9+.-]*:\/\/(?:[a-z0-9.*-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

/** The response headers the ingress writes itself on a CORS answer; the app's own copies are replaced. */
export const CORS_RESPONSE_HEADER_NAMES: ReadonlySet<string> = new Set([
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-expose-headers',
]);

export function compileCors(settings: CorsPolicySettings): CompiledCors {
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  let anyOrigin = false;
  for (const [index, given] of settings.allowedOrigins.entries()) {
    const origin = given.trim().toLowerCase();
    if (origin === '*') {
      anyOrigin = true;
      continue;
    }
    if (!ORIGIN_PATTERN.test(origin)) {
      throw new CorsPolicyError(`allowedOrigins[${index}]`, `'${given}' is not an origin: use scheme://host[:port] (e.g. https://www.contoso.com), '*' for any origin, or '*' inside the host for any host characters (https://*.contoso.com).`);
    }
    if (!origin.includes('*')) {
      exact.add(origin);
      continue;
    }
    // `*` stands for one or more host characters: it can never reach past the host into a port or a path.
    const source = origin.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&')).join('[a-z0-9.-]+');
    patterns.push(new RegExp(`^${source}$`));
  }
  if (settings.allowedOrigins.length === 0) throw new CorsPolicyError('allowedOrigins', 'allowedOrigins must name at least one origin (or *).');
  if (settings.allowCredentials === true && anyOrigin) {
    // The Fetch standard refuses credentials with a wildcard origin; echoing every origin with
    // credentials would hand any site the user's cookies for this app.
    throw new CorsPolicyError('allowCredentials', "allowCredentials cannot be true when allowedOrigins contains '*': list the origins that may send credentials.");
  }
  const list = (name: 'allowedMethods' | 'allowedHeaders' | 'exposeHeaders'): string | undefined => {
    const values = settings[name] ?? [];
    for (const [index, value] of values.entries()) {
      if (value !== '*' && !TOKEN.test(value)) throw new CorsPolicyError(`${name}[${index}]`, `'${value}' is not an HTTP ${name === 'allowedMethods' ? 'method' : 'header name'} (or *).`);
    }
    return values.length === 0 ? undefined : values.join(', ');
  };
  const methods = list('allowedMethods');
  const headers = list('allowedHeaders');
  const expose = list('exposeHeaders');
  const credentials = settings.allowCredentials === true ? ['access-control-allow-credentials', 'true'] : [];
  const preflight = [
    ...(methods === undefined ? [] : ['access-control-allow-methods', methods]),
    ...(headers === undefined ? [] : ['access-control-allow-headers', headers]),
    ...(settings.maxAge ? ['access-control-max-age', String(settings.maxAge)] : []),
    ...credentials,
  ];
  const response = [...credentials, ...(expose === undefined ? [] : ['access-control-expose-headers', expose])];
  return Object.freeze({ anyOrigin, exact, patterns: Object.freeze(patterns), preflight: Object.freeze(preflight), response: Object.freeze(response) });
}

export function originAllowed(policy: CompiledCors, origin: string): boolean {
  if (policy.anyOrigin) return true;
  const lower = origin.toLowerCase();
  return policy.exact.has(lower) || policy.patterns.some((pattern) => pattern.test(lower));
}

export type HeaderLookup = Readonly<Record<string, string | string[] | undefined>>;

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export interface CorsAnswer {
  readonly status: number;
  /** [name, value, ...] */
  readonly headers: readonly string[];
}

/**
 * The ingress's own answer to a CORS preflight from an allowed origin (200, no body, as Envoy), or
 * undefined: not a preflight, no policy, or an origin the policy does not allow (the request goes
 * on to the app).
 */
export function corsPreflight(policy: CompiledCors | undefined, method: string, headers: HeaderLookup): CorsAnswer | undefined {
  if (policy === undefined || method !== 'OPTIONS') return undefined;
  const origin = single(headers['origin']);
  if (origin === undefined || single(headers['access-control-request-method']) === undefined) return undefined;
  if (!originAllowed(policy, origin)) return undefined;
  return { status: 200, headers: ['access-control-allow-origin', origin, 'vary', 'Origin', ...policy.preflight, 'content-length', '0'] };
}

/** Headers added to the app's answer to a request from an allowed origin; undefined adds nothing. */
export function corsResponseHeaders(policy: CompiledCors | undefined, origin: string | string[] | undefined): readonly string[] | undefined {
  if (policy === undefined) return undefined;
  const value = single(origin);
  if (value === undefined || !originAllowed(policy, value)) return undefined;
  return ['access-control-allow-origin', value, 'vary', 'Origin', ...policy.response];
}

/** The app's response headers (lower-case names) with the ingress's CORS headers in place of the app's own. */
export function withCorsHeaders(raw: readonly string[], cors: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (!CORS_RESPONSE_HEADER_NAMES.has(raw[i]!)) out.push(raw[i]!, raw[i + 1]!);
  for (const value of cors) out.push(value);
  return out;
}
