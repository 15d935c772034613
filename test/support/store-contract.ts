// The store contract: what every Store backend must do, as one suite run against each backend
// (test/store.test.ts), so a new backend is measured exactly as the embedded one is.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError, type Store } from '../../src/store/store.ts';
import { appDocument, environmentDocument } from '../../src/model/documents.ts';
import { APP_TYPE, ENVIRONMENT_TYPE, resourceGroupId } from '../../src/model/resources.ts';
import { inventoryContract } from './inventory-contract.ts';

/** One empty store of the backend under test, for one test. */
export interface OpenedStore {
  readonly store: Store;
  /** The same data opened again (a new connection, a restarted process); the caller closes it. */
  reopen(): Store | Promise<Store>;
  /** Removes everything the store was made with (files, a database). The store is closed already. */
  dispose(): Promise<void>;
}

export function storeContract(name: string, open: () => Promise<OpenedStore>): void {
  async function withStore(work: (store: Store, reopen: () => Promise<Store>) => Promise<void> | void) {
    const opened = await open();
    try {
      await work(opened.store, async () => opened.reopen());
    } finally {
      await opened.store.close();
      await opened.dispose();
    }
  }

  describe(`the store contract: ${name}`, () => {
    const env = environmentDocument({ subscriptionId: 's1', resourceGroup: 'RG', name: 'env1', defaultDomain: 'env1.test' });
    const app = appDocument({ subscriptionId: 's1', resourceGroup: 'RG', name: 'app1', environmentId: env.id, ingress: { targetPort: 80 } });

    test('put creates then replaces, with etag, systemData and a revision per write', () =>
      withStore(async (store) => {
        assert.equal(await store.revision(), 0);
        const first = await store.put(env, { now: new Date('2026-01-01T00:00:00Z') });
        assert.equal(first.created, true);
        assert.equal(first.revision, 1);
        const second = await store.put(env, { now: new Date('2026-01-02T00:00:00Z') });
        assert.equal(second.created, false);
        assert.notEqual(second.resource.etag, first.resource.etag);
        assert.equal(second.resource.systemData.createdAt, '2026-01-01T00:00:00.000Z');
        assert.equal(second.resource.systemData.lastModifiedAt, '2026-01-02T00:00:00.000Z');
        assert.equal(await store.revision(), 2);
      }));

    test('ids compare case-insensitively and keep their casing', () =>
      withStore(async (store) => {
        await store.put(env);
        const found = await store.get(env.id.toUpperCase());
        assert.equal(found?.id, env.id);
      }));

    test('list by type and scope', () =>
      withStore(async (store) => {
        await store.put(env);
        await store.put(app);
        await store.put(appDocument({ subscriptionId: 's1', resourceGroup: 'other', name: 'app2', environmentId: env.id }));
        // Ordered by lower-cased id: resource group "other" before "rg".
        assert.deepEqual((await store.list({ type: APP_TYPE })).map((r) => r.name), ['app2', 'app1']);
        assert.deepEqual((await store.list({ type: APP_TYPE, scope: resourceGroupId('s1', 'rg') })).map((r) => r.name), ['app1']);
        assert.deepEqual((await store.list({ type: ENVIRONMENT_TYPE.toLowerCase() })).map((r) => r.name), ['env1']);
      }));

    test('If-Match: a stale etag is refused and changes nothing', () =>
      withStore(async (store) => {
        const { resource } = await store.put(env);
        await store.put(env);
        await assert.rejects(() => store.put({ ...env, tags: { changed: 'yes' } }, { ifMatch: resource.etag }), (error: unknown) => error instanceof StoreError && error.code === 'PreconditionFailed');
        assert.equal((await store.get(env.id))?.tags, undefined);
        assert.equal(await store.revision(), 2);
      }));

    test('update is a read-modify-write; a throwing change writes nothing', () =>
      withStore(async (store) => {
        await store.put(app);
        await store.update(app.id, (current) => ({ doc: { ...current!, tags: { a: '1' } } }));
        assert.deepEqual((await store.get(app.id))?.tags, { a: '1' });
        await assert.rejects(() => store.update(app.id, () => { throw new Error('invalid'); }), /invalid/);
        assert.deepEqual((await store.get(app.id))?.tags, { a: '1' });
      }));

    test('read-modify-writes are serialised: concurrent ones lose no update, and what change reads is current', () =>
      withStore(async (store) => {
        await store.put({ ...env, tags: { count: '0' } });
        // Each change reads the store (as a resource kind's checks do) before it decides.
        const increment = () =>
          store.update(env.id, async (current) => {
            const seen = await store.get(env.id);
            assert.equal(seen?.etag, current?.etag, 'a read inside change sees the state the write is based on');
            return { doc: { ...current!, tags: { count: String(Number(current!.tags!['count']) + 1) } } };
          });
        await Promise.all(Array.from({ length: 8 }, increment));
        assert.equal((await store.get(env.id))?.tags?.['count'], '8');
        assert.equal(await store.revision(), 9);
      }));

    test('delete removes the resource and everything below it, with its secrets', () =>
      withStore(async (store) => {
        await store.put(env);
        await store.put({ id: `${env.id}/certificates/c1`, name: 'c1', type: `${ENVIRONMENT_TYPE}/certificates`, properties: {} }, { secret: new Uint8Array([1, 2, 3]) });
        await store.put(app);
        assert.deepEqual([...(await store.getSecret(`${env.id}/certificates/c1`))!], [1, 2, 3]);
        assert.equal((await store.delete(resourceGroupId('s1', 'RG'))).deleted, false, 'a missing resource is not deleted');
        assert.equal((await store.delete(env.id)).deleted, true);
        assert.equal(await store.get(`${env.id}/certificates/c1`), undefined);
        assert.equal(await store.getSecret(`${env.id}/certificates/c1`), undefined);
        assert.ok(await store.get(app.id), 'a sibling stays');
      }));

    test('changesSince names each key written or deleted after a revision, a deleted subtree key by key', () =>
      withStore(async (store) => {
        const certificate = `${env.id}/certificates/c1`;
        assert.deepEqual(await store.changesSince(0), { revision: 0, keys: [] });
        await store.put(env);
        await store.put({ id: certificate, name: 'c1', type: `${ENVIRONMENT_TYPE}/certificates`, properties: {} }, { secret: new Uint8Array([1]) });
        const { revision: afterCertificate } = await store.put(app);
        await store.put(app);
        const key = (id: string) => id.toLowerCase();
        assert.deepEqual(await store.changesSince(0), { revision: 4, keys: [key(env.id), key(certificate), key(app.id)].sort() });
        assert.deepEqual(await store.changesSince(afterCertificate), { revision: 4, keys: [key(app.id)] });
        assert.deepEqual(await store.changesSince(4), { revision: 4, keys: [] });
        await store.delete(resourceGroupId('s1', 'other'));
        await store.delete(env.id);
        assert.deepEqual(await store.changesSince(4), { revision: 5, keys: [key(env.id), key(certificate)].sort() });
        assert.equal(await store.changesSince(6), undefined, 'a revision the store has not reached: it cannot tell');
        assert.equal(await store.changesSince(-1), undefined, 'before the log: it cannot tell');
      }));

    test('subscribers hear each committed revision', () =>
      withStore(async (store) => {
        const heard: number[] = [];
        const unsubscribe = store.subscribe((revision) => heard.push(revision));
        await store.put(env);
        await store.delete(env.id);
        await store.delete(env.id);
        unsubscribe();
        await store.put(env);
        assert.deepEqual(heard, [1, 2]);
      }));

    test('data survives reopening the store', () =>
      withStore(async (store, reopen) => {
        await store.put(env);
        await store.close();
        const reopened = await reopen();
        try {
          assert.equal((await reopened.get(env.id))?.name, 'env1');
          assert.equal(await reopened.revision(), 1);
        } finally {
          await reopened.close();
        }
      }));

    inventoryContract(withStore);
  });
}
