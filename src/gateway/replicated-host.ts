// One replica of several sharing a store (PostgreSQL): the host it wraps (one process or a primary
// with workers) serves as on one machine; this adds the replica's part. It reports the revision it
// serves to the registry after each compilation and heartbeats meanwhile, and a write it takes is
// answered only once every live replica reports that revision (or a later one). A replica that
// stopped heartbeating is not waited for and is named in the outcome's staleReplicas.
import type { Logger } from 'pino';
import type { RevisionOutcome } from '../model/outcome.ts';
import type { ReplicaRegistry } from '../store/replicas.ts';
import type { IngressHost } from './ingress-host.ts';
import { replicaProgress } from './replica-progress.ts';

export interface ReplicaOptions {
  readonly name: string;
  /** How often the replica says it is alive (default 1 s; the registry's liveness window is 5 s). */
  readonly heartbeatMs?: number;
  /** How long a write waits for the other live replicas before it is answered with an error (default 10 s). */
  readonly waitTimeoutMs?: number;
}

/** Between looks at the registry while a write waits, besides the replicas' notifications. */
const RECHECK_MS = 100;

export class ReplicatedHost implements IngressHost {
  readonly #inner: IngressHost;
  readonly #registry: ReplicaRegistry;
  readonly #log: Logger;
  readonly name: string;
  readonly #waitTimeoutMs: number;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #unsubscribe: () => void;
  #closed = false;

  private constructor(inner: IngressHost, registry: ReplicaRegistry, options: ReplicaOptions, log: Logger) {
    this.#inner = inner;
    this.#registry = registry;
    this.#log = log;
    this.name = options.name;
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 10_000;
    // Each revision the store announces is reported once this replica compiled it.
    this.#unsubscribe = inner.store.subscribe((revision) => {
      void inner.waitForRevision(revision).then((outcome) => this.#report(outcome));
    });
    this.#heartbeat = setInterval(() => void this.#report(inner.lastOutcome), options.heartbeatMs ?? 1_000);
    this.#heartbeat.unref();
  }

  static async start(inner: IngressHost, registry: ReplicaRegistry, options: ReplicaOptions, log: Logger): Promise<ReplicatedHost> {
    const host = new ReplicatedHost(inner, registry, options, log.child({ replica: options.name }));
    await registry.report(options.name, inner.lastOutcome);
    return host;
  }

  get store() {
    return this.#inner.store;
  }
  get dataDir() {
    return this.#inner.dataDir;
  }
  get ca() {
    return this.#inner.ca;
  }
  get addresses() {
    return this.#inner.addresses;
  }
  get lastOutcome(): RevisionOutcome {
    return this.#inner.lastOutcome;
  }
  reservedPorts(): readonly number[] {
    return this.#inner.reservedPorts();
  }
  managementCertificate() {
    return this.#inner.managementCertificate();
  }
  // What the admin listener and the status API read: this replica's own processes.
  get workerCount(): number {
    return this.#inner.workerCount;
  }
  metrics() {
    return this.#inner.metrics();
  }
  readiness() {
    return this.#inner.readiness();
  }
  refusals(top: number) {
    return this.#inner.refusals(top);
  }
  reopenLogs(): void {
    this.#inner.reopenLogs();
  }

  /** This replica compiled `revision`, then every other live replica serves it: the merged outcome. */
  async waitForRevision(revision: number): Promise<RevisionOutcome> {
    const local = await this.#inner.waitForRevision(revision);
    if (local.error !== undefined) return local;
    void this.#report(local);
    const deadline = Date.now() + this.#waitTimeoutMs;
    for (;;) {
      let progress;
      try {
        progress = replicaProgress(await this.#registry.list(), this.name, revision, local);
      } catch (error) {
        return { ...local, error: `the other replicas' progress cannot be read (${(error as Error).message})` };
      }
      if (progress.outcome) return progress.outcome;
      const left = deadline - Date.now();
      if (left <= 0) {
        return { ...local, error: `the replicas ${progress.pending.join(', ')} did not serve revision ${revision} within ${this.#waitTimeoutMs / 1000} s` };
      }
      await this.#nextReport(Math.min(left, RECHECK_MS));
    }
  }

  async close(graceMs?: number): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#unsubscribe();
    // Leaving: the others stop waiting for this replica at once (not after the liveness window).
    await this.#registry.remove(this.name).catch((error: unknown) => this.#log.warn({ err: error }, 'could not leave the replica registry'));
    await this.#inner.close(graceMs);
  }

  async #report(outcome: RevisionOutcome): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#registry.report(this.name, outcome);
    } catch (error) {
      this.#log.warn({ err: error }, 'could not report to the replica registry');
    }
  }

  /** Resolves on the next replica report, or after `ms`. */
  #nextReport(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stop();
        resolve();
      };
      const timer = setTimeout(done, ms);
      const stop = this.#registry.onReport(done);
    });
  }
}
