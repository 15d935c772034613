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
import { WorkerPool } from './cluster.ts';
import { ServerCertificates } from './server-certificates.ts';
import { followTicketKeys, sharedLocalCa, sharedTicketKeySeed } from './shared-pki.ts';

export class ClusterPrimary implements ControlPlaneHost {
  readonly store: Store;
  readonly dataDir: string;
  readonly ca: IssuedCertificate;
  readonly addresses: IngressAddresses;
  readonly #pool: WorkerPool;
  readonly #unsubscribe: () => void;

  private constructor(store: Store, dataDir: string, ca: IssuedCertificate, pool: WorkerPool, addresses: IngressAddresses, unsubscribe: () => void) {
    this.store = store;
    this.dataDir = dataDir;
    this.ca = ca;
    this.#pool = pool;
    this.addresses = addresses;
    this.#unsubscribe = unsubscribe;
  }

  /** Opens the data dir's store, forks `workers` ingress processes and resolves when all serve. */
  static async start(dataDir: string, workers: number, log: Logger, sharedStore?: SharedStoreLocation): Promise<ClusterPrimary> {
    const store = await openStore(dataDir, sharedStore, log);
    let pool: WorkerPool | undefined;
    let unsubscribe = () => {};
    try {
      // Replicas sharing the store share the CA, its certificates and the ticket keys (shared-pki.ts).
      const shared = store.replicas ? store : undefined;
      const ca = shared ? await sharedLocalCa(shared, dataDir) : await loadOrCreateLocalCa(dataDir);
      const certificates = new ServerCertificates(dataDir, ca, { issue: true, ...(shared ? { shared } : {}) });
      const seed = shared ? await sharedTicketKeySeed(shared) : undefined;
      // The primary rotates the shared ticket keys on schedule; its workers follow (gateway.ts).
      const stopRotation = shared && seed ? followTicketKeys(shared, seed, () => {}, { checkMs: 60_000, rotateMs: 12 * 60 * 60 * 1000 }) : () => {};
      const prepare = async () => Promise.all([certificates.fallback(), certificates.forEnvironments((await store.list({ type: ENVIRONMENT_TYPE })).map(environmentView))]);
      await prepare();
      const started = new WorkerPool(workers, log, seed);
      pool = started;
      const unsubscribeRevisions = store.subscribe((revision) => {
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
      return new ClusterPrimary(store, dataDir, ca, started, addresses, unsubscribe);
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

  /** Drains the workers (at most graceMs, default 10 s) and closes the store. */
  async close(graceMs = 10_000): Promise<void> {
    this.#unsubscribe();
    await this.#pool.stop(graceMs);
    await this.store.close();
  }
}
