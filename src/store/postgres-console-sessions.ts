// The console's sessions in the PostgreSQL store's database (table console_sessions, migration 5;
// console-sessions.ts says why they are shared).
import type { Sql } from 'postgres';
import type { ConsoleSessionStore, StoredConsoleSession } from './console-sessions.ts';
import { guard } from './postgres-errors.ts';

/** The advisory lock of session inserts ('cgcs'): the bound on sessions holds with replicas signing in at once. */
const INSERT_LOCK = 0x63676373;

type Row = { id_hash: string; client_id: string; created_at: string; last_used_at: string };

export class PostgresConsoleSessions implements ConsoleSessionStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  insert(session: StoredConsoleSession, bounds: { readonly maxSessions: number; readonly createdBy: number; readonly usedBy: number }): Promise<void> {
    return guard(() =>
      this.#sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${INSERT_LOCK})`;
        await tx`DELETE FROM console_sessions WHERE created_at <= ${bounds.createdBy} OR last_used_at <= ${bounds.usedBy}`;
        await tx`DELETE FROM console_sessions WHERE id_hash IN (
                   SELECT id_hash FROM console_sessions ORDER BY created_at DESC, id_hash OFFSET ${Math.max(0, bounds.maxSessions - 1)})`;
        await tx`INSERT INTO console_sessions (id_hash, client_id, created_at, last_used_at)
                 VALUES (${session.idHash}, ${session.clientId}, ${session.createdAt}, ${session.lastUsedAt})`;
      }),
    ).then(() => undefined);
  }

  async find(idHash: string): Promise<StoredConsoleSession | undefined> {
    const [row] = await guard(() => this.#sql<Row[]>`SELECT id_hash, client_id, created_at, last_used_at FROM console_sessions WHERE id_hash = ${idHash}`);
    return row ? { idHash: row.id_hash, clientId: row.client_id, createdAt: Number(row.created_at), lastUsedAt: Number(row.last_used_at) } : undefined;
  }

  async touch(idHash: string, at: number): Promise<void> {
    await guard(() => this.#sql`UPDATE console_sessions SET last_used_at = greatest(last_used_at, ${at}) WHERE id_hash = ${idHash}`);
  }

  async remove(idHash: string): Promise<void> {
    await guard(() => this.#sql`DELETE FROM console_sessions WHERE id_hash = ${idHash}`);
  }
}
