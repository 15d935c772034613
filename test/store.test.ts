// The store contract (test/support/store-contract.ts) against every backend: the embedded
// node:sqlite one on a real file, and PostgreSQL on a real server this test starts (initdb).
import { after, describe, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite.ts';
import { StoreError } from '../src/store/store.ts';
import { PostgresStore } from '../src/store/postgres.ts';
import { MIRROR_FILE, MirrorStore } from '../src/store/mirror.ts';
import { statSync } from 'node:fs';
import { storeContract } from './support/store-contract.ts';
import { consoleSessionContract } from './support/console-session-contract.ts';
import { seen } from './support/inventory-contract.ts';
import { newStoreKeyLine, startPostgres, testStoreKeys } from './support/postgres.ts';
import { PG_MIGRATIONS } from '../src/store/postgres-migrations.ts';
import { environmentDocument } from '../src/model/documents.ts';
import { ENVIRONMENT_TYPE } from '../src/model/resources.ts';
import postgres from 'postgres';
import assert from 'node:assert/strict';

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
  const keys = testStoreKeys();
  return {
    store: await PostgresStore.open(url, { keys }),
    reopen: () => PostgresStore.open(url, { keys }),
    dispose: async () => {},
  };
});

const sessionStores: PostgresStore[] = [];
after(() => Promise.all(sessionStores.map((store) => store.close())));
consoleSessionContract('PostgreSQL (table console_sessions)', async () => {
  const store = await PostgresStore.open(await server.createDatabase(), { keys: testStoreKeys() });
  sessionStores.push(store);
  return store.consoleSessions;
});

describe('PostgreSQL only', () => {
  const env = environmentDocument({ subscriptionId: 's1', resourceGroup: 'rg', name: 'env1', defaultDomain: 'env1.test' });
  const certificate = { id: `${env.id}/certificates/c1`, name: 'c1', type: `${ENVIRONMENT_TYPE}/certificates`, properties: {} };
  const secret = Buffer.from('-----BEGIN PRIVATE KEY----- secret');

  test('the mirror file follows each change in place (the changed keys only) and reads back as the database', async () => {
    const url = await server.createDatabase();
    const keys = testStoreKeys();
    const dir = await mkdtemp(join(tmpdir(), 'certgate-mirror-'));
    const path = join(dir, MIRROR_FILE);
    const store = await PostgresStore.open(url, { keys, mirrorPath: path });
    try {
      const inode = statSync(path).ino;
      await store.put(env);
      await store.put(certificate, { secret });
      await store.put({ ...env, tags: { a: 'b' } } as typeof env);
      const { revision } = await store.delete(certificate.id);
      const deadline = Date.now() + 10_000;
      let mirror = MirrorStore.open(path, keys)!;
      while (mirror.revisionSaved < revision && Date.now() < deadline) {
        mirror.close();
        await new Promise((resolve) => setTimeout(resolve, 50));
        mirror = MirrorStore.open(path, keys)!;
      }
      try {
        assert.equal(mirror.revisionSaved, revision);
        assert.deepEqual(await mirror.list({ type: ENVIRONMENT_TYPE }), await store.list({ type: ENVIRONMENT_TYPE }));
        assert.equal(await mirror.get(certificate.id), undefined, 'a deleted key is deleted in the mirror');
        assert.equal(statSync(path).ino, inode, 'updated in place, not written whole again');
        await assert.rejects(() => mirror.inventory.list({ app: 'a', top: 1 }), (error: unknown) => error instanceof StoreError && error.code === 'Unavailable', 'the inventory is in the database, not the mirror');
      } finally {
        await mirror.close();
      }
      await store.put(certificate, { secret });
      const { revision: last } = await store.put(env);
      for (let again = MirrorStore.open(path, keys)!; ; again = MirrorStore.open(path, keys)!) {
        const saved = again.revisionSaved;
        const read = saved >= last ? Buffer.from((await again.getSecret(certificate.id))!) : undefined;
        await again.close();
        if (read) {
          assert.deepEqual(read, secret, 'a secret written after the first save reads back');
          break;
        }
        assert.ok(Date.now() < deadline + 10_000, 'the mirror caught up');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('replicas starting together on an empty database migrate it once', async () => {
    const url = await server.createDatabase();
    const keys = testStoreKeys();
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.open(url, { keys })));
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ version: number }[]>`SELECT version FROM schema_migrations ORDER BY version`;
      assert.deepEqual(rows.map((row) => row.version), PG_MIGRATIONS.map((_, index) => index + 1));
    } finally {
      await sql.end();
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  test('inventory: two replicas writing batches of the same certificates at once, in opposite orders, sum exactly (no deadlock, no lost update)', async () => {
    const url = await server.createDatabase();
    const keys = testStoreKeys();
    const replicas = await Promise.all([PostgresStore.open(url, { keys }), PostgresStore.open(url, { keys })]);
    try {
      const certificates = Array.from({ length: 200 }, (_, index) => seen('0', { thumbprint: index.toString(16).padStart(64, '0') }));
      const rounds = 15;
      await Promise.all(
        replicas.map((replica, which) =>
          (async () => {
            for (let round = 0; round < rounds; round++) {
              const batch = certificates.map((certificate, index) => ({ ...certificate, connectionCount: which + 1, lastSeen: `2026-06-01T10:${String(round).padStart(2, '0')}:0${which}.000Z`, lastVerdict: `R${which}` }));
              await replica.inventory.recordBatch(which === 0 ? batch : batch.reverse());
            }
          })(),
        ),
      );
      // A batch may name one certificate twice (merged before the write: a statement cannot update a row twice).
      await replicas[0]!.inventory.recordBatch([certificates[0]!, certificates[0]!]);
      let after: string | undefined;
      const all = [];
      do {
        const page = await replicas[1]!.inventory.list({ app: certificates[0]!.app, top: 1000, after });
        all.push(...page.items);
        after = page.next;
      } while (after !== undefined);
      assert.equal(all.length, certificates.length);
      for (const item of all) {
        const extra = item.thumbprint === certificates[0]!.thumbprint ? 2 : 0;
        assert.equal(item.connectionCount, rounds * (1 + 2) + extra, item.thumbprint);
        assert.equal(item.lastSeen, `2026-06-01T10:${String(rounds - 1).padStart(2, '0')}:01.000Z`);
        assert.equal(item.lastVerdict, 'R1', 'the verdict of the latest sighting, whichever replica wrote last');
      }
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  });

  test('a write on one replica reaches the subscribers of another (LISTEN/NOTIFY), and after its listener reconnects', async () => {
    const url = await server.createDatabase();
    const keys = testStoreKeys();
    // No backstop poll to speak of: what arrives comes by NOTIFY or the re-read on reconnect.
    const [writer, reader] = await Promise.all([PostgresStore.open(url, { keys }), PostgresStore.open(url, { keys, pollIntervalMs: 3_600_000 })]);
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const heard: number[] = [];
      reader.subscribe((revision) => heard.push(revision));
      const until = async (revision: number) => {
        const deadline = Date.now() + 10_000;
        while (!heard.includes(revision) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.ok(heard.includes(revision), `heard ${revision} (heard: ${heard.join(', ')})`);
      };
      await writer.put(env);
      await until(1);
      // The listening connections are cut (a network blip, a pooler restart); a write lands meanwhile.
      const cut = await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'listen%'`;
      assert.ok(cut.length >= 1);
      await writer.put(env);
      await until(2);
    } finally {
      await admin.end();
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  test('secrets are encrypted at rest with the store key; rotation reseals them with the new key', async () => {
    const url = await server.createDatabase();
    const [oldLine, newLine] = [newStoreKeyLine(), newStoreKeyLine()];
    const first = await PostgresStore.open(url, { keys: testStoreKeys(oldLine) });
    await first.put(env);
    await first.put(certificate, { secret });
    await first.close();
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ value: Buffer }[]>`SELECT value FROM secrets`;
      assert.ok(!row!.value.includes(Buffer.from('PRIVATE KEY')), 'the database holds no plain text');
      const wrong = await PostgresStore.open(url, { keys: testStoreKeys(newLine) });
      await assert.rejects(() => wrong.getSecret(certificate.id), /not among the configured keys/);
      await wrong.close();
      // Rotation: the new key first, the old one still there to open; the start reseals.
      const rotating = await PostgresStore.open(url, { keys: testStoreKeys(newLine, oldLine) });
      await rotating.close();
      const rotated = await PostgresStore.open(url, { keys: testStoreKeys(newLine) });
      assert.deepEqual(Buffer.from((await rotated.getSecret(certificate.id))!), secret, 'the old key is no longer needed');
      await rotated.close();
    } finally {
      await sql.end();
    }
  });
});
