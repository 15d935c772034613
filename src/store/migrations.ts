// Schema versions. PRAGMA user_version records how far a database has been migrated; each step runs
// in its own transaction, so a crash mid-migration leaves the previous version intact.
import type { DatabaseSync } from 'node:sqlite';

const MIGRATIONS: readonly string[] = [
  // 1: resources as ARM documents, keyed by their lower-cased id; secrets kept apart from documents.
  `CREATE TABLE resources (
     key TEXT PRIMARY KEY,
     type TEXT NOT NULL,
     doc TEXT NOT NULL
   );
   CREATE INDEX resources_by_type ON resources (type, key);
   CREATE TABLE secrets (
     key TEXT PRIMARY KEY REFERENCES resources (key) ON DELETE CASCADE,
     value BLOB NOT NULL
   );
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   INSERT INTO meta (key, value) VALUES ('revision', '0');`,
  // 2: the client certificates each app saw (the inventory, src/store/sqlite-inventory.ts); app is
  // the app's lower-cased id. Not a resource: no revision bump, no change feed.
  `CREATE TABLE client_certificates (
     app TEXT NOT NULL,
     thumbprint TEXT NOT NULL,
     subject TEXT NOT NULL,
     issuer TEXT NOT NULL,
     serial TEXT NOT NULL,
     sans TEXT NOT NULL,
     not_before TEXT NOT NULL,
     not_after TEXT NOT NULL,
     first_seen TEXT NOT NULL,
     last_seen TEXT NOT NULL,
     connection_count INTEGER NOT NULL,
     last_verdict TEXT NOT NULL,
     PRIMARY KEY (app, thumbprint)
   );
   CREATE INDEX client_certificates_by_expiry ON client_certificates (not_after);
   CREATE INDEX client_certificates_by_last_seen ON client_certificates (last_seen);`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: DatabaseSync): void {
  const { user_version: current } = db.prepare('PRAGMA user_version').get() as { user_version: number };
  if (current > SCHEMA_VERSION) {
    throw new Error(`the database schema is version ${current}, newer than this certgate knows (${SCHEMA_VERSION})`);
  }
  for (let version = current; version < SCHEMA_VERSION; version++) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(MIGRATIONS[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }
}
