// Where a store is, as `--store` / CERTGATE_STORE give it: read without loading any backend (every
// CLI command parses flags; none should load node:sqlite or the PostgreSQL client for that).
const POSTGRES_URL = /^postgres(ql)?:\/\//i;

export function isPostgresUrl(location: string): boolean {
  return POSTGRES_URL.test(location);
}

/** The store for banners and logs: the URL's host, port and database, never its user or password. */
export function describeStore(dataDir: string, location?: string): string {
  if (!location) return `SQLite (${dataDir}/certgate.db)`;
  try {
    const url = new URL(location);
    return `PostgreSQL (${url.hostname || 'local socket'}${url.port ? `:${url.port}` : ''}${url.pathname || '/'})`;
  } catch {
    return 'PostgreSQL';
  }
}
