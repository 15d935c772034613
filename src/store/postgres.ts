// The PostgreSQL store, for N replicas sharing one database. Every write is one transaction that
// first locks the revision row, so writes from every replica are serialised (a read-modify-write's
// checks, such as host-name uniqueness, hold across replicas) and revisions are gapless. The change
// feed is LISTEN/NOTIFY carrying only the new revision: a listener re-reads the revision after
// every (re)connect, since notifications sent while it was disconnected are lost, and a slow poll
// backs both up.
//
// postgres.js rather than pg: its LISTEN connection reconnects and re-listens by itself (with an
// onlisten hook to resynchronise on every reconnect), it pipelines queries on its connections, it
// has no native parts to build, and its tagged templates always send parameters apart from SQL.
import { AsyncLocalStorage } from 'node:async_hooks';
import postgres, { type Sql, type TransactionSql } from 'postgres';
import { resourceKey, type ResourceDocument, type StoredResource } from '../model/resources.ts';
import { migratePostgres } from './postgres-migrations.ts';
import { guard } from './postgres-errors.ts';
import { PostgresInventory } from './postgres-inventory.ts';
import { PostgresConsoleSessions } from './postgres-console-sessions.ts';
import type { ConsoleSessionStore } from './console-sessions.ts';
import type { ClientCertificateInventory } from './inventory.ts';

export { isUnreachable } from './postgres-errors.ts';
import { changeLogCovers, checkPreconditions, scopePrefix, stampDocument } from './write-rules.ts';
import { open as openSealed, seal, type StoreKey } from './secret-box.ts';
import { saveMirror, updateMirror } from './mirror.ts';
import { CHANGE_LOG_REVISIONS, type Change, type ChangeListener, type ChangeSet, type ListQuery, type PutOptions, type PutResult, type Store, type WriteOptions } from './store.ts';
import type { ReplicaRegistry, ReplicaReport } from './replicas.ts';
import type { RevisionOutcome } from '../model/outcome.ts';

/** The NOTIFY channel of committed revisions. */
export const REVISION_CHANNEL = 'certgate_revision';
/** The NOTIFY channel of replicas serving a new revision (its payload: the replica's name). */
export const REPLICA_CHANNEL = 'certgate_replica';
/** A replica that has not reported for this long is not waited for, and is reported stale. */
export const DEFAULT_LIVE_WITHIN_MS = 5_000;
/** A replica gone this long leaves the registry (diagnostics stay bounded). */
const FORGET_AFTER_SECONDS = 3_600;
/** The backstop poll: catches a revision whose notification was lost. */
const DEFAULT_POLL_MS = 5_000;

export interface PostgresStoreOptions {
  /** The keys secrets are encrypted at rest with (secret-box.ts): the first seals, all open. */
  readonly keys: readonly StoreKey[];
  /** How often the revision is polled besides LISTEN (default 5 s). */
  readonly pollIntervalMs?: number;
  /** Connections in the pool (default 10). */
  readonly maxConnections?: number;
  /** Seconds to wait for a connection before a query fails (default 5). */
  readonly connectTimeoutSeconds?: number;
  /** A replica is live when it reported within this (default 5 s). */
  readonly liveWithinMs?: number;
  /** Where to save the last configuration read (mirror.ts), for a start while the database is down. */
  readonly mirrorPath?: string;
}

type Queryable = Sql | TransactionSql;

export class PostgresStore implements Store {
  readonly #sql: Sql;
  readonly #listeners = new Set<ChangeListener>();
  /** The transaction of the read-modify-write whose `change` is running (its reads go through it). */
  readonly #transaction = new AsyncLocalStorage<TransactionSql>();
  /** The highest revision listeners heard of: a revision is announced once, whichever path brings it. */
  #heard = 0;
  #poll: NodeJS.Timeout | undefined;
  #closed: Promise<void> | undefined;
  readonly replicas: ReplicaRegistry;
  /** The client-certificate inventory, in the same database (each replica writes its own batches). */
  readonly inventory: ClientCertificateInventory;
  /** The console's sessions, so a user signed in through one replica is signed in on all. */
  readonly consoleSessions: ConsoleSessionStore;
  readonly #replicaListeners = new Set<() => void>();

  readonly #keys: readonly StoreKey[];
  #mirrorPath: string | undefined;
  /** The mirror being written, and whether another revision came meanwhile. */
  #mirroring: Promise<void> | undefined;
  #mirrorAgain = false;
  /** The revision the mirror file holds, once this store saved it (then changes update it in place). */
  #mirrored: number | undefined;

  private constructor(sql: Sql, liveWithinMs: number, keys: readonly StoreKey[]) {
    this.#sql = sql;
    this.#keys = keys;
    this.replicas = replicaRegistry(sql, liveWithinMs, this.#replicaListeners);
    this.inventory = new PostgresInventory(sql);
    this.consoleSessions = new PostgresConsoleSessions(sql);
  }

  /** Connects, migrates (once, under an advisory lock) and starts following the change feed. */
  static async open(url: string, options: PostgresStoreOptions): Promise<PostgresStore> {
    if (options.keys.length === 0) throw new Error('the PostgreSQL store needs a key to encrypt its secrets with');
    const sql = postgres(url, {
      max: options.maxConnections ?? 10,
      connect_timeout: options.connectTimeoutSeconds ?? 5,
      // PostgreSQL's NOTICEs (an IF NOT EXISTS that found the table) are not ours to print.
      onnotice: () => {},
      // A statement that hangs (a lock held by a stuck session) fails instead of holding a connection.
      connection: { statement_timeout: 30_000, application_name: 'certgate' },
    });
    const store = new PostgresStore(sql, options.liveWithinMs ?? DEFAULT_LIVE_WITHIN_MS, options.keys);
    store.#mirrorPath = options.mirrorPath;
    try {
      await migratePostgres(sql);
      await store.#reseal();
      store.#heard = await store.revision();
      await sql.listen(REVISION_CHANNEL, (payload) => store.#announce(Number(payload)), () => void store.#resync());
      await sql.listen(REPLICA_CHANNEL, () => {
        for (const listener of store.#replicaListeners) listener();
      });
      store.#poll = setInterval(() => void store.#resync(), options.pollIntervalMs ?? DEFAULT_POLL_MS);
      store.#poll.unref();
      await store.#saveMirror();
      return store;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  async get(id: string): Promise<StoredResource | undefined> {
    return guard(() => readOne(this.#reader(), id));
  }

  async list(query: ListQuery): Promise<StoredResource[]> {
    return guard(() => this.#list(query));
  }

  async #list(query: ListQuery): Promise<StoredResource[]> {
    const sql = this.#reader();
    const type = query.type.toLowerCase();
    // COLLATE "C": byte order, as SQLite orders, whatever the database's locale.
    const rows =
      query.scope === undefined
        ? await sql<{ doc: string }[]>`SELECT doc FROM resources WHERE type = ${type} ORDER BY key COLLATE "C"`
        : await sql<{ doc: string }[]>`SELECT doc FROM resources WHERE type = ${type} AND left(key, length(${scopePrefix(query.scope)})) = ${scopePrefix(query.scope)} ORDER BY key COLLATE "C"`;
    return rows.map((row) => JSON.parse(row.doc) as StoredResource);
  }

  async put(doc: ResourceDocument, options: PutOptions = {}): Promise<PutResult> {
    const { secret, ...writeOptions } = options;
    return this.update(doc.id, () => (secret ? { doc, secret } : { doc }), writeOptions);
  }

  async update(id: string, change: (current: StoredResource | undefined) => Change | Promise<Change>, options: WriteOptions = {}): Promise<PutResult> {
    const result = await this.#write(async (tx, revision) => {
      const current = await readOne(tx, id);
      checkPreconditions(id, current, options);
      const { doc: next, secret } = await this.#transaction.run(tx, () => change(current));
      const stored = stampDocument(id, next, current, options);
      const key = resourceKey(id);
      await tx`INSERT INTO resources (key, type, doc) VALUES (${key}, ${stored.type.toLowerCase()}, ${JSON.stringify(stored)})
               ON CONFLICT (key) DO UPDATE SET type = excluded.type, doc = excluded.doc`;
      if (secret) {
        await tx`INSERT INTO secrets (key, value) VALUES (${key}, ${seal(this.#keys, key, secret)}) ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
      }
      return { write: true, keys: [key], value: { resource: stored, created: current === undefined, revision: revision + 1 } };
    });
    return result;
  }

  async delete(id: string, options: WriteOptions = {}): Promise<{ deleted: boolean; revision: number }> {
    return this.#write<{ deleted: boolean }>(async (tx, revision) => {
      const current = await readOne(tx, id);
      checkPreconditions(id, current, options);
      if (!current) return { write: false, value: { deleted: false, revision } };
      const key = resourceKey(id);
      const deleted = await tx<{ key: string }[]>`DELETE FROM resources WHERE key = ${key} OR left(key, length(${scopePrefix(key)})) = ${scopePrefix(key)} RETURNING key`;
      return { write: true, keys: deleted.map((row) => row.key), value: { deleted: true, revision: revision + 1 } };
    });
  }

  async getSecret(id: string): Promise<Uint8Array | undefined> {
    return guard(async () => {
      const key = resourceKey(id);
      const [row] = await this.#reader()<{ value: Buffer }[]>`SELECT value FROM secrets WHERE key = ${key}`;
      return row ? new Uint8Array(openSealed(this.#keys, key, row.value)) : undefined;
    });
  }

  async revision(): Promise<number> {
    return guard(() => readRevision(this.#reader()));
  }

  async changesSince(revision: number): Promise<ChangeSet | undefined> {
    // One snapshot (repeatable read): the revision and the log rows committed with it.
    return guard(() =>
      this.#sql.begin('isolation level repeatable read read only', async (tx) => {
        const [row] = await tx<{ current: string; floor: string }[]>`
          SELECT (SELECT value FROM meta WHERE key = 'revision') AS current, (SELECT value FROM meta WHERE key = 'changes_from') AS floor`;
        const current = Number(row!.current);
        if (!changeLogCovers(revision, current, Number(row!.floor))) return undefined;
        const keys = await tx<{ key: string }[]>`SELECT key FROM changes WHERE revision > ${revision} GROUP BY key ORDER BY key COLLATE "C"`;
        return { revision: current, keys: keys.map((key) => key.key) };
      }),
    );
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#mirrorPath = undefined;
    await this.#mirroring;
    this.#listeners.clear();
    this.#replicaListeners.clear();
    clearInterval(this.#poll);
    this.#closed ??= this.#sql.end({ timeout: 2 });
    await this.#closed;
  }

  /**
   * One write transaction: the revision row is locked first (every writer, on every replica, queues
   * here), `work` writes and says whether it did; a write bumps the revision and notifies its
   * number on commit.
   */
  async #write<T>(work: (tx: TransactionSql, revision: number) => Promise<{ write: boolean; keys?: readonly string[]; value: T & { revision: number } }>): Promise<T & { revision: number }> {
    const done = await guard(() => this.#sql.begin(async (tx) => {
      const [row] = await tx<{ value: string }[]>`SELECT value FROM meta WHERE key = 'revision' FOR UPDATE`;
      const outcome = await work(tx, Number(row!.value));
      if (outcome.write) {
        const revision = outcome.value.revision;
        await tx`UPDATE meta SET value = ${revision} WHERE key = 'revision'`;
        // The change log (changesSince), in the same transaction, kept bounded.
        if (outcome.keys?.length) await tx`INSERT INTO changes ${tx(outcome.keys.map((key) => ({ revision, key })), 'revision', 'key')}`;
        await tx`DELETE FROM changes WHERE revision <= ${revision - CHANGE_LOG_REVISIONS}`;
        await tx`SELECT pg_notify(${REVISION_CHANNEL}, ${String(revision)})`;
      }
      return outcome;
    }));
    if (done.write) this.#announce(done.value.revision);
    return done.value;
  }

  /**
   * Key rotation: secrets sealed with another configured key are sealed again with the first, under
   * the write lock (a replica still running with only the old key reads what it can; see the
   * rotation steps in docs/scale-out.md). Returns how many were resealed.
   */
  async #reseal(): Promise<number> {
    if (this.#keys.length < 2) return 0;
    const current = Buffer.from(this.#keys[0]!.id, 'hex');
    return this.#sql.begin(async (tx) => {
      await tx`SELECT value FROM meta WHERE key = 'revision' FOR UPDATE`;
      const rows = await tx<{ key: string; value: Buffer }[]>`SELECT key, value FROM secrets WHERE substr(value, 5, 8) <> ${current}`;
      for (const row of rows) {
        await tx`UPDATE secrets SET value = ${seal(this.#keys, row.key, openSealed(this.#keys, row.key, row.value))} WHERE key = ${row.key}`;
      }
      return rows.length;
    });
  }

  #reader(): Queryable {
    return this.#transaction.getStore() ?? this.#sql;
  }

  /** After a (re)connect of the listener, and on every poll: whatever was missed is announced. */
  async #resync(): Promise<void> {
    if (this.#closed) return;
    try {
      this.#announce(await this.revision());
    } catch {
      // The database is unreachable: the next poll or reconnect tries again.
    }
  }

  #announce(revision: number): void {
    if (!Number.isSafeInteger(revision) || revision <= this.#heard) return;
    this.#heard = revision;
    for (const listener of this.#listeners) listener(revision);
    this.#mirrorSoon();
  }

  /** Saves the mirror after a change: one write at a time, and once more if changes came meanwhile. */
  #mirrorSoon(): void {
    if (!this.#mirrorPath || this.#closed) return;
    if (this.#mirroring) {
      this.#mirrorAgain = true;
      return;
    }
    this.#mirroring = this.#saveMirror()
      .catch(() => {
        // The database went away meanwhile: the previous mirror stays; the next change tries again.
      })
      .finally(() => {
        this.#mirroring = undefined;
        if (this.#mirrorAgain) {
          this.#mirrorAgain = false;
          this.#mirrorSoon();
        }
      });
  }

  /**
   * One consistent read (repeatable read) into the mirror file: the keys changed since the
   * revision it holds when the change log covers them, else everything.
   */
  async #saveMirror(): Promise<void> {
    const path = this.#mirrorPath;
    if (!path) return;
    const since = this.#mirrored;
    const rows = await this.#sql.begin('isolation level repeatable read read only', async (tx) => {
      const revision = await readRevision(tx);
      const [floor] = await tx<{ value: string }[]>`SELECT value FROM meta WHERE key = 'changes_from'`;
      if (since !== undefined && changeLogCovers(since, revision, Number(floor!.value))) {
        const keys = (await tx<{ key: string }[]>`SELECT key FROM changes WHERE revision > ${since} GROUP BY key`).map((row) => row.key);
        if (keys.length === 0) return { revision, keys, resources: [], secrets: [] };
        return {
          revision,
          keys,
          resources: await tx<{ key: string; type: string; doc: string }[]>`SELECT key, type, doc FROM resources WHERE key IN ${tx(keys)}`,
          secrets: (await tx<{ key: string; value: Buffer }[]>`SELECT key, value FROM secrets WHERE key IN ${tx(keys)}`).map((row) => ({ key: row.key, value: new Uint8Array(row.value) })),
        };
      }
      return {
        revision,
        keys: undefined,
        resources: await tx<{ key: string; type: string; doc: string }[]>`SELECT key, type, doc FROM resources`,
        secrets: (await tx<{ key: string; value: Buffer }[]>`SELECT key, value FROM secrets`).map((row) => ({ key: row.key, value: new Uint8Array(row.value) })),
      };
    });
    this.#mirrored = undefined;
    if (rows.keys === undefined || since === undefined || !updateMirror(path, since, { ...rows, keys: rows.keys })) {
      if (rows.keys !== undefined) return this.#saveMirror(); // the file was not where this store left it: whole, once more
      saveMirror(path, rows);
    }
    this.#mirrored = rows.revision;
  }
}

async function readOne(sql: Queryable, id: string): Promise<StoredResource | undefined> {
  const [row] = await sql<{ doc: string }[]>`SELECT doc FROM resources WHERE key = ${resourceKey(id)}`;
  return row ? (JSON.parse(row.doc) as StoredResource) : undefined;
}

async function readRevision(sql: Queryable): Promise<number> {
  const [row] = await sql<{ value: string }[]>`SELECT value FROM meta WHERE key = 'revision'`;
  return Number(row!.value);
}

function replicaRegistry(sql: Sql, liveWithinMs: number, listeners: Set<() => void>): ReplicaRegistry {
  /** What each replica of this process last reported: a new revision is announced, a heartbeat is not. */
  const reported = new Map<string, number>();
  return {
    async report(name: string, outcome: RevisionOutcome) {
      await sql`INSERT INTO replicas (name, revision, outcome) VALUES (${name}, ${outcome.revision}, ${JSON.stringify(outcome)})
                ON CONFLICT (name) DO UPDATE SET heartbeat = now(),
                  -- A heartbeat that raced a newer report must not take the replica back.
                  revision = greatest(replicas.revision, excluded.revision),
                  outcome = CASE WHEN excluded.revision >= replicas.revision THEN excluded.outcome ELSE replicas.outcome END`;
      if (reported.get(name) !== outcome.revision) {
        reported.set(name, outcome.revision);
        await sql`SELECT pg_notify(${REPLICA_CHANNEL}, ${name})`;
        await sql`DELETE FROM replicas WHERE heartbeat < now() - make_interval(secs => ${FORGET_AFTER_SECONDS})`;
      }
    },
    async remove(name: string) {
      reported.delete(name);
      await sql`DELETE FROM replicas WHERE name = ${name}`;
    },
    async list(): Promise<ReplicaReport[]> {
      const rows = await sql<{ name: string; revision: string; outcome: string; heartbeat: Date; live: boolean }[]>`
        SELECT name, revision, outcome, heartbeat, heartbeat > now() - make_interval(secs => ${liveWithinMs / 1000}) AS live
        FROM replicas ORDER BY name`;
      return rows.map((row) => ({
        name: row.name,
        revision: Number(row.revision),
        outcome: JSON.parse(row.outcome) as RevisionOutcome,
        lastHeartbeat: row.heartbeat.toISOString(),
        live: row.live,
      }));
    },
    onReport(listener: () => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
