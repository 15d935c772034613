// The console's only way to read and change anything: the management API itself, called in-process
// (Fastify's inject) with a token for the signed-in principal. So every change goes through the same
// route, authentication, body checks, JSON Schema validation, semantic checks and wait-until-enforced
// as an az or SDK request, and is logged the same way, with the principal as actor.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { TokenIssuer } from '../auth/tokens.ts';
import type { ConsoleSession } from './sessions.ts';

/** The api-version the console speaks (Microsoft.App, Microsoft.Resources and certgate's paths all accept it). */
export const CONSOLE_API_VERSION = '2025-01-01';

/** A token is renewed when less than this is left of it. */
const TOKEN_MARGIN_MS = 5 * 60 * 1000;

export interface ApiError {
  readonly code: string;
  readonly message: string;
  readonly target?: string;
  readonly details?: readonly { code?: string; message?: string; target?: string }[];
}

export type ApiResult<T = any> = { readonly ok: true; readonly status: number; readonly body: T } | { readonly ok: false; readonly status: number; readonly error: ApiError };

export interface ConsoleApi {
  call<T = any>(method: 'GET' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<ApiResult<T>>;
  /** Every page of a list (nextLink followed), or the first error. */
  list<T = any>(path: string): Promise<ApiResult<T[]>>;
}

/** The management server's in-process request entry (Fastify's `inject`). */
export type Inject = (options: InjectOptions) => Promise<LightMyRequestResponse>;

export function consoleApi(inject: Inject, tokens: TokenIssuer, session: ConsoleSession, host: string): ConsoleApi {
  const baseUrl = `https://${host}`;
  const token = async () => {
    if (!session.token || session.token.expiresAt - Date.now() < TOKEN_MARGIN_MS) {
      const issued = await tokens.issue(session.clientId, `${baseUrl}/`, `${baseUrl}/adfs`);
      session.token = { value: issued.token, expiresAt: Date.now() + issued.expiresIn * 1000 };
    }
    return session.token.value;
  };
  const call = async (method: 'GET' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<ApiResult> => {
    const response = await inject({
      method,
      url: withApiVersion(path),
      headers: { host, authorization: `Bearer ${await token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    let parsed: any;
    try {
      parsed = response.body ? JSON.parse(response.body) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.statusCode < 400) return { ok: true, status: response.statusCode, body: parsed };
    const error = parsed?.error ?? { code: `Http${response.statusCode}`, message: `The management API answered ${response.statusCode}.` };
    return { ok: false, status: response.statusCode, error };
  };
  return {
    call,
    async list(path) {
      const items: any[] = [];
      let next: string | undefined = path;
      // Bounded: a list is at most 100 pages of the API's page size.
      for (let page = 0; next !== undefined && page < 100; page++) {
        const result = await call('GET', next);
        if (!result.ok) return result;
        items.push(...((result.body?.value as any[] | undefined) ?? []));
        const link = result.body?.nextLink;
        // Absolute or relative: only its path and query are followed, always on this server.
        const url = typeof link === 'string' && link !== '' ? new URL(link, 'https://certgate.invalid') : undefined;
        next = url ? url.pathname + url.search : undefined;
      }
      return { ok: true, status: 200, body: items };
    },
  };
}

function withApiVersion(path: string): string {
  if (/[?&]api-version=/.test(path)) return path;
  return `${path}${path.includes('?') ? '&' : '?'}api-version=${CONSOLE_API_VERSION}`;
}

/** A resource id the console may put in an API path: ARM segments only, no dot-segments, no query. */
export function isResourceId(id: unknown, type: 'containerApps' | 'managedEnvironments'): id is string {
  return typeof id === 'string' && id.length <= 512 && new RegExp(`^/subscriptions/[\\w-]+/resourceGroups/[\\w.()-]+/providers/Microsoft\\.App/${type}/[a-zA-Z0-9-]+$`, 'i').test(id) && !id.includes('..');
}
