// The PostgreSQL schema's versions. Whichever replica starts first migrates: each step runs in its
// own transaction under a transaction-scoped advisory lock, so replicas starting together apply
// each step exactly once (the others wait, then find it applied) and a crash mid-step leaves the
// previous version intact (DDL is transactional in PostgreSQL).
import type { Sql } from 'postgres';

/** The advisory lock key of migrations ('cgmi' as a 32-bit number): one per database. */
const MIGRATION_LOCK = 0x63676d69;

export const PG_MIGRATIONS: readonly string[] = [
  // 1: resources as ARM documents (text, so a document reads back exactly as written), keyed by
  // their lower-cased id; secrets apart from documents; the revision counter, whose row lock
  // serialises writes across replicas.
  `CREATE TABLE resources (
     key text PRIMARY KEY,
     type text NOT NULL,
     doc text NOT NULL
   );
   CREATE INDEX resources_by_type ON resources (type, key COLLATE "C");
   CREATE TABLE secrets (
     key text PRIMARY KEY REFERENCES resources (key) ON DELETE CASCADE,
     value bytea NOT NULL
   );
   CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL);
   INSERT INTO meta (key, value) VALUES ('revision', 0);`,
  // 2: the replica registry: what each replica serves and when it last said so.
  `CREATE TABLE replicas (
     name text PRIMARY KEY,
     revision bigint NOT NULL,
     outcome text NOT NULL,
     heartbeat timestamptz NOT NULL DEFAULT now(),
     started_at timestamptz NOT NULL DEFAULT now()
   );`,
  // 3: the change log: which keys each revision wrote or deleted (Store.changesSince), so every
  // replica recompiles only what changed. It covers the revisions after changes_from.
  `CREATE TABLE changes (revision bigint NOT NULL, key text NOT NULL);
   CREATE INDEX changes_by_revision ON changes (revision);
   INSERT INTO meta (key, value) SELECT 'changes_from', value FROM meta WHERE key = 'revision';`,
  // 4: the client certificates each app saw (the inventory, postgres-inventory.ts), as SQLite's
  // migration 2 has them: ISO times as text, compared in byte order (COLLATE "C", whatever the
  // database's locale) as SQLite compares them; SANs as an array, searched element by element.
  // Not a resource: no revision bump, no change feed.
  `CREATE TABLE client_certificates (
     app text NOT NULL,
     thumbprint text COLLATE "C" NOT NULL,
     subject text NOT NULL,
     issuer text NOT NULL,
     serial text NOT NULL,
     sans text[] NOT NULL,
     not_before text COLLATE "C" NOT NULL,
     not_after text COLLATE "C" NOT NULL,
     first_seen text COLLATE "C" NOT NULL,
     last_seen text COLLATE "C" NOT NULL,
     connection_count bigint NOT NULL,
     last_verdict text NOT NULL,
     PRIMARY KEY (app, thumbprint)
   );
   CREATE INDEX client_certificates_by_expiry ON client_certificates (not_after);
   CREATE INDEX client_certificates_by_last_seen ON client_certificates (last_seen);`,
  // 5: the web console's sessions (postgres-console-sessions.ts), so any replica serves a signed-in
  // user: the cookie id's hash, never the id; times in milliseconds. Not a resource either.
  `CREATE TABLE console_sessions (
     id_hash text PRIMARY KEY,
     client_id text NOT NULL,
     created_at bigint NOT NULL,
     last_used_at bigint NOT NULL
   );
   CREATE INDEX console_sessions_by_created ON console_sessions (created_at);`,
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;

/** Brings the database to PG_SCHEMA_VERSION; returns the versions this call applied. */
export async function migratePostgres(sql: Sql, migrations: readonly string[] = PG_MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  for (;;) {
    const done = await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      await tx`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
      const [row] = await tx<{ version: number | null }[]>`SELECT max(version) AS version FROM schema_migrations`;
      const current = row?.version ?? 0;
      if (current > migrations.length) {
        throw new Error(`the database schema is version ${current}, newer than this certgate knows (${migrations.length})`);
      }
      if (current === migrations.length) return true;
      await tx.unsafe(migrations[current]!);
      await tx`INSERT INTO schema_migrations (version) VALUES (${current + 1})`;
      applied.push(current + 1);
      return false;
    });
    if (done) return applied;
  }
}
