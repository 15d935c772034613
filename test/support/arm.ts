// A plain HTTPS client for the management API in tests (undici, trusting certgate's CA).
import { Agent, request } from 'undici';
import type { AdminCredentials } from '../../src/control/control-plane.ts';

export interface ArmResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON body (undefined when empty or not JSON). */
  json: any;
}

export interface ArmClient {
  readonly endpoint: string;
  readonly subscription: string;
  token: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ArmResult>;
  /** Raw bytes and headers, for malformed-body tests. */
  raw(method: string, path: string, body: string | Buffer | undefined, headers: Record<string, string>): Promise<ArmResult>;
  close(): Promise<void>;
}

export async function armClient(credentials: AdminCredentials, caPem: string): Promise<ArmClient> {
  const dispatcher = new Agent({ connect: { ca: caPem } });
  const endpoint = credentials.endpoint;
  const raw = async (method: string, path: string, body: string | Buffer | undefined, headers: Record<string, string>): Promise<ArmResult> => {
    const response = await request(`${endpoint}${path}`, { method: method as 'GET', body, headers, dispatcher });
    const text = await response.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.statusCode, headers: response.headers, text, json };
  };
  const tokenResponse = await raw(
    'POST',
    '/adfs/oauth2/token',
    new URLSearchParams({ grant_type: 'client_credentials', client_id: credentials.clientId, client_secret: credentials.clientSecret, scope: `${endpoint}//.default` }).toString(),
    { 'content-type': 'application/x-www-form-urlencoded' },
  );
  if (tokenResponse.status !== 200) throw new Error(`token request failed: ${tokenResponse.text}`);
  const client: ArmClient = {
    endpoint,
    subscription: credentials.subscriptionId,
    token: tokenResponse.json.access_token,
    call(method, path, body, headers = {}) {
      return raw(method, path, body === undefined ? undefined : JSON.stringify(body), {
        authorization: `Bearer ${client.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      });
    },
    raw,
    close: () => dispatcher.close(),
  };
  return client;
}

/** Creates the resource group `rg1` and the environment `env1` in it; returns the group's path and the environment's id. */
export async function createGroupAndEnvironment(arm: ArmClient, apiVersion = 'api-version=2025-01-01'): Promise<{ group: string; envId: string }> {
  const group = `/subscriptions/${arm.subscription}/resourceGroups/rg1`;
  const created = await arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' });
  if (created.status !== 201) throw new Error(`resource group: ${created.status} ${created.text}`);
  const env = await arm.call('PUT', `${group}/providers/Microsoft.App/managedEnvironments/env1?${apiVersion}`, { location: 'local', properties: {} });
  if (env.status !== 201) throw new Error(`environment: ${env.status} ${env.text}`);
  return { group, envId: env.json.id };
}

/** The seed flow's starting point: a group, an environment and an external app on `targetPort`; returns the app's id and host name. */
export async function createSeedApp(arm: ArmClient, names: { group: string; environment: string; app: string }, targetPort: number): Promise<{ appId: string; fqdn: string }> {
  const group = `/subscriptions/${arm.subscription}/resourceGroups/${names.group}`;
  const created = await arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' });
  if (created.status !== 201) throw new Error(`resource group: ${created.status} ${created.text}`);
  const environment = await arm.call('PUT', `${group}/providers/Microsoft.App/managedEnvironments/${names.environment}?api-version=2025-01-01`, { location: 'local', properties: {} });
  if (environment.status !== 201) throw new Error(`environment: ${environment.status} ${environment.text}`);
  const app = await arm.call('PUT', `${group}/providers/Microsoft.App/containerApps/${names.app}?api-version=2025-01-01`, {
    location: 'local',
    properties: { managedEnvironmentId: environment.json.id, configuration: { ingress: { external: true, targetPort } } },
  });
  if (app.status !== 201) throw new Error(`app: ${app.status} ${app.text}`);
  return { appId: app.json.id, fqdn: app.json.properties.configuration.ingress.fqdn };
}
