// The last configuration a replica read from PostgreSQL, saved in its data dir, so that a replica
// that starts while the database is down serves what it served before (and says so) instead of
// nothing. The file holds the documents and the secrets as the database has them (sealed with the
// store key: the file opens nothing without it) and the revision. Written whole to a temporary file
// and renamed, so it is always one revision's complete state.
import { DatabaseSync } from 'node:sqlite';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { resourceKey, type StoredResource } from '../model/resources.ts';
import { open as openSealed, type StoreKey } from './secret-box.ts';
import { scopePrefix } from './write-rules.ts';
import { StoreError, type ChangeListener, type ListQuery, type PutResult, type Store } from './store.ts';

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
    const resource = db.prepare('INSERT INTO resources (key, type, doc) VALUES (?, ?, ?)');
    for (const row of rows.resources) resource.run(row.key, row.type, row.doc);
    const secret = db.prepare('INSERT INTO secrets (key, value) VALUES (?, ?)');
    for (const row of rows.secrets) secret.run(row.key, row.value);
    db.prepare('INSERT INTO meta (revision, saved_at) VALUES (?, ?)').run(rows.revision, new Date().toISOString());
    db.exec('COMMIT');
  } finally {
    db.close();
  }
  renameSync(temporary, path);
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
    return new MirrorStore(new DatabaseSync(path, { readOnly: true }), keys);
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
