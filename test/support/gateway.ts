// Starts a real gateway (embedded store in a temp dir, ports chosen by the OS) for integration tests,
// and writes environments and apps through the store module as the control plane will.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import { Gateway } from '../../src/gateway/gateway.ts';
import { appDocument, certificateDocument, encodeCertificateSecret, environmentDocument } from '../../src/model/documents.ts';
import type { IngressSettings } from '../../src/model/ingress.ts';
import { environmentId } from '../../src/model/resources.ts';
import type { IngressOptions } from '../../src/ingress/ingress.ts';
import { ControlPlane, type AdminCredentials } from '../../src/control/control-plane.ts';
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
  createEnvironment(name: string): Promise<{ id: string; defaultDomain: string }>;
  /** Creates or replaces an app and waits until the ingress serves it. Returns its host name. */
  putApp(name: string, environment: string, ingress: IngressSettings | undefined): Promise<string>;
  deleteApp(name: string): Promise<void>;
  /** Stores an environment certificate (PKCS12 and password, as an upload does). Returns its id. */
  putCertificate(environment: string, name: string, pfx: Uint8Array, password: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestGateway(options: Partial<IngressOptions> & { controlPlane?: boolean } = {}): Promise<TestGateway> {
  const { controlPlane, ...ingressOptions } = options;
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
  const control = controlPlane ? await ControlPlane.start(gateway, { bindAddress: '127.0.0.1', port: 0, baseDomain: BASE_DOMAIN }, log) : undefined;
  const credentials = control?.newCredentialsPath ? (JSON.parse(readFileSync(control.newCredentialsPath, 'utf8')) as AdminCredentials) : undefined;
  const environments = new Map<string, string>();
  const waitForStore = async () => gateway.waitForRevision(gateway.store.revision());
  return {
    gateway,
    dataDir,
    httpsPort: gateway.addresses.httpsPort,
    httpPort: gateway.addresses.httpPort ?? 0,
    caPem: gateway.ca.certPem,
    logs,
    control,
    credentials,
    async createEnvironment(name) {
      const defaultDomain = `${name}.${BASE_DOMAIN}`;
      const { resource } = gateway.store.put(
        environmentDocument({ subscriptionId: SUBSCRIPTION, resourceGroup: RESOURCE_GROUP, name, defaultDomain }),
      );
      environments.set(name, resource.id);
      await waitForStore();
      return { id: resource.id, defaultDomain };
    },
    async putApp(name, environment, ingress) {
      const envId = environments.get(environment) ?? environmentId(SUBSCRIPTION, RESOURCE_GROUP, environment);
      gateway.store.put(
        appDocument({ subscriptionId: SUBSCRIPTION, resourceGroup: RESOURCE_GROUP, name, environmentId: envId, ingress }),
      );
      await waitForStore();
      return `${name}.${environment}.${BASE_DOMAIN}`;
    },
    async putCertificate(environment, name, pfx, password) {
      const envId = environments.get(environment) ?? environmentId(SUBSCRIPTION, RESOURCE_GROUP, environment);
      const { resource } = gateway.store.put(certificateDocument({ environmentId: envId, name, properties: {} }), {
        secret: encodeCertificateSecret({ pfx, password }),
      });
      await waitForStore();
      return resource.id;
    },
    async deleteApp(name) {
      gateway.store.delete(`/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.App/containerApps/${name}`);
      await waitForStore();
    },
    async close() {
      await control?.close();
      await gateway.close(1_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
