// The last configuration a replica read from PostgreSQL, saved in its data dir, so that a replica
// that starts while the database is down serves what it served before (and says so) instead of
// nothing. The file holds the documents and the secrets as the database has them (sealed with the
// store key: the file opens nothing without it) and the revision. Written whole to a temporary file
// and renamed at first; after that each change rewrites only the keys it touched (the store's
// change log), in one SQLite transaction, so the file is still always one revision's whole state.
import { DatabaseSync } from 'node:sqlite';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { resourceKey, type StoredResource } from '../model/resources.ts';
import { open as openSealed, type StoreKey } from './secret-box.ts';
import { scopePrefix } from './write-rules.ts';
import { StoreError, type ChangeListener, type ChangeSet, type ListQuery, type PutResult, type Store } from './store.ts';
import type { ClientCertificateInventory } from './inventory.ts';

/** The mirror's file in a data dir. */
export const MIRROR_FILE = 'store-mirror.db';

export interface MirrorRows {
  readonly revision: number;
  readonly resources: readonly { key: string; type: string; doc: string }[];
  readonly secrets: readonly { key: string; value: Uint8Array }[];
}

export function saveMirror(path: string, rows: MirrorRows): void {
  const temporary = `${path}.${process.pid}.tmp`;
  rmSync(temporary, { force: true });
  const db = new DatabaseSync(temporary);
  try {
    db.exec(`CREATE TABLE resources (key TEXT PRIMARY KEY, type TEXT NOT NULL, doc TEXT NOT NULL);
             CREATE TABLE secrets (key TEXT PRIMARY KEY, value BLOB NOT NULL);
             CREATE TABLE meta (revision INTEGER NOT NULL, saved_at TEXT NOT NULL);
             BEGIN`);
    insertRows(db, rows);
    db.prepare('INSERT INTO meta (revision, saved_at) VALUES (?, ?)').run(rows.revision, new Date().toISOString());
    db.exec('COMMIT');
  } finally {
    db.close();
  }
  renameSync(temporary, path);
}

function insertRows(db: DatabaseSync, rows: MirrorRows): void {
  const resource = db.prepare('INSERT INTO resources (key, type, doc) VALUES (?, ?, ?)');
  for (const row of rows.resources) resource.run(row.key, row.type, row.doc);
  const secret = db.prepare('INSERT INTO secrets (key, value) VALUES (?, ?)');
  for (const row of rows.secrets) secret.run(row.key, row.value);
}

/**
 * Brings the mirror from its revision to `rows.revision`: the `keys` that changed are replaced by
 * their rows (absent: deleted), in one transaction. False when the file is not at `from` (then the
 * caller saves it whole).
 */
export function updateMirror(path: string, from: number, rows: MirrorRows & { readonly keys: readonly string[] }): boolean {
  if (!existsSync(path)) return false;
  const db = new DatabaseSync(path);
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      const meta = db.prepare('SELECT revision FROM meta').get() as { revision: number } | undefined;
      if (meta?.revision !== from) {
        db.exec('ROLLBACK');
        return false;
      }
      const dropResource = db.prepare('DELETE FROM resources WHERE key = ?');
      const dropSecret = db.prepare('DELETE FROM secrets WHERE key = ?');
      for (const key of rows.keys) {
        dropResource.run(key);
        dropSecret.run(key);
      }
      insertRows(db, rows);
      db.prepare('UPDATE meta SET revision = ?, saved_at = ?').run(rows.revision, new Date().toISOString());
      db.exec('COMMIT');
      return true;
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw error;
    }
  } finally {
    db.close();
  }
}

/** A read-only store over the mirror: reads answer from it, writes are refused as Unavailable. */
export class MirrorStore implements Store {
  readonly #db: DatabaseSync;
  readonly #keys: readonly StoreKey[];
  readonly revisionSaved: number;
  readonly savedAt: string;

  private constructor(db: DatabaseSync, keys: readonly StoreKey[]) {
    this.#db = db;
    this.#keys = keys;
    const meta = db.prepare('SELECT revision, saved_at FROM meta').get() as { revision: number; saved_at: string };
    this.revisionSaved = meta.revision;
    this.savedAt = meta.saved_at;
  }

  /** The mirror at `path`, or undefined when there is none. */
  static open(path: string, keys: readonly StoreKey[]): MirrorStore | undefined {
    if (!existsSync(path)) return undefined;
    // Opened read-write though it only reads: an update cut short by a crash left a journal that
    // SQLite rolls back on open, which a read-only connection cannot do.
    return new MirrorStore(new DatabaseSync(path), keys);
  }

  async get(id: string): Promise<StoredResource | undefined> {
    const row = this.#db.prepare('SELECT doc FROM resources WHERE key = ?').get(resourceKey(id)) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as StoredResource) : undefined;
  }

  async list(query: ListQuery): Promise<StoredResource[]> {
    const type = query.type.toLowerCase();
    const rows = (
      query.scope === undefined
        ? this.#db.prepare('SELECT doc FROM resources WHERE type = ? ORDER BY key').all(type)
        : this.#db.prepare('SELECT doc FROM resources WHERE type = ? AND substr(key, 1, length(?)) = ? ORDER BY key').all(type, scopePrefix(query.scope), scopePrefix(query.scope))
    ) as unknown as { doc: string }[];
    return rows.map((row) => JSON.parse(row.doc) as StoredResource);
  }

  async getSecret(id: string): Promise<Uint8Array | undefined> {
    const key = resourceKey(id);
    const row = this.#db.prepare('SELECT value FROM secrets WHERE key = ?').get(key) as { value: Uint8Array } | undefined;
    return row ? new Uint8Array(openSealed(this.#keys, key, row.value)) : undefined;
  }

  async revision(): Promise<number> {
    return this.revisionSaved;
  }

  /** The mirror keeps no change log: it never changes while open. */
  async changesSince(revision: number): Promise<ChangeSet | undefined> {
    return revision === this.revisionSaved ? { revision, keys: [] } : undefined;
  }

  /** The inventory is in the database: while it cannot be reached, neither read nor written. */
  readonly inventory: ClientCertificateInventory = {
    recordBatch: () => Promise.reject(unavailable()),
    list: () => Promise.reject(unavailable()),
    get: () => Promise.reject(unavailable()),
    prune: () => Promise.reject(unavailable()),
    expiring: () => Promise.reject(unavailable()),
  };

  put(): Promise<PutResult> {
    return Promise.reject(unavailable());
  }
  update(): Promise<PutResult> {
    return Promise.reject(unavailable());
  }
  delete(): Promise<{ deleted: boolean; revision: number }> {
    return Promise.reject(unavailable());
  }

  subscribe(_listener: ChangeListener): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}

function unavailable(): StoreError {
  return new StoreError('Unavailable', 'the PostgreSQL store cannot be reached; this replica serves the configuration it saved last');
}
