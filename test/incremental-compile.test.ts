// Issue 15, point 6: with many apps, a change to one app rebuilds that app's spec and route only
// (counted, not timed): the store's change log names the key, the gateway rebuilds the apps the
// changed documents touch, and the snapshot compiler reuses every other route. The result is the
// snapshot a full read makes. On both stores (SQLite, and a real PostgreSQL started here).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import pino from 'pino';
import { Gateway } from '../src/gateway/gateway.ts';
import { appDocument, encodeManagedCertificateSecret, environmentDocument } from '../src/model/documents.ts';
import { MANAGED_CERTIFICATE_TYPE, managedCertificateId } from '../src/model/resources.ts';
import type { IngressSettings } from '../src/model/ingress.ts';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { PostgresStore } from '../src/store/postgres.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import type { Store } from '../src/store/store.ts';
import { startPostgres, testStoreKeys } from './support/postgres.ts';

const APPS = 300;
const log = pino({ level: 'silent' });
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-incremental-'));
  dirs.push(dir);
  return dir;
};
const pg = await startPostgres();
after(async () => {
  await pg.dispose();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const env = environmentDocument({ subscriptionId: 's1', resourceGroup: 'rg', name: 'env1', defaultDomain: 'env1.inc.test' });
const app = (name: string, ingress: IngressSettings = { targetPort: 8000 }) => appDocument({ subscriptionId: 's1', resourceGroup: 'rg', name, environmentId: env.id, ingress });
const certificateId = managedCertificateId(env.id, 'shop');
const shop = app('shop', { targetPort: 8000, customDomains: [{ name: 'shop.example.test', bindingType: 'SniEnabled', certificateId }] });
const ingress = { bindAddress: '127.0.0.1', httpsPort: 0, httpPort: 0, internal: { bindAddress: '127.0.0.1', httpsPort: 0, httpPort: 0 } };

/** What a snapshot serves, certificates aside (two gateways have two local CAs): host → app, and the problems. */
function served(gateway: Gateway) {
  const snapshot = gateway.ingress.snapshot;
  return { routes: [...snapshot.internalRoutes].map(([host, route]) => [host, route.app]), external: [...snapshot.routes.keys()], problems: gateway.lastOutcome.problems };
}

async function change(gateway: Gateway, write: Promise<{ revision: number }>) {
  await gateway.waitForRevision((await write).revision);
  return gateway.lastCompileCounts!;
}

/** A handshake to `host` without a client certificate, and one request: whether it ended without a TLS error. */
async function handshake(gateway: Gateway, host: string): Promise<boolean> {
  const socket = tls.connect({ host: '127.0.0.1', port: gateway.addresses.httpsPort, servername: host, rejectUnauthorized: false });
  const clean = new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(true));
  });
  // TLS 1.3: a refused client hears the server's alert after its own side of the handshake.
  socket.once('secureConnect', () => socket.end('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
  socket.resume();
  return clean;
}

async function scenario(open: () => Promise<Store>) {
  const store = await open();
  await store.put(env);
  for (let i = 0; i < APPS; i++) await store.put(app(`a${i}`));
  await store.put(shop);
  const gateway = await Gateway.start({ dataDir: tempDir(), ingress, store }, log);
  const fresh = async () => Gateway.start({ dataDir: tempDir(), ingress, store: await open() }, log);
  try {
    assert.deepEqual(gateway.lastCompileCounts, { full: true, appsBuilt: APPS + 1, policiesResolved: APPS + 3, contextsCreated: APPS + 3 }, 'the start reads and builds everything');
    const before = gateway.ingress.snapshot;

    // One app's port: its spec and its route only; no SecureContext (its policy is unchanged).
    let counts = await change(gateway, store.put(app('a7', { targetPort: 9000 })));
    assert.deepEqual(counts, { full: false, appsBuilt: 1, policiesResolved: 3, contextsCreated: 0 }, 'one app rebuilt; the fallback and the environment domain are looked up as always');
    const after = gateway.ingress.snapshot;
    assert.equal(after.routes.get('a7.env1.inc.test')?.app.upstream?.port, 9000);
    assert.equal(after.routes.get('a8.env1.inc.test'), before.routes.get('a8.env1.inc.test'), 'an unchanged app keeps its route object');
    assert.notEqual(after.routes.get('a7.env1.inc.test'), before.routes.get('a7.env1.inc.test'));

    // One app's mode: one new SecureContext, enforced on a real handshake.
    counts = await change(gateway, store.put(app('a7', { targetPort: 9000, clientCertificateMode: 'require' })));
    assert.deepEqual(counts, { full: false, appsBuilt: 1, policiesResolved: 3, contextsCreated: 1 });
    assert.equal(await handshake(gateway, 'a7.env1.inc.test'), false, 'a7 now requires a client certificate');
    assert.equal(await handshake(gateway, 'a8.env1.inc.test'), true, 'a8 does not');

    // A certificate that an app names: that app only.
    assert.ok(gateway.lastOutcome.problems.some((problem) => problem.reason === 'certificate_missing' && problem.resource === shop.id));
    const ca = await createCa({ commonName: 'incremental test CA' });
    const issued = await issueCertificate({ issuer: ca, commonName: 'shop.example.test', kind: 'server', dnsNames: ['shop.example.test'] });
    counts = await change(gateway, store.put({ id: certificateId, name: 'shop', type: MANAGED_CERTIFICATE_TYPE, location: 'westeurope', properties: { subjectName: 'shop.example.test' } }, { secret: encodeManagedCertificateSecret({ certPem: issued.certPem, keyPem: issued.keyPem }) }));
    assert.deepEqual(counts, { full: false, appsBuilt: 1, policiesResolved: 4, contextsCreated: 1 }, 'the app that names it: its two names, one new context');
    assert.equal(gateway.ingress.snapshot.routes.get('shop.example.test')?.app.id, shop.id);

    // A deleted app: nothing built, its route gone.
    counts = await change(gateway, store.delete(app('a3').id));
    assert.equal(counts.appsBuilt, 0);
    assert.equal(gateway.ingress.snapshot.routes.has('a3.env1.inc.test'), false);

    // A name two apps claim goes to the first by id, as a full build decides.
    counts = await change(gateway, store.put(app('zz', { targetPort: 1, customDomains: [{ name: 'shop.example.test', bindingType: 'SniEnabled', certificateId }] })));
    assert.equal(counts.appsBuilt, 1);
    assert.equal(gateway.ingress.snapshot.routes.get('shop.example.test')?.app.id, shop.id);
    assert.ok(gateway.lastOutcome.problems.some((problem) => problem.reason === 'hostname_taken' && problem.resource === app('zz').id));

    // An environment change touches every app in it.
    counts = await change(gateway, store.put({ ...env, properties: { ...env.properties, certgate: { stripHeaders: ['x-secret'] } } } as typeof env));
    assert.equal(counts.appsBuilt, APPS + 1, 'every app of the environment (a3 is gone, zz is new)');
    assert.ok(gateway.ingress.snapshot.routes.get('a9.env1.inc.test')?.app.stripHeaders?.has('x-secret'));

    // What the changes built is what a full read builds.
    const full = await fresh();
    try {
      assert.equal(full.lastCompileCounts?.full, true);
      assert.deepEqual(served(gateway), served(full));
    } finally {
      await full.close(0);
    }
  } finally {
    await gateway.close(0);
  }
}

test('SQLite: a one-app change of many rebuilds that app only, and equals a full read', async () => {
  const path = join(tempDir(), 'certgate.db');
  await scenario(async () => new SqliteStore(path));
});

test('PostgreSQL: a one-app change of many rebuilds that app only, and equals a full read', async () => {
  const url = await pg.createDatabase();
  const keys = testStoreKeys();
  await scenario(() => PostgresStore.open(url, { keys }));
});
