// The embedded store on node:sqlite. WAL with synchronous=FULL: a committed write survives a crash
// of the process or the machine; every write is one transaction.
import { DatabaseSync } from 'node:sqlite';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { resourceKey, type ResourceDocument, type StoredResource } from '../model/resources.ts';
import { migrate } from './migrations.ts';
import { checkPreconditions, scopePrefix, stampDocument } from './write-rules.ts';
import type {
  Change,
  ChangeListener,
  ListQuery,
  PutOptions,
  PutResult,
  Store,
  WriteOptions,
} from './store.ts';

interface Row {
  doc: string;
}

/** The embedded store's file in a data dir. */
export const DATABASE_FILE = 'certgate.db';

/** The embedded store of a data dir (`<data-dir>/certgate.db`), created on first use. */
export function openDataDirStore(dataDir: string): SqliteStore {
  return new SqliteStore(join(dataDir, DATABASE_FILE));
}

export class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #listeners = new Set<ChangeListener>();
  readonly #statements;
  /** The tail of the write queue: one read-modify-write at a time on the one connection. */
  #writing: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(path);
    // The database holds secrets (certificate keys, principal hashes, the token key): owner only.
    // SQLite gives its -wal and -shm files the same mode.
    if (path !== ':memory:') chmodSync(path, 0o600);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
    migrate(this.#db);
    this.#statements = {
      get: this.#db.prepare('SELECT doc FROM resources WHERE key = ?'),
      listByType: this.#db.prepare('SELECT doc FROM resources WHERE type = ? ORDER BY key'),
      listByTypeInScope: this.#db.prepare(
        'SELECT doc FROM resources WHERE type = ? AND substr(key, 1, length(?)) = ? ORDER BY key',
      ),
      upsert: this.#db.prepare(
        'INSERT INTO resources (key, type, doc) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET type = excluded.type, doc = excluded.doc',
      ),
      deleteTree: this.#db.prepare('DELETE FROM resources WHERE key = ? OR substr(key, 1, length(?)) = ?'),
      getSecret: this.#db.prepare('SELECT value FROM secrets WHERE key = ?'),
      putSecret: this.#db.prepare(
        'INSERT INTO secrets (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
      revision: this.#db.prepare("SELECT CAST(value AS INTEGER) AS revision FROM meta WHERE key = 'revision'"),
      bumpRevision: this.#db.prepare(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision' RETURNING CAST(value AS INTEGER) AS revision",
      ),
    };
  }

  async get(id: string): Promise<StoredResource | undefined> {
    return this.#get(id);
  }

  #get(id: string): StoredResource | undefined {
    const row = this.#statements.get.get(resourceKey(id)) as Row | undefined;
    return row ? (JSON.parse(row.doc) as StoredResource) : undefined;
  }

  async list(query: ListQuery): Promise<StoredResource[]> {
    const type = query.type.toLowerCase();
    const rows = (
      query.scope === undefined
        ? this.#statements.listByType.all(type)
        : this.#statements.listByTypeInScope.all(type, scopePrefix(query.scope), scopePrefix(query.scope))
    ) as unknown as Row[];
    return rows.map((row) => JSON.parse(row.doc) as StoredResource);
  }

  async put(doc: ResourceDocument, options: PutOptions = {}): Promise<PutResult> {
    const { secret, ...writeOptions } = options;
    return this.update(doc.id, () => (secret ? { doc, secret } : { doc }), writeOptions);
  }

  async update(id: string, change: (current: StoredResource | undefined) => Change | Promise<Change>, options: WriteOptions = {}): Promise<PutResult> {
    const result = await this.#transaction(async () => {
      const current = this.#get(id);
      checkPreconditions(id, current, options);
      const { doc: next, secret } = await change(current);
      const stored = stampDocument(id, next, current, options);
      this.#statements.upsert.run(resourceKey(id), stored.type.toLowerCase(), JSON.stringify(stored));
      if (secret) this.#statements.putSecret.run(resourceKey(id), secret);
      return { resource: stored, created: current === undefined, revision: this.#bumpRevision() };
    });
    this.#notify(result.revision);
    return result;
  }

  async delete(id: string, options: WriteOptions = {}): Promise<{ deleted: boolean; revision: number }> {
    const result = await this.#transaction(() => {
      const current = this.#get(id);
      checkPreconditions(id, current, options);
      if (!current) return { deleted: false, revision: this.#revision() };
      const key = resourceKey(id);
      this.#statements.deleteTree.run(key, scopePrefix(key), scopePrefix(key));
      return { deleted: true, revision: this.#bumpRevision() };
    });
    if (result.deleted) this.#notify(result.revision);
    return result;
  }

  async getSecret(id: string): Promise<Uint8Array | undefined> {
    const row = this.#statements.getSecret.get(resourceKey(id)) as { value: Uint8Array } | undefined;
    return row?.value;
  }

  async revision(): Promise<number> {
    return this.#revision();
  }

  #revision(): number {
    return (this.#statements.revision.get() as { revision: number }).revision;
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    if (this.#db.isOpen) this.#db.close();
  }

  #bumpRevision(): number {
    return (this.#statements.bumpRevision.get() as { revision: number }).revision;
  }

  /**
   * Runs `work` in a write transaction, after the writes queued before it. `work` may await (a
   * resource kind's checks read the store); while it does, no other write starts on this connection.
   */
  #transaction<T>(work: () => T | Promise<T>): Promise<T> {
    const run = this.#writing.then(async () => {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work();
        this.#db.exec('COMMIT');
        return result;
      } catch (error) {
        this.#db.exec('ROLLBACK');
        throw error;
      }
    });
    this.#writing = run.catch(() => {});
    return run;
  }

  #notify(revision: number): void {
    for (const listener of this.#listeners) listener(revision);
  }
}
