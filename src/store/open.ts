// Which store `certgate serve` runs on: PostgreSQL when given a postgres:// URL (--store or
// CERTGATE_STORE), for several replicas; otherwise the embedded SQLite file in the data dir.
import { openDataDirStore } from './sqlite.ts';
import type { Store } from './store.ts';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isPostgresUrl } from './location.ts';
import { FallbackStore } from './fallback.ts';
import { MIRROR_FILE, MirrorStore } from './mirror.ts';
import type { StoreKey } from './secret-box.ts';

/** A store several replicas share: where it is, and the keys its secrets are encrypted with. */
export interface SharedStoreLocation {
  readonly url: string;
  readonly keys: readonly StoreKey[];
}

/**
 * The shared store at `shared`, or the data dir's embedded one when there is none. When PostgreSQL
 * cannot be reached at start, the configuration this data dir saved last is served read-only
 * (mirror.ts, fallback.ts) until it can; without one, the start fails.
 */
export async function openStore(dataDir: string, shared?: SharedStoreLocation, log?: Logger): Promise<Store> {
  if (!shared) return openDataDirStore(dataDir);
  if (!isPostgresUrl(shared.url)) throw new Error('the store must be a postgres:// or postgresql:// URL (without one, the embedded SQLite file in the data dir)');
  // Loaded only here: a single-machine certgate never loads the PostgreSQL client.
  const { PostgresStore, isUnreachable } = await import('./postgres.ts');
  const mirrorPath = join(dataDir, MIRROR_FILE);
  const connect = () => PostgresStore.open(shared.url, { keys: shared.keys, mirrorPath });
  try {
    return await connect();
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    const saved = MirrorStore.open(mirrorPath, shared.keys);
    if (!saved) throw new Error(`PostgreSQL cannot be reached (${(error as { code?: string }).code}) and ${dataDir} has no saved configuration to serve meanwhile`, { cause: error });
    log?.warn({ revision: saved.revisionSaved, savedAt: saved.savedAt, reason: 'store_unavailable' }, 'PostgreSQL cannot be reached: serving the configuration saved last (read-only) until it can');
    // At the level of the warning it ends, so whoever saw one sees the other.
    return new FallbackStore(saved, connect, () => log?.warn({ reason: 'store_available' }, 'PostgreSQL answers again: serving and writing through it'));
  }
}
