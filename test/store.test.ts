// The store contract (test/support/store-contract.ts) against every backend: today the embedded
// node:sqlite one on a real file.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite.ts';
import { storeContract } from './support/store-contract.ts';

storeContract('SQLite (node:sqlite, a file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'certgate-store-'));
  const path = join(dir, 'certgate.db');
  return {
    store: new SqliteStore(path),
    reopen: () => new SqliteStore(path),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});
