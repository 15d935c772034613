// The gateway: store → change feed → snapshot compiler → ingress. Every committed write bumps the
// store's revision; the gateway gathers what the snapshot needs (including certificate files from
// the data dir), compiles it off the hot path and swaps it in. Writers can wait until their
// revision is live, so a write that returned is enforced for the next connection; they learn the
// compilation's outcome (what it left out, or that it failed), so a write that is not enforced is
// answered with an error.
import type { Logger } from 'pino';
import type { ControlPlaneHost } from '../control/control-plane.ts';
import type { ConfigurationProblem, RevisionOutcome } from '../model/outcome.ts';
import { Ingress, ingressPorts, type IngressAddresses, type IngressOptions } from '../ingress/ingress.ts';
import { compileSnapshot, TlsPolicyCache, type CompileResult, type ServerCredentials } from '../ingress/snapshot.ts';
import { IngressConfiguration, type BuildCounts } from './configuration.ts';
import { RevisionWaiters } from './revision-waiters.ts';
import { loadOrCreateLocalCa } from '../pki/local-ca.ts';
import { ServerCertificates } from './server-certificates.ts';
import { followTicketKeys, sharedLocalCa, sharedTicketRing } from './shared-pki.ts';
import type { IssuedCertificate } from '../pki/issue.ts';
import { openStore, type SharedStoreLocation } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { EnforcementClock } from '../observe/control-metrics.ts';
import { storeReachable, type ObservedHost, type Readiness } from '../observe/observed-host.ts';
import type { RefusalEntry } from '../observe/refusals.ts';
import { InventoryWriter } from '../observe/inventory-collector.ts';

/** Client certificates not seen for 90 days leave the inventory (--client-certificate-retention). */
export const DEFAULT_INVENTORY_RETENTION_MS = 90 * 86_400_000;

/** How often replicas replace their shared session-ticket keys (Caddy's default STEK rotation). */
const DEFAULT_TICKET_KEY_ROTATION_MS = 12 * 60 * 60 * 1000;

/** A revision that could not be built is tried again after this, doubling up to the maximum. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;

export interface GatewayOptions {
  readonly dataDir: string;
  readonly ingress: IngressOptions;
  /** An already open store; by default the shared one, else the embedded one in the data dir. */
  readonly store?: Store;
  /** The store several replicas share (src/store/open.ts). */
  readonly sharedStore?: SharedStoreLocation;
  /** Shared by the worker processes of one gateway, so TLS sessions resume on any of them. */
  readonly ticketRing?: Buffer;
  /**
   * Also check the store for changes this often. Needed when another process writes the store
   * (the in-process change feed only hears this process's writes); a worker also hears of them by IPC.
   */
  readonly pollIntervalMs?: number;
  /**
   * On a store replicas share: how often the shared session-ticket keys are replaced (default 12 h,
   * as Caddy's STEK rotation; only issuing hosts rotate, all follow within a minute).
   */
  readonly ticketKeyRotationMs?: number;
  /** Called after each compilation, whether the ingress serves its snapshot or it failed. */
  readonly onCompiled?: (outcome: RevisionOutcome) => void;
  /** Whether this process issues the server certificates (default); a worker reads the primary's. */
  readonly issueServerCertificates?: boolean;
}

/** The single-process host: store, compiler and ingress in this process (src/gateway/host.ts chooses it). */
export class Gateway implements ControlPlaneHost, ObservedHost {
  readonly workerCount = 1;
  /** Set when the ingress keeps metrics: commit → enforcement times. */
  #enforcement: EnforcementClock | undefined;
  /** Set where the inventory is written (not in a worker: the primary writes). */
  #inventoryWriter: InventoryWriter | undefined;
  readonly store: Store;
  readonly ingress: Ingress;
  readonly ca: IssuedCertificate;
  readonly dataDir: string;
  readonly #log: Logger;
  readonly #cache: TlsPolicyCache;
  readonly #certificates: ServerCertificates;
  readonly #configuration: IngressConfiguration;
  #counts: CompileCounts | undefined;
  #applied: number;
  /** The last compilation's outcome; its revision is the last one compiled (served or not). */
  #outcome: RevisionOutcome;
  #compiling: Promise<void> | undefined;
  readonly #waiters = new RevisionWaiters();
  #unsubscribe: () => void = () => {};
  #addresses: IngressAddresses | undefined;
  #onCompiled: ((outcome: RevisionOutcome) => void) | undefined;
  /** While the last build failed: the pending retry and the delay of the next one. */
  #retry: { timer: NodeJS.Timeout | undefined; delayMs: number; due: boolean } = { timer: undefined, delayMs: RETRY_FIRST_MS, due: false };
  #closed = false;

  private constructor(dataDir: string, store: Store, ca: IssuedCertificate, certificates: ServerCertificates, configuration: IngressConfiguration, ingress: Ingress, cache: TlsPolicyCache, outcome: RevisionOutcome, log: Logger) {
    this.dataDir = dataDir;
    this.#configuration = configuration;
    this.#certificates = certificates;
    this.store = store;
    this.ca = ca;
    this.ingress = ingress;
    this.#cache = cache;
    this.#applied = outcome.revision;
    this.#outcome = outcome;
    this.#log = log;
  }

  static async start(options: GatewayOptions, log: Logger): Promise<Gateway> {
    const store = options.store ?? (await openStore(options.dataDir, options.sharedStore, log));
    try {
      const issue = options.issueServerCertificates ?? true;
      // Replicas sharing the store share the CA, the certificates it issues and the ticket keys
      // (shared-pki.ts); a worker takes what its primary set up.
      const shared = store.replicas && issue ? store : undefined;
      const ca = shared ? await sharedLocalCa(shared, options.dataDir) : await loadOrCreateLocalCa(options.dataDir);
      const ring = options.ticketRing ?? (shared ? await sharedTicketRing(shared) : undefined);
      const cache = new TlsPolicyCache(ring, options.ingress.tlsCiphers);
      const rotationMs = options.ticketKeyRotationMs ?? DEFAULT_TICKET_KEY_ROTATION_MS;
      const stopTicketKeys =
        store.replicas && ring
          ? followTicketKeys(store, ring, (next) => {
              cache.rotateTicketKeys(next);
              log.info({ reason: 'ticket_keys_rotated' }, 'session-ticket keys rotated');
            }, { checkMs: Math.min(60_000, Math.max(50, rotationMs / 4)), ...(issue ? { rotateMs: rotationMs } : {}) })
          : () => {};
      const certificates = new ServerCertificates(options.dataDir, ca, { issue, ...(shared ? { shared } : {}) });
      const configuration = new IngressConfiguration(log);
      const { snapshot, problems, revision, counts } = await compileRevision(store, configuration, certificates, cache, true);
      logProblems(log, problems, revision);
      const ingress = new Ingress(snapshot, options.ingress, log);
      const gateway = new Gateway(options.dataDir, store, ca, certificates, configuration, ingress, cache, { revision, problems }, log);
      gateway.#counts = counts;
      gateway.#onCompiled = options.onCompiled;
      const registry = ingress.observer.metrics?.registry;
      // Only where writes commit (not in a worker: the primary measures across the workers).
      if (registry && options.issueServerCertificates !== false) gateway.#enforcement = new EnforcementClock(registry);
      const observe = options.ingress.observe;
      if (observe?.inventory && options.issueServerCertificates !== false) {
        gateway.#inventoryWriter = new InventoryWriter(observe.inventory, store.inventory, { retentionMs: observe.inventoryRetentionMs ?? DEFAULT_INVENTORY_RETENTION_MS, registry }, log);
      }
      const unsubscribe = store.subscribe((committed) => {
        gateway.#enforcement?.committed(committed);
        void gateway.refresh();
      });
      const poll = options.pollIntervalMs ? setInterval(() => void gateway.refresh(), options.pollIntervalMs) : undefined;
      poll?.unref();
      gateway.#unsubscribe = () => {
        unsubscribe();
        clearInterval(poll);
        stopTicketKeys();
      };
      gateway.#addresses = await ingress.listen();
      return gateway;
    } catch (error) {
      if (!options.store) await store.close();
      throw error;
    }
  }

  get addresses(): IngressAddresses {
    if (!this.#addresses) throw new Error('the gateway is not listening');
    return this.#addresses;
  }

  /** The ingress's own ports: no app may expose them as TCP ports. */
  reservedPorts(): readonly number[] {
    return this.#addresses ? ingressPorts(this.#addresses) : [];
  }

  managementCertificate(): Promise<ServerCredentials> {
    return this.#certificates.management();
  }

  /** The store revision the ingress serves. */
  get appliedRevision(): number {
    return this.#applied;
  }

  /** What the last compilation did (how many app specs and TLS policies it built), for tests and figures. */
  get lastCompileCounts(): CompileCounts | undefined {
    return this.#counts;
  }

  /** The outcome of the last compilation (at start: of the first). */
  get lastOutcome(): RevisionOutcome {
    return this.#outcome;
  }

  /** Recompiles if the store moved on; concurrent calls share one compilation run. */
  refresh(): Promise<void> {
    this.#compiling ??= this.#compileLoop().finally(() => {
      this.#compiling = undefined;
      // A write that came after the loop's last look but before this point found the run still set
      // and was told to wait for it: compile it now, or its writer would wait for ever.
      if (!this.#closed) void this.#refreshIfBehind();
    });
    return this.#compiling;
  }

  /**
   * Resolves once `revision` (or a later one) was compiled, with that compilation's outcome: served
   * (with what it left out), or failed while the previous snapshot keeps serving.
   */
  waitForRevision(revision: number): Promise<RevisionOutcome> {
    const promise = this.#waiters.wait(revision, this.#outcome);
    if (this.#outcome.revision < revision) void this.refresh();
    return promise;
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    const registry = this.ingress.observer.metrics?.registry;
    return registry ? { contentType: registry.contentType, body: await registry.metrics() } : { contentType: 'text/plain; charset=utf-8', body: '' };
  }

  async readiness(): Promise<Readiness> {
    const checks = { listening: this.#addresses !== undefined && !this.#closed, snapshot: this.ingress.snapshot !== undefined, store: !this.#closed && (await storeReachable(() => this.store.revision())) };
    return { ready: checks.listening && checks.snapshot && checks.store, checks, revision: this.#applied, lastBuildFailed: this.#outcome.error !== undefined };
  }

  /** SIGHUP: the access log's file is reopened (after logrotate moved it). */
  reopenLogs(): void {
    this.ingress.observer.accessLog?.reopen();
  }

  async refusals(top: number): Promise<RefusalEntry[]> {
    return this.ingress.observer.refusals.recent(top);
  }

  async close(graceMs?: number): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    clearTimeout(this.#retry.timer);
    await this.ingress.close(graceMs);
    await this.#compiling;
    await this.#inventoryWriter?.close();
    await this.store.close();
  }

  async #refreshIfBehind(): Promise<void> {
    try {
      if ((await this.store.revision()) > this.#outcome.revision) void this.refresh();
    } catch (error) {
      this.#log.error({ err: error }, 'the store revision could not be read');
    }
  }

  async #compileLoop(): Promise<void> {
    for (;;) {
      let revision: number;
      try {
        revision = await this.store.revision();
      } catch (error) {
        // The store cannot be read (a networked one that is down): the snapshot keeps serving.
        this.#log.error({ err: error }, 'the store revision could not be read; the previous snapshot stays');
        this.#scheduleRetry();
        return;
      }
      if (!(revision > this.#outcome.revision || this.#retry.due)) break;
      // A retry after a failed build reads everything again (the fallback), as the start does.
      const full = this.#retry.due;
      this.#retry.due = false;
      let outcome: RevisionOutcome;
      try {
        const compiled = await compileRevision(this.store, this.#configuration, this.#certificates, this.#cache, full);
        const { snapshot, problems } = compiled;
        revision = compiled.revision;
        this.#counts = compiled.counts;
        // Resolves once the TCP listeners match too, so a write is acknowledged only when they do.
        const all = [...problems, ...(await this.ingress.swap(snapshot))];
        logProblems(this.#log, all, revision);
        this.#applied = revision;
        outcome = { revision, problems: all };
        clearTimeout(this.#retry.timer);
        this.#retry = { timer: undefined, delayMs: RETRY_FIRST_MS, due: false };
        this.#log.info({ revision, routes: snapshot.routes.size }, 'route snapshot applied');
        this.#enforcement?.enforced(revision);
      } catch (error) {
        // The old snapshot keeps serving; the writers waiting for this revision hear that it is not
        // enforced (they are not left waiting), and the next write compiles anew.
        this.#log.error({ err: error, revision }, 'route snapshot could not be built; the previous one stays');
        this.ingress.observer.metrics?.snapshotFailures.inc();
        outcome = { revision, error: (error as Error).message, problems: [] };
        this.#scheduleRetry();
      }
      this.#outcome = outcome;
      this.#onCompiled?.(outcome);
      this.#waiters.release(outcome);
    }
  }

  /**
   * A failure that is not the configuration's (a data dir that cannot be written, say) can pass by
   * itself: the same revision is tried again, less often the longer it fails, so the ingress
   * catches up without waiting for another write.
   */
  #scheduleRetry(): void {
    if (this.#retry.timer || this.#closed) return;
    const delayMs = this.#retry.delayMs;
    this.#retry.delayMs = Math.min(delayMs * 2, RETRY_MAX_MS);
    this.#retry.timer = setTimeout(() => {
      this.#retry.timer = undefined;
      this.#retry.due = true;
      void this.refresh();
    }, delayMs);
    this.#retry.timer.unref();
  }
}

function logProblems(log: Logger, problems: readonly ConfigurationProblem[], revision: number): void {
  for (const { resource, reason, message } of problems) log.warn({ resource, reason, problem: message, revision }, 'configuration left out of the ingress');
}

/** What the last compilation did: a full read or the changes only, the app specs it built, the TLS work. */
export interface CompileCounts extends BuildCounts {
  /** Host routes whose TLS policy was looked up (an unchanged app's routes are reused without). */
  readonly policiesResolved: number;
  /** SecureContexts built. */
  readonly contextsCreated: number;
}

/** The store's documents (what changed since the last compilation) → route specs → the snapshot, with what either step left out. */
async function compileRevision(store: Store, configuration: IngressConfiguration, certificates: ServerCertificates, cache: TlsPolicyCache, full: boolean): Promise<CompileResult & { revision: number; counts: CompileCounts }> {
  const revision = await configuration.update(store, { full });
  const { specs: built, acmeChallenges, counts } = await configuration.build(certificates);
  const before = cache.counts;
  const compiled = compileSnapshot({ revision, specs: built.specs, tcpPorts: built.tcpPorts, drainGraceMs: built.drainGraceMs, environmentDomains: built.environmentDomains, acmeChallenges, fallbackCertificate: await certificates.fallback() }, cache);
  const after = cache.counts;
  return {
    revision,
    snapshot: compiled.snapshot,
    problems: [...built.problems, ...compiled.problems],
    counts: { ...counts, policiesResolved: after.policiesResolved - before.policiesResolved, contextsCreated: after.contextsCreated - before.contextsCreated },
  };
}
