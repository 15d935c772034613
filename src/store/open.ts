// Which store `certgate serve` runs on: PostgreSQL when given a postgres:// URL (--store or
// CERTGATE_STORE), for several replicas; otherwise the embedded SQLite file in the data dir.
import { openDataDirStore } from './sqlite.ts';
import type { Store } from './store.ts';
import { isPostgresUrl } from './location.ts';
import type { StoreKey } from './secret-box.ts';

/** A store several replicas share: where it is, and the keys its secrets are encrypted with. */
export interface SharedStoreLocation {
  readonly url: string;
  readonly keys: readonly StoreKey[];
}

/** The shared store at `shared`, or the data dir's embedded one when there is none. */
export async function openStore(dataDir: string, shared?: SharedStoreLocation): Promise<Store> {
  if (!shared) return openDataDirStore(dataDir);
  if (!isPostgresUrl(shared.url)) throw new Error('the store must be a postgres:// or postgresql:// URL (without one, the embedded SQLite file in the data dir)');
  // Loaded only here: a single-machine certgate never loads the PostgreSQL client.
  const { PostgresStore } = await import('./postgres.ts');
  return PostgresStore.open(shared.url, { keys: shared.keys });
}
