// The client-certificate inventory in the PostgreSQL store's database (table client_certificates,
// migration 4), as sqlite-inventory.ts keeps it. Each replica writes its own batches: one
// INSERT … ON CONFLICT DO UPDATE per batch adds to whatever another replica wrote meanwhile (the
// row lock serialises the two updates, neither is lost). A batch's rows are merged by certificate
// (a statement cannot update one row twice) and written in key order, so two replicas' batches
// lock their common rows in the same order and never deadlock.
import type { Sql } from 'postgres';
import { guard } from './postgres-errors.ts';
import { combineSeen, type ClientCertificateInventory, type InventoryPage, type InventoryQuery, type SeenCertificate } from './inventory.ts';
import { fromRow, INVENTORY_COLUMNS as COLUMNS, likeLiteral, toRow, type InventoryRow as Row } from './inventory-rows.ts';

/** One row per certificate, in (app, thumbprint) order: the lock order every replica takes. */
function mergedInKeyOrder(batch: readonly SeenCertificate[]): SeenCertificate[] {
  const merged = new Map<string, SeenCertificate>();
  for (const seen of batch) {
    const key = `${seen.app}\n${seen.thumbprint}`;
    const earlier = merged.get(key);
    merged.set(key, earlier ? combineSeen(earlier, seen) : seen);
  }
  return [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, seen]) => seen);
}

export class PostgresInventory implements ClientCertificateInventory {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async recordBatch(batch: readonly SeenCertificate[]): Promise<void> {
    if (batch.length === 0) return;
    const rows = mergedInKeyOrder(batch).map(toRow);
    const sql = this.#sql;
    // One statement: one transaction. At most 1,000 rows a batch (12,000 parameters, below 65,535).
    await guard(
      () => sql`
        INSERT INTO client_certificates ${sql(rows, ...COLUMNS)}
        ON CONFLICT (app, thumbprint) DO UPDATE SET
          first_seen = least(client_certificates.first_seen, excluded.first_seen),
          last_seen = greatest(client_certificates.last_seen, excluded.last_seen),
          connection_count = client_certificates.connection_count + excluded.connection_count,
          last_verdict = CASE WHEN excluded.last_seen >= client_certificates.last_seen THEN excluded.last_verdict ELSE client_certificates.last_verdict END`,
    );
  }

  async list(query: InventoryQuery): Promise<InventoryPage> {
    const sql = this.#sql;
    const after = query.after !== undefined ? sql`AND thumbprint > ${query.after}` : sql``;
    const expiring = query.expiringBefore !== undefined ? sql`AND not_after < ${query.expiringBefore}` : sql``;
    let search = sql``;
    if (query.search !== undefined && query.search !== '') {
      // Backslash escapes: PostgreSQL's default LIKE escape.
      const literal = likeLiteral(query.search);
      search = sql`AND (thumbprint LIKE ${`${literal}%`} OR lower(subject) LIKE ${`%${literal}%`}
                        OR EXISTS (SELECT 1 FROM unnest(sans) AS san WHERE lower(san) LIKE ${`%${literal}%`}))`;
    }
    const rows = await guard(
      () => sql<Row[]>`SELECT ${sql(COLUMNS)} FROM client_certificates WHERE app = ${query.app} ${after} ${expiring} ${search}
                       ORDER BY thumbprint LIMIT ${query.top + 1}`,
    );
    const items = rows.slice(0, query.top).map(fromRow);
    return { items, next: rows.length > query.top ? items.at(-1)!.thumbprint : undefined };
  }

  async get(app: string, thumbprint: string): Promise<SeenCertificate | undefined> {
    const sql = this.#sql;
    const [row] = await guard(() => sql<Row[]>`SELECT ${sql(COLUMNS)} FROM client_certificates WHERE app = ${app} AND thumbprint = ${thumbprint.toLowerCase()}`);
    return row ? fromRow(row) : undefined;
  }

  async prune(before: Date): Promise<number> {
    const sql = this.#sql;
    return (await guard(() => sql`DELETE FROM client_certificates WHERE last_seen < ${before.toISOString()}`)).count;
  }

  async expiring(before: string, limit: number): Promise<SeenCertificate[]> {
    const sql = this.#sql;
    return (await guard(() => sql<Row[]>`SELECT ${sql(COLUMNS)} FROM client_certificates WHERE not_after < ${before} ORDER BY not_after LIMIT ${limit}`)).map(fromRow);
  }
}
