// The client-certificate inventory in the embedded store's database (table client_certificates,
// migration 2). One transaction per batch; reads page in thumbprint order.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ClientCertificateInventory, InventoryPage, InventoryQuery, SeenCertificate } from './inventory.ts';
import { fromRow as fromInventoryRow, INVENTORY_COLUMNS, likeLiteral, type InventoryRow } from './inventory-rows.ts';

/** A row as SQLite returns it: the SANs as JSON text. */
type Row = Omit<InventoryRow, 'sans'> & { sans: string };

const COLUMNS = INVENTORY_COLUMNS.join(', ');

const fromRow = (row: Row): SeenCertificate => fromInventoryRow({ ...row, sans: JSON.parse(row.sans) as string[] });

export class SqliteInventory implements ClientCertificateInventory {
  readonly #db: DatabaseSync;
  readonly #upsert: StatementSync;
  readonly #get: StatementSync;
  readonly #prune: StatementSync;
  readonly #expiring: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#upsert = db.prepare(
      `INSERT INTO client_certificates (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (app, thumbprint) DO UPDATE SET
         first_seen = min(first_seen, excluded.first_seen),
         last_seen = max(last_seen, excluded.last_seen),
         connection_count = connection_count + excluded.connection_count,
         last_verdict = CASE WHEN excluded.last_seen >= last_seen THEN excluded.last_verdict ELSE last_verdict END`,
    );
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM client_certificates WHERE app = ? AND thumbprint = ?`);
    this.#prune = db.prepare('DELETE FROM client_certificates WHERE last_seen < ?');
    this.#expiring = db.prepare(`SELECT ${COLUMNS} FROM client_certificates WHERE not_after < ? ORDER BY not_after LIMIT ?`);
  }

  async recordBatch(batch: readonly SeenCertificate[]): Promise<void> {
    if (batch.length === 0) return;
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const seen of batch) {
        this.#upsert.run(seen.app, seen.thumbprint, seen.subject, seen.issuer, seen.serialNumber, JSON.stringify(seen.subjectAlternativeNames), seen.notBefore, seen.notAfter, seen.firstSeen, seen.lastSeen, seen.connectionCount, seen.lastVerdict);
      }
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  async list(query: InventoryQuery): Promise<InventoryPage> {
    const where = ['app = ?'];
    const parameters: (string | number)[] = [query.app];
    if (query.after !== undefined) {
      where.push('thumbprint > ?');
      parameters.push(query.after);
    }
    if (query.expiringBefore !== undefined) {
      where.push('not_after < ?');
      parameters.push(query.expiringBefore);
    }
    if (query.search !== undefined && query.search !== '') {
      const literal = likeLiteral(query.search);
      where.push("(thumbprint LIKE ? ESCAPE '\\' OR lower(subject) LIKE ? ESCAPE '\\' OR lower(sans) LIKE ? ESCAPE '\\')");
      parameters.push(`${literal}%`, `%${literal}%`, `%${literal}%`);
    }
    parameters.push(query.top + 1);
    const rows = this.#db.prepare(`SELECT ${COLUMNS} FROM client_certificates WHERE ${where.join(' AND ')} ORDER BY thumbprint LIMIT ?`).all(...parameters) as unknown as Row[];
    const items = rows.slice(0, query.top).map(fromRow);
    return { items, next: rows.length > query.top ? items.at(-1)!.thumbprint : undefined };
  }

  async get(app: string, thumbprint: string): Promise<SeenCertificate | undefined> {
    const row = this.#get.get(app, thumbprint.toLowerCase()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  async prune(before: Date): Promise<number> {
    return Number(this.#prune.run(before.toISOString()).changes);
  }

  async expiring(before: string, limit: number): Promise<SeenCertificate[]> {
    return (this.#expiring.all(before, limit) as unknown as Row[]).map(fromRow);
  }
}
