// One process per core on the shared ports (node:cluster). The primary owns the store's writes
// (the management API) and tells the workers of each committed revision; each worker runs the
// ingress, compiles its own snapshot from the store, and reports each compilation's outcome (served,
// with what it left out, or failed). A write is answered once every ready worker compiled it, with
// the worst of their outcomes: a worker that cannot build it makes the write fail. Workers share a per-run TLS ticket-key ring, so a
// session resumes whichever worker the next connection lands on.
import cluster, { type Worker } from 'node:cluster';
import { newTicketRing } from '../ingress/ticket-keys.ts';
import type { Logger } from 'pino';
import type { IngressAddresses } from '../ingress/ingress.ts';
import { mergeOutcomes, type RevisionOutcome } from '../model/outcome.ts';
import { Gateway, type GatewayOptions } from './gateway.ts';
import { RevisionWaiters } from './revision-waiters.ts';
import { mergeRecent, type RefusalEntry } from '../observe/refusals.ts';
import { INVENTORY_LIMITS } from '../observe/inventory-collector.ts';
import type { SeenCertificate } from '../store/inventory.ts';

type ToWorker = { type: 'revision'; revision: number } | { type: 'stop'; graceMs: number } | { type: 'refusals'; id: number; top: number } | { type: 'reopen-logs' };
type ToPrimary =
  | { type: 'ready'; addresses: IngressAddresses; outcome: RevisionOutcome }
  | { type: 'compiled'; outcome: RevisionOutcome }
  | { type: 'failed'; message: string }
  | { type: 'refusals'; id: number; entries: RefusalEntry[] }
  | { type: 'inventory'; entries: SeenCertificate[] };

/** A worker that does not answer a refusals request within this time is left out of the answer. */
const REFUSALS_TIMEOUT_MS = 2_000;

const RING_VARIABLE = 'CERTGATE_TICKET_KEY_RING';
const RESTART_DELAY_MS = 1_000;

/** In the primary: forks, watches and restarts the workers, and tracks what each serves. */
export class WorkerPool {
  readonly #log: Logger;
  readonly #count: number;
  /** Each ready worker's last outcome, by worker id. */
  readonly #compiled = new Map<number, RevisionOutcome>();
  #addresses: IngressAddresses | undefined;
  readonly #waiters = new RevisionWaiters();
  #stopping = false;
  #startFailure: string | undefined;
  #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Refusals requests waiting for the workers' answers, by id. */
  readonly #refusalRequests = new Map<number, { lists: RefusalEntry[][]; pending: number; done: () => void }>();
  #nextRequest = 0;
  /** Called with the revision every ready worker enforces, each time it may have moved. */
  readonly #onEnforced: ((revision: number) => void) | undefined;

  /** Called with each worker's batch of client certificates seen. */
  readonly #onInventory: ((entries: SeenCertificate[]) => void) | undefined;

  readonly #ring: Buffer | undefined;

  /** @param ring the ticket-key ring (replicas share one); by default one per run. */
  constructor(count: number, log: Logger, options: { ring?: Buffer | undefined; onEnforced?: (revision: number) => void; onInventory?: (entries: SeenCertificate[]) => void } = {}) {
    this.#count = count;
    this.#log = log;
    this.#ring = options.ring;
    this.#onEnforced = options.onEnforced;
    this.#onInventory = options.onInventory;
  }

  get count(): number {
    return this.#count;
  }

  /** Every worker serves. */
  get allReady(): boolean {
    return this.#compiled.size === this.#count;
  }

  /** The workers' most recent refusals, merged, newest first (a worker that does not answer in time is left out). */
  refusals(top: number): Promise<RefusalEntry[]> {
    const id = this.#nextRequest++;
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker?.isConnected() === true);
    return new Promise((resolve) => {
      const request = { lists: [] as RefusalEntry[][], pending: workers.length, done: () => {} };
      const timer = setTimeout(() => request.done(), REFUSALS_TIMEOUT_MS);
      request.done = () => {
        clearTimeout(timer);
        this.#refusalRequests.delete(id);
        resolve(mergeRecent(request.lists, top));
      };
      this.#refusalRequests.set(id, request);
      if (workers.length === 0) request.done();
      for (const worker of workers) worker.send({ type: 'refusals', id, top } satisfies ToWorker);
    });
  }

  /** Asks every worker to reopen its access-log file (SIGHUP after logrotate). */
  reopenLogs(): void {
    for (const worker of Object.values(cluster.workers ?? {})) if (worker?.isConnected()) worker.send({ type: 'reopen-logs' } satisfies ToWorker);
  }

  /** Forks the workers and resolves when all serve (or rejects if one cannot start). */
  start(): Promise<IngressAddresses> {
    const ring = (this.#ring ?? newTicketRing()).toString('base64');
    cluster.on('message', (worker, message: ToPrimary) => this.#onMessage(worker, message));
    cluster.on('exit', (worker, code, signal) => this.#onExit(worker, code, signal, ring));
    for (let i = 0; i < this.#count; i++) cluster.fork({ [RING_VARIABLE]: ring });
    return new Promise((resolve, reject) => {
      this.#readyWaiters.push({ resolve: () => resolve(this.#addresses!), reject });
    });
  }

  /** Tells every worker that the store is at `revision`. */
  broadcast(revision: number): void {
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker?.isConnected()) worker.send({ type: 'revision', revision } satisfies ToWorker);
    }
  }

  /** Resolves once every ready worker compiled `revision` or later, with the worst of their outcomes. */
  waitForRevision(revision: number): Promise<RevisionOutcome> {
    return this.#waiters.wait(revision, this.#merged());
  }

  /** The ready workers' last outcomes, merged. */
  get lastOutcome(): RevisionOutcome {
    return this.#merged();
  }

  /** Asks every worker to drain and waits (at most graceMs + 2 s) for them to exit. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
    const exited = workers.map((worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve()))));
    for (const worker of workers) if (worker.isConnected()) worker.send({ type: 'stop', graceMs } satisfies ToWorker);
    const deadline = setTimeout(() => workers.forEach((worker) => worker.process.kill('SIGKILL')), graceMs + 2_000);
    await Promise.all(exited);
    clearTimeout(deadline);
  }

  #onMessage(worker: Worker, message: ToPrimary): void {
    if (message.type === 'ready') {
      this.#addresses ??= message.addresses;
      this.#compiled.set(worker.id, message.outcome);
      if (this.#compiled.size === this.#count) for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
    } else if (message.type === 'compiled') {
      const previous = this.#compiled.get(worker.id);
      if (!previous || message.outcome.revision >= previous.revision) this.#compiled.set(worker.id, message.outcome);
    } else if (message.type === 'failed') {
      this.#startFailure ??= message.message;
    } else if (message.type === 'refusals') {
      const request = this.#refusalRequests.get(message.id);
      if (request) {
        request.lists.push(message.entries);
        if (--request.pending === 0) request.done();
      }
      return;
    } else if (message.type === 'inventory') {
      // At most INVENTORY_LIMITS.maxRows per message and per second from each worker.
      this.#onInventory?.(message.entries.slice(0, INVENTORY_LIMITS.maxRows));
      return;
    } else {
      // Not ours (prom-client's metrics protocol shares the channel).
      return;
    }
    this.#release();
  }

  #onExit(worker: Worker, code: number | null, signal: string | null, ring: string): void {
    const wasReady = this.#compiled.delete(worker.id);
    this.#release();
    if (this.#stopping) return;
    if (!wasReady && this.#addresses === undefined) {
      // A worker that dies before the pool ever served: the configuration is wrong (a port taken, say).
      const reason = this.#startFailure ?? `exit ${code ?? signal}`;
      for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(new Error(reason));
      return;
    }
    this.#log.error({ worker: worker.id, code, signal }, 'ingress worker died; starting another');
    setTimeout(() => {
      if (!this.#stopping) cluster.fork({ [RING_VARIABLE]: ring });
    }, RESTART_DELAY_MS).unref();
  }

  /** The ready workers' outcomes as one; with none ready, waiters are released (nothing serves). */
  #merged(): RevisionOutcome {
    const outcomes = [...this.#compiled.values()];
    return outcomes.length === 0 ? { revision: Number.POSITIVE_INFINITY, problems: [] } : mergeOutcomes(outcomes);
  }

  #release(): void {
    const merged = this.#merged();
    this.#waiters.release(merged);
    if (this.#compiled.size > 0) this.#onEnforced?.(merged.revision);
  }
}

/** In a worker: runs the ingress, follows the primary's revisions, and drains on request. */
export async function runWorker(options: Omit<GatewayOptions, 'ticketRing' | 'pollIntervalMs' | 'onCompiled' | 'issueServerCertificates'>, log: Logger): Promise<void> {
  const send = (message: ToPrimary) => {
    if (process.connected) process.send?.(message);
  };
  let gateway: Gateway | undefined;
  let stopRequested: number | undefined;
  let stopping = false;
  const stop = (graceMs: number) => {
    // A stop that comes while the gateway is still starting is carried out as soon as it has started.
    if (!gateway) {
      stopRequested ??= graceMs;
      return;
    }
    if (stopping) return;
    stopping = true;
    // The certificates seen since the last batch: the primary writes them before it stops.
    const entries = gateway.ingress.observer.inventory?.drain(INVENTORY_LIMITS.maxRows) ?? [];
    if (entries.length > 0) send({ type: 'inventory', entries });
    void gateway.close(graceMs).finally(() => process.exit(0));
  };
  // Listening before the gateway starts: a message sent meanwhile must not be lost.
  process.on('message', (message: ToWorker) => {
    if (message.type === 'revision') void gateway?.refresh();
    else if (message.type === 'stop') stop(message.graceMs);
    else if (message.type === 'refusals') send({ type: 'refusals', id: message.id, entries: gateway ? gateway.ingress.observer.refusals.recent(Math.min(message.top, 1_000)) : [] });
    else if (message.type === 'reopen-logs') gateway?.ingress.observer.accessLog?.reopen();
  });
  // The primary is gone (even killed with SIGKILL): stop serving rather than run unmanaged.
  process.on('disconnect', () => stop(1_000));
  // A terminal's Ctrl-C reaches the whole process group: the primary coordinates the stop.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => stop(10_000));
  const ring = process.env[RING_VARIABLE];
  try {
    gateway = await Gateway.start(
      {
        ...options,
        ...(ring ? { ticketRing: Buffer.from(ring, 'base64') } : {}),
        // The IPC message is the fast path; polling covers a message that never came.
        pollIntervalMs: 1_000,
        // The primary issues them, so that every worker serves the same ones.
        issueServerCertificates: false,
        onCompiled: (outcome) => send({ type: 'compiled', outcome }),
      },
      log.child({ worker: cluster.worker?.id }),
    );
  } catch (error) {
    // The primary reports it (once, for all workers) and stops.
    send({ type: 'failed', message: (error as Error).message });
    process.disconnect?.();
    process.exitCode = 1;
    return;
  }
  if (stopRequested !== undefined) {
    stop(stopRequested);
    return;
  }
  // The certificates seen go to the primary, the inventory's only writer: one bounded batch a second.
  const inventory = gateway.ingress.observer.inventory;
  if (inventory) {
    const timer = setInterval(() => {
      const entries = inventory.drain(INVENTORY_LIMITS.maxRows);
      if (entries.length > 0) send({ type: 'inventory', entries });
    }, INVENTORY_LIMITS.intervalMs);
    timer.unref();
  }
  send({ type: 'ready', addresses: gateway.addresses, outcome: gateway.lastOutcome });
}
