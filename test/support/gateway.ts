// Starts a real gateway (embedded store in a temp dir, ports chosen by the OS) for integration tests,
// and writes environments, apps and certificates through the control plane's own resource handlers
// (in-process, without HTTP or tokens): the ingress is fed documents the control plane made, after
// the same validation, defaults and waiting until the ingress enforces the write.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import { Gateway } from '../../src/gateway/gateway.ts';
import { appDocument } from '../../src/model/documents.ts';
import type { IngressSettings } from '../../src/model/ingress.ts';
import { environmentId } from '../../src/model/resources.ts';
import { ArmError } from '../../src/control/arm/errors.ts';
import { parseArmPath, splitRequestTarget } from '../../src/control/arm/path.ts';
import { tokenIssuer } from '../../src/control/auth/tokens.ts';
import type { ArmResponse, ControlContext } from '../../src/control/resources/context.ts';
import { SUBSCRIPTION_TYPE } from '../../src/control/resources/resource-manager.ts';
import { handleArmRequest } from '../../src/control/resources/router.ts';
import type { IngressOptions } from '../../src/ingress/ingress.ts';
import { ControlPlane, type AdminCredentials } from '../../src/control/control-plane.ts';
import type { AcmeOptions } from '../../src/control/acme/issuer.ts';
import { readFileSync } from 'node:fs';

export const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';
export const RESOURCE_GROUP = 'rg';
export const BASE_DOMAIN = 'certgate.localhost';

export interface TestGateway {
  gateway: Gateway;
  dataDir: string;
  httpsPort: number;
  httpPort: number;
  caPem: string;
  /** Log lines (parsed JSON) the gateway wrote. */
  logs: Record<string, unknown>[];
  /** The management API, when started with `{ controlPlane: true }`. */
  control: ControlPlane | undefined;
  /** The first principal's credentials (from the data dir), with the control plane. */
  credentials: AdminCredentials | undefined;
  /** Creates an environment (with `properties`, e.g. the `certgate` extensions) through the control plane. */
  createEnvironment(name: string, properties?: Record<string, unknown>): Promise<{ id: string; defaultDomain: string }>;
  /** Creates or replaces an app and waits until the ingress serves it. Returns its host name. */
  putApp(name: string, environment: string, ingress: IngressSettings | undefined): Promise<string>;
  /**
   * Writes an app document straight into the store, past the control plane: only for tests of what
   * the ingress does with a document the control plane refuses (a store written by an older version,
   * or by hand). Everything else goes through `putApp`.
   */
  putUncheckedApp(name: string, environment: string, ingress: IngressSettings | undefined): Promise<string>;
  deleteApp(name: string): Promise<void>;
  /** Stores an environment certificate (PKCS12 and password, as an upload does). Returns its id. */
  putCertificate(environment: string, name: string, pfx: Uint8Array, password: string): Promise<string>;
  /** Any ARM request, answered by the control plane's router; an ARM error throws `METHOD path: status Code: message`. */
  arm(method: string, url: string, body?: unknown): Promise<ArmResponse>;
  close(): Promise<void>;
}

export async function startTestGateway(options: Partial<IngressOptions> & { controlPlane?: boolean; acme?: (httpPort: number) => Promise<AcmeOptions> } = {}): Promise<TestGateway> {
  const { controlPlane, acme: acmeFor, ...ingressOptions } = options;
  const dataDir = await mkdtemp(join(tmpdir(), 'certgate-test-'));
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const log = pino({ level: 'info', base: undefined }, sink);
  const gateway = await Gateway.start(
    { dataDir, ingress: { bindAddress: '127.0.0.1', httpsPort: 0, httpPort: 0, ...ingressOptions } },
    log,
  );
  // ACME needs the plain-HTTP port (its HTTP-01 validations go there), known only now.
  const acme = acmeFor ? await acmeFor(gateway.addresses.httpPort ?? 0) : undefined;
  const control = controlPlane ? await ControlPlane.start(gateway, { bindAddress: '127.0.0.1', port: 0, baseDomain: BASE_DOMAIN, ...(acme ? { acme } : {}) }, log) : undefined;
  const credentials = control?.newCredentialsPath ? (JSON.parse(readFileSync(control.newCredentialsPath, 'utf8')) as AdminCredentials) : undefined;
  const environments = new Map<string, string>();
  const waitForStore = async () => gateway.waitForRevision(await gateway.store.revision());
  const group = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}`;
  let context: ControlContext | undefined;
  const arm = async (method: string, url: string, body?: unknown): Promise<ArmResponse> => callArm((context ??= await controlContext(gateway)), method, url, body);
  return {
    gateway,
    dataDir,
    httpsPort: gateway.addresses.httpsPort,
    httpPort: gateway.addresses.httpPort ?? 0,
    caPem: gateway.ca.certPem,
    logs,
    control,
    credentials,
    async createEnvironment(name, properties = {}) {
      const { body } = await arm('PUT', `${group}/providers/Microsoft.App/managedEnvironments/${name}?${APP_API}`, { location: 'local', properties });
      const resource = body as { id: string; properties: { defaultDomain: string } };
      environments.set(name, resource.id);
      return { id: resource.id, defaultDomain: resource.properties.defaultDomain };
    },
    async putApp(name, environment, ingress) {
      const envId = environments.get(environment) ?? environmentId(SUBSCRIPTION, RESOURCE_GROUP, environment);
      const { body } = await arm('PUT', `${group}/providers/Microsoft.App/containerApps/${name}?${APP_API}`, {
        location: 'local',
        properties: { managedEnvironmentId: envId, configuration: ingress ? { ingress } : {}, template: { containers: [] } },
      });
      // A write the control plane acknowledged is enforced; this only settles the waiters of later revisions.
      await waitForStore();
      return String((body as { properties: { configuration: { ingress?: { fqdn?: string } } } }).properties.configuration.ingress?.fqdn ?? `${name}.${environment}.${BASE_DOMAIN}`);
    },
    async putUncheckedApp(name, environment, ingress) {
      const envId = environments.get(environment) ?? environmentId(SUBSCRIPTION, RESOURCE_GROUP, environment);
      await gateway.store.put(appDocument({ subscriptionId: SUBSCRIPTION, resourceGroup: RESOURCE_GROUP, name, environmentId: envId, ingress }));
      await waitForStore();
      return `${name}.${environment}.${BASE_DOMAIN}`;
    },
    async putCertificate(environment, name, pfx, password) {
      const { body } = await arm('PUT', `${group}/providers/Microsoft.App/managedEnvironments/${environment}/certificates/${name}?${APP_API}`, {
        location: 'local',
        properties: { value: Buffer.from(pfx).toString('base64'), password },
      });
      return (body as { id: string }).id;
    },
    arm: async (method, url, body) => {
      const response = await arm(method, url, body);
      await waitForStore();
      return response;
    },
    async deleteApp(name) {
      await arm('DELETE', `${group}/providers/Microsoft.App/containerApps/${name}?${APP_API}`);
      await waitForStore();
    },
    async close() {
      await control?.close();
      await gateway.close(1_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The API version the fixture's requests name (one the control plane serves). */
const APP_API = 'api-version=2025-01-01';

/**
 * What the management API's handlers run on, for this gateway: the same context ControlPlane.start
 * makes, with the fixture's subscription (made as on a first start) and resource group (made
 * through the handlers) in place.
 */
async function controlContext(gateway: Gateway): Promise<ControlContext> {
  const store = gateway.store;
  if (!(await store.get(`/subscriptions/${SUBSCRIPTION}`))) {
    await store.put({ id: `/subscriptions/${SUBSCRIPTION}`, name: SUBSCRIPTION, type: SUBSCRIPTION_TYPE, properties: { displayName: 'certgate' } });
  }
  const context: ControlContext = {
    store,
    tokens: await tokenIssuer(store),
    baseDomain: BASE_DOMAIN,
    applied: (revision) => gateway.waitForRevision(revision),
    outcome: () => gateway.lastOutcome,
  };
  await callArm(context, 'PUT', `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}?api-version=2021-04-01`, { location: 'local' });
  return context;
}

/** An ARM request answered by the control plane's router, as the management API would answer it; an ARM error throws. */
async function callArm(context: ControlContext, method: string, url: string, body?: unknown): Promise<ArmResponse> {
  const { path, query } = splitRequestTarget(url);
  const armPath = parseArmPath(path);
  if (!armPath) throw new Error(`not an ARM path: ${path}`);
  try {
    return await handleArmRequest(context, { method, path: armPath, pathname: path, query, body, ifMatch: undefined, ifNoneMatch: undefined, baseUrl: 'https://localhost', actor: 'test-fixture' });
  } catch (error) {
    if (error instanceof ArmError) throw new Error(`${method} ${path}: ${error.status} ${error.code}: ${error.message}`, { cause: error });
    throw error;
  }
}
