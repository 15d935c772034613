// The inventory table's rows as both backends keep them (table client_certificates: SQLite's
// migration 2, PostgreSQL's 4), and the LIKE escaping of a search: one mapping, so the two read back
// the same.
import type { SeenCertificate } from './inventory.ts';

/** A row, its SANs decoded (a JSON text in SQLite, an array in PostgreSQL). */
export interface InventoryRow {
  app: string;
  thumbprint: string;
  subject: string;
  issuer: string;
  serial: string;
  sans: string[];
  not_before: string;
  not_after: string;
  first_seen: string;
  last_seen: string;
  /** A number in SQLite; PostgreSQL's bigint reads as a string. */
  connection_count: number | string;
  last_verdict: string;
}

export const INVENTORY_COLUMNS = ['app', 'thumbprint', 'subject', 'issuer', 'serial', 'sans', 'not_before', 'not_after', 'first_seen', 'last_seen', 'connection_count', 'last_verdict'] as const;

export function fromRow(row: InventoryRow): SeenCertificate {
  return {
    app: row.app,
    thumbprint: row.thumbprint,
    subject: row.subject,
    issuer: row.issuer,
    serialNumber: row.serial,
    subjectAlternativeNames: row.sans,
    notBefore: row.not_before,
    notAfter: row.not_after,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    connectionCount: Number(row.connection_count),
    lastVerdict: row.last_verdict,
  };
}

export function toRow(seen: SeenCertificate): InventoryRow {
  return {
    app: seen.app,
    thumbprint: seen.thumbprint,
    subject: seen.subject,
    issuer: seen.issuer,
    serial: seen.serialNumber,
    sans: [...seen.subjectAlternativeNames],
    not_before: seen.notBefore,
    not_after: seen.notAfter,
    first_seen: seen.firstSeen,
    last_seen: seen.lastSeen,
    connection_count: seen.connectionCount,
    last_verdict: seen.lastVerdict,
  };
}

/** `%`, `_` and the escape itself taken literally in a LIKE pattern (backslash, escaped), lower case. */
export function likeLiteral(text: string): string {
  return text.toLowerCase().replace(/[\\%_]/g, (char) => `\\${char}`);
}
