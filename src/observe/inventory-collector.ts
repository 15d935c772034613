// The client-certificate inventory's write path, off the hot path and bounded whatever the traffic:
// a finished handshake with a certificate updates one entry of a pending map (at most MAX_PENDING
// distinct certificates; a flood of new ones beyond that is counted as dropped, never kept), and a
// timer writes at most `maxRows` entries per interval to the store in one transaction. With
// --workers, each worker's collector sends its drained entries to the primary over IPC, whose own
// collector merges them and is the only writer.
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { combineSeen, type ClientCertificateInventory, type SeenCertificate } from '../store/inventory.ts';
import type { ConnectionVerdict } from './verdict.ts';

export const INVENTORY_LIMITS = Object.freeze({
  /** Distinct (app, certificate) pairs waiting to be written. */
  maxPending: 10_000,
  /** Rows written per interval: the store's write rate is bounded by maxRows / intervalMs. */
  maxRows: 1_000,
  intervalMs: 1_000,
});

type Pending = { -readonly [K in keyof SeenCertificate]: SeenCertificate[K] };

export class InventoryCollector {
  readonly #pending = new Map<string, Pending>();
  readonly #maxPending: number;
  /** New certificates not kept because the pending map was full. */
  dropped = 0;

  constructor(maxPending = INVENTORY_LIMITS.maxPending) {
    this.#maxPending = maxPending;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** One connection of `app` (its lower-cased id) with this certificate. */
  add(app: string, verdict: ConnectionVerdict, now: number): void {
    const thumbprint = verdict.thumbprint;
    if (thumbprint === undefined) return;
    const key = `${app}\n${thumbprint}`;
    const pending = this.#pending.get(key);
    const time = new Date(now).toISOString();
    if (pending !== undefined) {
      pending.connectionCount++;
      pending.lastSeen = time;
      pending.lastVerdict = verdict.code;
      return;
    }
    if (this.#pending.size >= this.#maxPending) {
      this.dropped++;
      return;
    }
    this.#pending.set(key, {
      app,
      thumbprint,
      subject: verdict.subject ?? '',
      issuer: verdict.issuer ?? '',
      serialNumber: verdict.serial ?? '',
      subjectAlternativeNames: verdict.sans ?? [],
      notBefore: verdict.notBefore ?? '',
      notAfter: verdict.notAfter ?? '',
      firstSeen: time,
      lastSeen: time,
      connectionCount: 1,
      lastVerdict: verdict.code,
    });
  }

  /** Entries drained elsewhere (a worker's batch, in the primary): merged, within the same bound. */
  merge(entries: readonly SeenCertificate[]): void {
    for (const entry of entries) {
      const key = `${entry.app}\n${entry.thumbprint}`;
      const pending = this.#pending.get(key);
      if (pending !== undefined) {
        this.#pending.set(key, combineSeen(pending, entry));
      } else if (this.#pending.size >= this.#maxPending) {
        this.dropped++;
      } else {
        this.#pending.set(key, { ...entry });
      }
    }
  }

  /** Takes at most `max` entries out, oldest first. */
  drain(max: number): SeenCertificate[] {
    const out: SeenCertificate[] = [];
    for (const [key, entry] of this.#pending) {
      if (out.length >= max) break;
      out.push(entry);
      this.#pending.delete(key);
    }
    return out;
  }
}

export interface InventoryWriterOptions {
  readonly intervalMs?: number;
  readonly maxRows?: number;
  /** Certificates not seen for this long are pruned (checked every hour). */
  readonly retentionMs: number;
  /** Where the writer's metrics go (rows written, pending, dropped). */
  readonly registry?: Registry | undefined;
}

const PRUNE_EVERY_MS = 3_600_000;

/** The one writer of the inventory (single process, or the primary). */
export class InventoryWriter {
  readonly #collector: InventoryCollector;
  readonly #inventory: ClientCertificateInventory;
  readonly #log: Logger;
  readonly #maxRows: number;
  readonly #retentionMs: number;
  readonly #timer: NodeJS.Timeout;
  #lastPrune = 0;
  #writing: Promise<void> = Promise.resolve();
  /** Rows written so far (the bench checks the rate). */
  rowsWritten = 0;
  batches = 0;

  constructor(collector: InventoryCollector, inventory: ClientCertificateInventory, options: InventoryWriterOptions, log: Logger) {
    this.#collector = collector;
    this.#inventory = inventory;
    this.#log = log;
    this.#maxRows = options.maxRows ?? INVENTORY_LIMITS.maxRows;
    this.#retentionMs = options.retentionMs;
    this.#timer = setInterval(() => void this.flush(), options.intervalMs ?? INVENTORY_LIMITS.intervalMs);
    this.#timer.unref();
    if (options.registry) this.#registerMetrics(options.registry);
  }

  #registerMetrics(registry: Registry): void {
    const writer = this;
    const collector = this.#collector;
    const registers = [registry];
    new Counter({ name: 'certgate_inventory_rows_written_total', help: 'Client-certificate inventory rows written to the store (at most 1,000 a second)', registers, collect() { this.reset(); this.inc(writer.rowsWritten); } });
    new Gauge({ name: 'certgate_inventory_pending', help: 'Distinct app/certificate pairs waiting to be written (at most 10,000)', registers, collect() { this.set(collector.size); } });
    new Counter({ name: 'certgate_inventory_dropped_total', help: 'New certificates not recorded because the pending map was full (a flood of distinct certificates)', registers, collect() { this.reset(); this.inc(collector.dropped); } });
  }

  /** Writes one batch (at most maxRows); one at a time. */
  flush(): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      const batch = this.#collector.drain(this.#maxRows);
      try {
        if (batch.length > 0) {
          await this.#inventory.recordBatch(batch);
          this.rowsWritten += batch.length;
          this.batches++;
        }
        if (Date.now() - this.#lastPrune >= PRUNE_EVERY_MS) {
          this.#lastPrune = Date.now();
          const pruned = await this.#inventory.prune(new Date(Date.now() - this.#retentionMs));
          if (pruned > 0) this.#log.info({ pruned }, 'client certificates not seen within the retention pruned from the inventory');
        }
      } catch (error) {
        // The store is busy or gone: these connections go uncounted rather than pile up.
        this.#log.warn({ err: error, rows: batch.length }, 'client-certificate inventory batch not written');
      }
    });
    return this.#writing;
  }

  /** Stops the timer and writes what is pending (at most one more batch per call of flush). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    while (this.#collector.size > 0) {
      const before = this.#collector.size;
      await this.flush();
      if (this.#collector.size >= before) break;
    }
  }
}
