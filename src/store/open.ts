// Which store `certgate serve` runs on: PostgreSQL when given a postgres:// URL (--store or
// CERTGATE_STORE), for several replicas; otherwise the embedded SQLite file in the data dir.
import { openDataDirStore } from './sqlite.ts';
import type { Store } from './store.ts';
import { isPostgresUrl } from './location.ts';

/** The store at `location` (a postgres:// URL), or the data dir's embedded one when there is none. */
export async function openStore(dataDir: string, location?: string): Promise<Store> {
  if (location === undefined || location === '') return openDataDirStore(dataDir);
  if (!isPostgresUrl(location)) throw new Error('the store must be a postgres:// or postgresql:// URL (without one, the embedded SQLite file in the data dir)');
  // Loaded only here: a single-machine certgate never loads the PostgreSQL client.
  const { PostgresStore } = await import('./postgres.ts');
  return PostgresStore.open(location);
}
