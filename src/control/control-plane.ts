// The control plane: initialises what a fresh store needs (a subscription, the token signing key,
// the first service principal) and serves the ARM API over HTTPS. Writes go through the shared
// store; each answer waits until the gateway's ingress enforces it.
import { ManagedCertificateIssuer, type AcmeOptions } from './acme/issuer.ts';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { IssuedCertificate } from '../pki/issue.ts';
import type { Store } from '../store/store.ts';
import type { RevisionOutcome } from '../model/outcome.ts';
import type { ObservedHost } from '../observe/observed-host.ts';
import type { ServerCredentials } from '../ingress/snapshot.ts';
import { createFirstPrincipal, principalId, PRINCIPAL_TYPE } from './auth/principals.ts';
import { tokenIssuer } from './auth/tokens.ts';
import { createManagementServer } from './http/server.ts';
import { ensureDefaultSubscription } from './resources/resource-manager.ts';
import type { ControlContext } from './resources/context.ts';
import { ADMIN_CREDENTIALS_FILE, type AdminCredentials } from './admin-credentials.ts';

/**
 * What the control plane runs on: the store, the data dir and CA, and a way to wait until the
 * ingress (every worker of it) compiled a revision, and learn whether it enforces it. A Gateway is
 * one; so is a worker pool's primary.
 */
export interface ControlPlaneHost {
  readonly store: Store;
  readonly dataDir: string;
  readonly ca: IssuedCertificate;
  waitForRevision(revision: number): Promise<RevisionOutcome>;
  /** The outcome of the last compilation (every worker's, merged). */
  readonly lastOutcome: RevisionOutcome;
  /** The ingress's own ports (HTTPS, HTTP). */
  reservedPorts?(): readonly number[];
  /** The management API's TLS certificate (issued once for all replicas sharing a store). */
  managementCertificate(): Promise<ServerCredentials>;
}

export interface ControlPlaneOptions {
  readonly bindAddress: string;
  readonly port: number;
  /** Environments get `<name>.<baseDomain>` as default domain. */
  readonly baseDomain: string;
  /** Managed certificates from this ACME directory (`--acme-directory`); unset: refused. */
  readonly acme?: AcmeOptions;
}

export { ADMIN_CREDENTIALS_FILE, type AdminCredentials } from './admin-credentials.ts';

export class ControlPlane {
  readonly port: number;
  readonly endpoint: string;
  readonly subscriptionId: string;
  readonly tenantId: string;
  /** Set on the first start only: where the first principal's credentials were written. */
  readonly newCredentialsPath: string | undefined;
  readonly #server;

  readonly #issuer: ManagedCertificateIssuer | undefined;

  private constructor(server: ReturnType<typeof createManagementServer>, port: number, endpoint: string, subscriptionId: string, tenantId: string, newCredentialsPath: string | undefined, issuer: ManagedCertificateIssuer | undefined) {
    this.#server = server;
    this.#issuer = issuer;
    this.port = port;
    this.endpoint = endpoint;
    this.subscriptionId = subscriptionId;
    this.tenantId = tenantId;
    this.newCredentialsPath = newCredentialsPath;
  }

  static async start(gateway: ControlPlaneHost, options: ControlPlaneOptions, log: Logger): Promise<ControlPlane> {
    const store = gateway.store;
    const subscriptionId = await ensureDefaultSubscription(store);
    const tokens = await tokenIssuer(store);
    let managementPort = options.port;
    const context: ControlContext = {
      store,
      tokens,
      baseDomain: options.baseDomain,
      applied: (revision) => gateway.waitForRevision(revision),
      outcome: () => gateway.lastOutcome,
      reservedPorts: () => [...(gateway.reservedPorts?.() ?? []), managementPort],
      ...(isObserved(gateway) ? { observed: gateway } : {}),
      ...(options.acme ? { acme: { directoryUrl: options.acme.directoryUrl } } : {}),
    };
    const tls = await gateway.managementCertificate();
    if (tls.kind !== 'pem') throw new Error('the management certificate is not a PEM pair');
    const server = createManagementServer({ context, tls: { cert: tls.certPem, key: tls.keyPem }, log: log.child({ component: 'management' }) });
    await server.listen({ host: options.bindAddress, port: options.port });
    const port = (server.server.address() as AddressInfo).port;
    managementPort = port;
    const host = options.bindAddress.includes(':') ? `[${options.bindAddress}]` : options.bindAddress;
    const endpoint = `https://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${port}`;
    let newCredentialsPath: string | undefined;
    // One administrator, whichever replica starts first on an empty database.
    const first = (await store.list({ type: PRINCIPAL_TYPE })).length === 0 ? await createFirstPrincipal(store, 'certgate administrator') : undefined;
    if (first) {
      const { clientId, clientSecret } = first;
      const credentials: AdminCredentials = { endpoint, tenantId: tokens.tenantId, subscriptionId, clientId, clientSecret, caCertificate: join(gateway.dataDir, 'ca', 'ca.pem') };
      newCredentialsPath = join(gateway.dataDir, ADMIN_CREDENTIALS_FILE);
      // Written once, readable by its owner only; the secret exists nowhere else. If it cannot be
      // written, the principal is removed again so a later start can try anew.
      try {
        await writeFile(newCredentialsPath, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      } catch (error) {
        await store.delete(principalId(clientId));
        await server.close();
        throw new Error(`cannot write the administrator credentials to ${newCredentialsPath}: ${(error as Error).message}`);
      }
    }
    const issuer = options.acme ? new ManagedCertificateIssuer({ store, dataDir: gateway.dataDir, applied: (revision) => gateway.waitForRevision(revision), log: log.child({ component: 'acme' }) }, options.acme) : undefined;
    issuer?.start();
    return new ControlPlane(server, port, endpoint, subscriptionId, tokens.tenantId, newCredentialsPath, issuer);
  }

  async close(): Promise<void> {
    await this.#issuer?.close();
    await this.#server.close();
  }
}

/** A Gateway and a ClusterPrimary tell their readiness and refusals (the Gateway status API). */
function isObserved(host: ControlPlaneHost): host is ControlPlaneHost & ObservedHost {
  const candidate = host as Partial<ObservedHost>;
  return typeof candidate.readiness === 'function' && typeof candidate.refusals === 'function';
}
