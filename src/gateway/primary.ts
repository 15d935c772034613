// The multi-worker host: the primary process of `certgate serve --workers N`. It owns the store's
// writes (the management API runs on it), issues the server certificates a revision needs before
// the workers hear of it (so that they all serve the same ones, and resume each other's TLS
// sessions), and tells the workers of each revision; writers wait on the worker pool.
import type { Logger } from 'pino';
import type { ControlPlaneHost } from '../control/control-plane.ts';
import { ingressPorts, type IngressAddresses } from '../ingress/ingress.ts';
import type { RevisionOutcome } from '../model/outcome.ts';
import { ENVIRONMENT_TYPE, environmentView } from '../model/resources.ts';
import type { IssuedCertificate } from '../pki/issue.ts';
import { loadOrCreateLocalCa } from '../pki/local-ca.ts';
import { openStore, type SharedStoreLocation } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import type { ServerCredentials } from '../ingress/snapshot.ts';
import { WorkerPool } from './cluster.ts';
import { AggregatorRegistry, Registry } from 'prom-client';
import { EnforcementClock } from '../observe/control-metrics.ts';
import { storeReachable, type ObservedHost, type Readiness } from '../observe/observed-host.ts';
import type { RefusalEntry } from '../observe/refusals.ts';
import { InventoryCollector, InventoryWriter } from '../observe/inventory-collector.ts';
import { DEFAULT_INVENTORY_RETENTION_MS } from './gateway.ts';
import { ServerCertificates } from './server-certificates.ts';
import { followTicketKeys, sharedLocalCa, sharedTicketRing } from './shared-pki.ts';

export class ClusterPrimary implements ControlPlaneHost, ObservedHost {
  readonly workerCount: number;
  /** The primary's own metrics (write → enforcement); the workers' come over IPC (prom-client's cluster protocol). */
  static readonly #registry = new Registry();
  static #aggregator: AggregatorRegistry<"text/plain; version=0.0.4; charset=utf-8"> | undefined;
  #closed = false;
  #inventoryWriter: InventoryWriter | undefined;
  readonly store: Store;
  readonly dataDir: string;
  readonly ca: IssuedCertificate;
  readonly addresses: IngressAddresses;
  readonly #pool: WorkerPool;
  readonly #unsubscribe: () => void;
  readonly #certificates: ServerCertificates;

  private constructor(store: Store, dataDir: string, ca: IssuedCertificate, certificates: ServerCertificates, pool: WorkerPool, addresses: IngressAddresses, unsubscribe: () => void) {
    this.store = store;
    this.#certificates = certificates;
    this.dataDir = dataDir;
    this.ca = ca;
    this.#pool = pool;
    this.addresses = addresses;
    this.#unsubscribe = unsubscribe;
    this.workerCount = pool.count;
  }

  /** Opens the data dir's store, forks `workers` ingress processes and resolves when all serve. */
  static async start(dataDir: string, workers: number, log: Logger, options: { sharedStore?: SharedStoreLocation | undefined; inventoryRetentionMs?: number | undefined } = {}): Promise<ClusterPrimary> {
    const store = await openStore(dataDir, options.sharedStore, log);
    let pool: WorkerPool | undefined;
    let unsubscribe = () => {};
    try {
      // Replicas sharing the store share the CA, its certificates and the ticket keys (shared-pki.ts).
      const shared = store.replicas ? store : undefined;
      const ca = shared ? await sharedLocalCa(shared, dataDir) : await loadOrCreateLocalCa(dataDir);
      const certificates = new ServerCertificates(dataDir, ca, { issue: true, ...(shared ? { shared } : {}) });
      const ring = shared ? await sharedTicketRing(shared) : undefined;
      // The primary rotates the shared ticket keys on schedule; its workers follow (gateway.ts).
      const stopRotation = shared && ring ? followTicketKeys(shared, ring, () => {}, { checkMs: 60_000, rotateMs: 12 * 60 * 60 * 1000 }) : () => {};
      const prepare = async () => Promise.all([certificates.fallback(), certificates.forEnvironments((await store.list({ type: ENVIRONMENT_TYPE })).map(environmentView))]);
      await prepare();
      ClusterPrimary.#aggregator ??= new AggregatorRegistry();
      const clock = ClusterPrimary.#clock;
      // The workers' certificates seen, merged here and written by the one writer.
      const collector = new InventoryCollector();
      const started = new WorkerPool(workers, log, { ring, onEnforced: (revision) => clock.enforced(revision), onInventory: (entries) => collector.merge(entries) });
      pool = started;
      const unsubscribeRevisions = store.subscribe((revision) => {
        clock.committed(revision);
        prepare().then(
          () => started.broadcast(revision),
          (error: unknown) => {
            // The workers still compile the revision; what lacks a certificate is reported as a problem.
            log.error({ err: error, revision }, 'server certificates could not be issued');
            started.broadcast(revision);
          },
        );
      });
      unsubscribe = () => {
        unsubscribeRevisions();
        stopRotation();
      };
      const addresses = await started.start();
      const primary = new ClusterPrimary(store, dataDir, ca, certificates, started, addresses, unsubscribe);
      primary.#inventoryWriter = new InventoryWriter(collector, store.inventory, { retentionMs: options.inventoryRetentionMs ?? DEFAULT_INVENTORY_RETENTION_MS, registry: ClusterPrimary.#registry }, log);
      return primary;
    } catch (error) {
      unsubscribe();
      await pool?.stop(0);
      await store.close();
      throw error;
    }
  }

  /** Resolves once every ready worker compiled `revision` or later, with the worst of their outcomes. */
  waitForRevision(revision: number): Promise<RevisionOutcome> {
    return this.#pool.waitForRevision(revision);
  }

  get lastOutcome(): RevisionOutcome {
    return this.#pool.lastOutcome;
  }

  reservedPorts(): readonly number[] {
    return ingressPorts(this.addresses);
  }

  managementCertificate(): Promise<ServerCredentials> {
    return this.#certificates.management();
  }

  static readonly #clock = new EnforcementClock(ClusterPrimary.#registry);

  async metrics(): Promise<{ contentType: string; body: string }> {
    const [workers, own] = await Promise.all([ClusterPrimary.#aggregator!.clusterMetrics(), ClusterPrimary.#registry.metrics()]);
    return { contentType: ClusterPrimary.#registry.contentType, body: `${workers.endsWith('\n') || workers === '' ? workers : `${workers}\n`}${own}` };
  }

  async readiness(): Promise<Readiness> {
    const outcome = this.#pool.lastOutcome;
    const checks = { listening: !this.#closed && this.#pool.allReady, snapshot: this.#pool.allReady, store: !this.#closed && (await storeReachable(() => this.store.revision())) };
    return { ready: checks.listening && checks.snapshot && checks.store, checks, revision: Number.isFinite(outcome.revision) ? outcome.revision : 0, lastBuildFailed: outcome.error !== undefined };
  }

  refusals(top: number): Promise<RefusalEntry[]> {
    return this.#pool.refusals(top);
  }

  /** SIGHUP: the workers reopen their access-log files. */
  reopenLogs(): void {
    this.#pool.reopenLogs();
  }

  /** Drains the workers (at most graceMs, default 10 s) and closes the store. */
  async close(graceMs = 10_000): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    await this.#pool.stop(graceMs);
    await this.#inventoryWriter?.close();
    await this.store.close();
  }
}
