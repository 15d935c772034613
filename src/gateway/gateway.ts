// The gateway: store → change feed → snapshot compiler → ingress. Every committed write bumps the
// store's revision; the gateway gathers what the snapshot needs (including certificate files from
// the data dir), compiles it off the hot path and swaps it in. Writers can wait until their
// revision is live, so a write that returned is enforced for the next connection.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { decodeCertificateSecret } from '../model/documents.ts';
import {
  APP_TYPE,
  CERTIFICATE_TYPE,
  ENVIRONMENT_TYPE,
  appView,
  environmentView,
  resourceKey,
} from '../model/resources.ts';
import { Ingress, type IngressAddresses, type IngressOptions } from '../ingress/ingress.ts';
import { compileSnapshot, TlsPolicyCache, type ServerCredentials, type SnapshotInput } from '../ingress/snapshot.ts';
import { loadOrCreateLocalCa } from '../pki/local-ca.ts';
import { ServerCertificates } from './server-certificates.ts';
import type { IssuedCertificate } from '../pki/issue.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/store.ts';

export interface GatewayOptions {
  readonly dataDir: string;
  readonly ingress: IngressOptions;
  /** An already open store; by default the embedded one in the data dir. */
  readonly store?: Store;
  /** Shared by the worker processes of one gateway, so TLS sessions resume on any of them. */
  readonly ticketKeySeed?: Buffer;
  /**
   * Also check the store for changes this often. Needed when another process writes the store
   * (the in-process change feed only hears this process's writes); a worker also hears of them by IPC.
   */
  readonly pollIntervalMs?: number;
  /** Called each time the ingress starts serving a new revision. */
  readonly onApplied?: (revision: number) => void;
  /** Whether this process issues the server certificates (default); a worker reads the primary's. */
  readonly issueServerCertificates?: boolean;
}

export class Gateway {
  readonly store: Store;
  readonly ingress: Ingress;
  readonly ca: IssuedCertificate;
  readonly dataDir: string;
  readonly #log: Logger;
  readonly #cache: TlsPolicyCache;
  readonly #certificates: ServerCertificates;
  #applied: number;
  #compiling: Promise<void> | undefined;
  #waiters: { revision: number; resolve: () => void }[] = [];
  #unsubscribe: () => void = () => {};
  #addresses: IngressAddresses | undefined;
  #onApplied: ((revision: number) => void) | undefined;

  private constructor(dataDir: string, store: Store, ca: IssuedCertificate, certificates: ServerCertificates, ingress: Ingress, cache: TlsPolicyCache, applied: number, log: Logger) {
    this.dataDir = dataDir;
    this.#certificates = certificates;
    this.store = store;
    this.ca = ca;
    this.ingress = ingress;
    this.#cache = cache;
    this.#applied = applied;
    this.#log = log;
  }

  static async start(options: GatewayOptions, log: Logger): Promise<Gateway> {
    const store = options.store ?? new SqliteStore(join(options.dataDir, 'certgate.db'));
    try {
      const ca = await loadOrCreateLocalCa(options.dataDir);
      const cache = new TlsPolicyCache(options.ticketKeySeed);
      const certificates = new ServerCertificates(options.dataDir, ca, { issue: options.issueServerCertificates ?? true });
      const revision = store.revision();
      const input = await gatherSnapshotInput(store, certificates, revision);
      const { snapshot, problems } = compileSnapshot(input, cache);
      for (const problem of problems) log.warn({ problem }, 'configuration left out of the ingress');
      const ingress = new Ingress(snapshot, options.ingress, log);
      const gateway = new Gateway(options.dataDir, store, ca, certificates, ingress, cache, revision, log);
      gateway.#onApplied = options.onApplied;
      const unsubscribe = store.subscribe(() => void gateway.refresh());
      const poll = options.pollIntervalMs ? setInterval(() => void gateway.refresh(), options.pollIntervalMs) : undefined;
      poll?.unref();
      gateway.#unsubscribe = () => {
        unsubscribe();
        clearInterval(poll);
      };
      gateway.#addresses = await ingress.listen();
      return gateway;
    } catch (error) {
      if (!options.store) store.close();
      throw error;
    }
  }

  get addresses(): IngressAddresses {
    if (!this.#addresses) throw new Error('the gateway is not listening');
    return this.#addresses;
  }

  /** The ingress's own ports: no app may expose them as TCP ports. */
  reservedPorts(): readonly number[] {
    const addresses = this.#addresses;
    return addresses ? [addresses.httpsPort, ...(addresses.httpPort === undefined ? [] : [addresses.httpPort])] : [];
  }

  /** The store revision the ingress serves. */
  get appliedRevision(): number {
    return this.#applied;
  }

  /** Recompiles if the store moved on; concurrent calls share one compilation run. */
  refresh(): Promise<void> {
    this.#compiling ??= this.#compileLoop().finally(() => {
      this.#compiling = undefined;
      // A write between the loop's last check and now found #compiling still set and was not
      // compiled (a waiter resolved by the loop can write again before this runs): go again.
      if (this.store.revision() > this.#applied) void this.refresh();
    });
    return this.#compiling;
  }

  /** Resolves once the ingress serves `revision` (or a later one). */
  waitForRevision(revision: number): Promise<void> {
    if (this.#applied >= revision) return Promise.resolve();
    const promise = new Promise<void>((resolve) => this.#waiters.push({ revision, resolve }));
    void this.refresh();
    return promise;
  }

  async close(graceMs?: number): Promise<void> {
    this.#unsubscribe();
    await this.ingress.close(graceMs);
    await this.#compiling;
    this.store.close();
  }

  async #compileLoop(): Promise<void> {
    while (this.store.revision() > this.#applied) {
      const revision = this.store.revision();
      try {
        const input = await gatherSnapshotInput(this.store, this.#certificates, revision);
        const { snapshot, problems } = compileSnapshot(input, this.#cache);
        for (const problem of problems) this.#log.warn({ problem, revision }, 'configuration left out of the ingress');
        // Resolves once the TCP listeners match too, so a write is acknowledged only when they do.
        await this.ingress.swap(snapshot);
        this.#log.info({ revision, routes: snapshot.routes.size }, 'route snapshot applied');
      } catch (error) {
        // The old snapshot keeps serving; the revision counts as applied so writers are not stuck.
        this.#log.error({ err: error, revision }, 'route snapshot could not be built; the previous one stays');
      }
      this.#applied = revision;
      this.#onApplied?.(revision);
      const ready = this.#waiters.filter((waiter) => waiter.revision <= revision);
      this.#waiters = this.#waiters.filter((waiter) => waiter.revision > revision);
      for (const waiter of ready) waiter.resolve();
    }
  }
}

async function gatherSnapshotInput(store: Store, certificates: ServerCertificates, revision: number): Promise<SnapshotInput> {
  const environments = store.list({ type: ENVIRONMENT_TYPE }).map(environmentView);
  const apps = store.list({ type: APP_TYPE }).map(appView);
  const uploadedCertificates = new Map<string, ServerCredentials>();
  for (const certificate of store.list({ type: CERTIFICATE_TYPE })) {
    const secret = store.getSecret(certificate.id);
    if (!secret) continue;
    const { pfx, password } = decodeCertificateSecret(secret);
    uploadedCertificates.set(resourceKey(certificate.id), { kind: 'pkcs12', pfx, password });
  }
  return {
    revision,
    environments,
    apps,
    environmentCertificates: await certificates.forEnvironments(environments),
    uploadedCertificates,
    fallbackCertificate: await certificates.fallback(),
  };
}
