// The one shape of certgate's error catalogs (management API, CLI, ingress reasons, PKI): a stable
// code, the HTTP status or exit code where there is one, and a one-line meaning. Each catalog is
// documented as a table in its doc page, and a test reads the table both ways
// (test/error-catalogs.test.ts), so adding a code is one line here and one row there.

export interface CatalogEntry {
  /** The HTTP status answered (or the process exit code); undefined when nothing is answered (a closed connection). */
  readonly status: number | undefined;
  /** One line: what happened, in the words of the doc page. */
  readonly meaning: string;
}

export type Catalog<Code extends string> = Readonly<Record<Code, CatalogEntry>>;

/** Freezes a catalog, keeping its codes as a literal union (`keyof typeof CATALOG`). */
export function defineCatalog<const T extends Record<string, CatalogEntry>>(entries: T): Readonly<T> {
  for (const entry of Object.values(entries)) Object.freeze(entry);
  return Object.freeze(entries);
}
