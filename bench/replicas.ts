// Scale-out figures (issue 15), in one process on a PostgreSQL this script starts (initdb):
//   enforcement  3 replicas (Gateway + ReplicatedHost each, own connections): a PATCH-like write to
//                one app through replica 1; from its commit to the last replica serving it, and
//                until the writer's wait (every live replica reported it) returned. p50/p99.
//   write rate   puts per second to one app, PostgreSQL against SQLite (one writer).
//   many apps    N apps in one environment; one app changed: time until the ingress serves it,
//                and the heap with N apps, for both stores.
// Usage: node bench/replicas.ts [--json] [--changes=100] [--apps=10000] [--seconds=3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Gateway } from '../src/gateway/gateway.ts';
import { ReplicatedHost } from '../src/gateway/replicated-host.ts';
import { appDocument, environmentDocument } from '../src/model/documents.ts';
import { PostgresStore } from '../src/store/postgres.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import type { Store } from '../src/store/store.ts';
import { startPostgres, testStoreKeys } from '../test/support/postgres.ts';

const keys = testStoreKeys();
import { percentile } from './lib/certgate-scenarios.ts';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => Number(argv.find((value) => value.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const json = argv.includes('--json');
const changes = option('changes', 100);
const apps = option('apps', 10_000);
const seconds = option('seconds', 3);
const log = pino({ level: 'silent' });
const SUB = '00000000-0000-0000-0000-000000000001';
const env = environmentDocument({ subscriptionId: SUB, resourceGroup: 'rg', name: 'env1', defaultDomain: 'env1.bench.test' });
const app = (name: string, targetPort = 8000) => appDocument({ subscriptionId: SUB, resourceGroup: 'rg', name, environmentId: env.id, ingress: { targetPort } });
const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? NaN) };
};
const round = (value: number) => Math.round(value * 10) / 10;
const say = (line: string) => !json && process.stdout.write(`${line}\n`);
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-bench-replicas-'));
  dirs.push(dir);
  return dir;
};
const ingress = { bindAddress: '127.0.0.1', httpsPort: 0, httpPort: 0, internal: { bindAddress: '127.0.0.1', httpsPort: 0, httpPort: 0 } };

async function enforcement(url: string) {
  const replicas = await Promise.all(
    ['b1', 'b2', 'b3'].map(async (name) => {
      const gateway = await Gateway.start({ dataDir: tempDir(), ingress, store: await PostgresStore.open(url, { keys }) }, log);
      return { gateway, host: await ReplicatedHost.start(gateway, gateway.store.replicas!, { name }, log) };
    }),
  );
  const writer = replicas[0]!;
  await writer.gateway.store.put(env);
  await writer.gateway.store.put(app('shop'));
  const enforced: number[] = [];
  const answered: number[] = [];
  for (let i = 0; i < changes; i++) {
    const { revision } = await writer.gateway.store.put(app('shop', 8000 + (i % 2)));
    const committed = performance.now();
    // Each replica's own compilation (what serves), and the writer's wait (which also reads the registry).
    const served = replicas.map(({ gateway }) => gateway.waitForRevision(revision).then(() => performance.now()));
    const waited = writer.host.waitForRevision(revision).then(() => performance.now());
    enforced.push(Math.max(...(await Promise.all(served))) - committed);
    answered.push((await waited) - committed);
  }
  await Promise.all(replicas.map(({ host }) => host.close(0)));
  return { replicas: 3, changes, enforcedMs: stats(enforced), answeredMs: stats(answered) };
}

async function writeRate(store: Store) {
  await store.put(env);
  let writes = 0;
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    await store.put(app('rate', 8000 + (writes % 2)));
    writes++;
  }
  return round(writes / seconds);
}

async function manyApps(store: Store, label: string) {
  const dataDir = tempDir();
  await store.put(env);
  // Written straight to the store: the figure is about the ingress, not the API's checks.
  for (let i = 0; i < apps; i++) await store.put(app(`a${i}`));
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const gateway = await Gateway.start({ dataDir, ingress, store }, log);
  global.gc?.();
  const heapMb = round((process.memoryUsage().heapUsed - before) / 1_048_576);
  const times: number[] = [];
  for (let i = 0; i < Math.min(changes, 20); i++) {
    const started = performance.now();
    const { revision } = await store.put(app('a0', 8000 + (i % 2) + 1));
    await gateway.waitForRevision(revision);
    times.push(performance.now() - started);
  }
  await gateway.close(0);
  return { store: label, apps, heapMbWithGateway: heapMb, changeEnforcedMs: stats(times) };
}

const pg = await startPostgres();
try {
  const out: Record<string, unknown> = {};
  out.enforcement = await enforcement(await pg.createDatabase());
  say(`enforcement across 3 replicas: ${JSON.stringify(out.enforcement)}`);
  const sqliteRate = new SqliteStore(join(tempDir(), 'rate.db'));
  const pgRate = await PostgresStore.open(await pg.createDatabase(), { keys });
  out.writesPerSecond = { sqlite: await writeRate(sqliteRate), postgres: await writeRate(pgRate) };
  await sqliteRate.close();
  await pgRate.close();
  say(`writes per second (one writer): ${JSON.stringify(out.writesPerSecond)}`);
  out.manyApps = [await manyApps(new SqliteStore(join(tempDir(), 'many.db')), 'sqlite'), await manyApps(await PostgresStore.open(await pg.createDatabase(), { keys }), 'postgres')];
  say(`many apps: ${JSON.stringify(out.manyApps)}`);
  if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await pg.dispose();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
