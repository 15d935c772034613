// HTTPS calls from the CLI to a certgate management endpoint: a token from the endpoint's OAuth2
// client-credentials grant, then ARM requests. Service errors become CliErrors carrying the ARM
// error code, so they print as `ERROR: (Code) message`.
import { Agent, request } from 'undici';
import { CliError } from './errors.ts';
import type { Profile } from './profile.ts';

export interface ManagementResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: unknown;
}

export class ManagementClient {
  readonly profile: Profile;
  readonly #dispatcher: Agent;
  #token: string | undefined;

  constructor(profile: Profile) {
    this.profile = profile;
    this.#dispatcher = new Agent({ connect: { ca: profile.caPem }, headersTimeout: 60_000, bodyTimeout: 60_000 });
  }

  async token(): Promise<string> {
    if (this.#token) return this.#token;
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.profile.clientId,
      client_secret: this.profile.clientSecret,
      scope: `${this.profile.endpoint}//.default`,
    });
    const response = await this.send('POST', `${this.profile.endpoint}/adfs/oauth2/token`, form.toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    const body = response.json as { access_token?: string; error?: string; error_description?: string } | undefined;
    if (response.status !== 200 || !body?.access_token) {
      throw new CliError(`Login failed: ${body?.error_description ?? response.text}`, { serviceCode: body?.error ?? 'AuthenticationFailed' });
    }
    this.#token = body.access_token;
    return this.#token;
  }

  /** An authenticated ARM call; throws a CliError for any status >= 400. */
  async arm(method: string, pathOrUrl: string, body?: unknown): Promise<ManagementResponse> {
    const url = pathOrUrl.startsWith('https://') ? pathOrUrl : `${this.profile.endpoint}${pathOrUrl}`;
    const headers: Record<string, string> = { authorization: `Bearer ${await this.token()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.send(method, url, body === undefined ? undefined : JSON.stringify(body), headers);
    if (response.status >= 400) throw armFailure(response, url);
    return response;
  }

  /** A request as given (for `certgate rest`); the status is the caller's to judge. */
  async send(method: string, url: string, body: string | undefined, headers: Record<string, string>): Promise<ManagementResponse> {
    let response;
    try {
      response = await request(url, { method: method.toUpperCase() as 'GET', body, headers, dispatcher: this.#dispatcher });
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new CliError(`Cannot reach ${new URL(url).origin}: ${code ?? (error as Error).message}`, { code: 'ConnectionFailed', cause: error });
    }
    const text = await response.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.statusCode, headers: response.headers, text, json };
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}

export function armFailure(response: ManagementResponse, url: string): CliError {
  const error = (response.json as { error?: { code?: string; message?: string } } | undefined)?.error;
  return new CliError(error?.message ?? (response.text || `HTTP ${response.status}`), {
    ...(error?.code ? { serviceCode: error.code } : {}),
    statusCode: response.status,
    // az's core commands (group show) exit 3 for a missing resource; `az containerapp show`, measured
    // with az 2.74, exits 1 (shared/reference/arm.md). Follow each.
    ...(response.status === 404 && /\/providers\/microsoft\.app\//i.test(new URL(url).pathname) ? { kind: 'error' as const } : {}),
  });
}
