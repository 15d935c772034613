// The store contract (test/support/store-contract.ts) against every backend: the embedded
// node:sqlite one on a real file, and PostgreSQL on a real server this test starts (initdb).
import { after } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite.ts';
import { PostgresStore } from '../src/store/postgres.ts';
import { storeContract } from './support/store-contract.ts';
import { startPostgres } from './support/postgres.ts';

storeContract('SQLite (node:sqlite, a file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'certgate-store-'));
  const path = join(dir, 'certgate.db');
  return {
    store: new SqliteStore(path),
    reopen: () => new SqliteStore(path),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

const server = await startPostgres();
after(() => server.dispose());

storeContract('PostgreSQL (postgres.js, a real server)', async () => {
  const url = await server.createDatabase();
  return {
    store: await PostgresStore.open(url),
    reopen: () => PostgresStore.open(url),
    dispose: async () => {},
  };
});
