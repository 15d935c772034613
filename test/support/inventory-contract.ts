// The client-certificate inventory's contract (src/store/inventory.ts), run inside the store
// contract against every backend: how batches add up, keyset paging, the filters and search, prune
// and expiring, measured the same on SQLite and PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/store.ts';
import type { SeenCertificate } from '../../src/store/inventory.ts';

const APP = '/subscriptions/s1/resourcegroups/rg/providers/microsoft.app/containerapps/app1';
const OTHER_APP = '/subscriptions/s1/resourcegroups/rg/providers/microsoft.app/containerapps/app2';

/** A sighting of the certificate whose thumbprint is `digit` repeated (64 hex characters). */
export function seen(digit: string, overrides: Partial<SeenCertificate> = {}): SeenCertificate {
  return {
    app: APP,
    thumbprint: digit.repeat(64 / digit.length),
    subject: `CN=partner-${digit}`,
    issuer: 'CN=Partner CA',
    serialNumber: `0${digit}`,
    subjectAlternativeNames: [`dns:${digit}.partner.example`],
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2027-01-01T00:00:00.000Z',
    firstSeen: '2026-06-01T10:00:00.000Z',
    lastSeen: '2026-06-01T10:00:00.000Z',
    connectionCount: 1,
    lastVerdict: 'UNVERIFIED',
    ...overrides,
  };
}

export function inventoryContract(withStore: (work: (store: Store, reopen: () => Promise<Store>) => Promise<void>) => Promise<void>): void {
  test('inventory: a batch reads back as written; later batches sum counts, widen first/last seen, keep the later verdict', () =>
    withStore(async (store, reopen) => {
      const first = seen('a', { subjectAlternativeNames: ['dns:a.partner.example', 'ip:192.0.2.1'] });
      await store.inventory.recordBatch([first, seen('b', { subjectAlternativeNames: [] })]);
      assert.deepEqual(await store.inventory.get(APP, first.thumbprint.toUpperCase()), first);
      assert.deepEqual((await store.inventory.get(APP, seen('b').thumbprint))?.subjectAlternativeNames, []);
      assert.equal(await store.inventory.get(OTHER_APP, first.thumbprint), undefined, 'per app');
      await store.inventory.recordBatch([seen('a', { firstSeen: '2026-06-01T11:00:00.000Z', lastSeen: '2026-06-01T12:00:00.000Z', connectionCount: 5, lastVerdict: 'OK' })]);
      // An older batch (a replica that was slow to write) widens first seen and adds its count, but its verdict is not the last.
      await store.inventory.recordBatch([seen('a', { firstSeen: '2026-06-01T09:00:00.000Z', lastSeen: '2026-06-01T09:30:00.000Z', connectionCount: 2, lastVerdict: 'REVOKED' })]);
      await store.close();
      const reopened = await reopen();
      try {
        assert.deepEqual(await reopened.inventory.get(APP, first.thumbprint), {
          ...first,
          firstSeen: '2026-06-01T09:00:00.000Z',
          lastSeen: '2026-06-01T12:00:00.000Z',
          connectionCount: 8,
          lastVerdict: 'OK',
        });
      } finally {
        await reopened.close();
      }
    }));

  test('inventory: concurrent batches for one certificate all add up', () =>
    withStore(async (store) => {
      await Promise.all(Array.from({ length: 10 }, (_, index) => store.inventory.recordBatch([seen('c', { connectionCount: index + 1 }), seen('d')])));
      assert.equal((await store.inventory.get(APP, seen('c').thumbprint))?.connectionCount, 55);
      assert.equal((await store.inventory.get(APP, seen('d').thumbprint))?.connectionCount, 10);
    }));

  test('inventory: keyset paging in thumbprint order, and the expiry filter', () =>
    withStore(async (store) => {
      await store.inventory.recordBatch(['e', '1', 'c', '7', 'a'].map((digit) => seen(digit, { notAfter: digit === '7' || digit === 'c' ? '2026-07-01T00:00:00.000Z' : '2027-01-01T00:00:00.000Z' })));
      await store.inventory.recordBatch([seen('0', { app: OTHER_APP })]);
      const pages: string[][] = [];
      let after: string | undefined;
      do {
        const page = await store.inventory.list({ app: APP, top: 2, after });
        pages.push(page.items.map((item) => item.thumbprint[0]!));
        after = page.next;
      } while (after !== undefined);
      assert.deepEqual(pages, [['1', '7'], ['a', 'c'], ['e']]);
      const exact = await store.inventory.list({ app: APP, top: 5 });
      assert.equal(exact.items.length, 5);
      assert.equal(exact.next, undefined, 'no next link when the page holds the rest exactly');
      assert.deepEqual((await store.inventory.list({ app: APP, top: 10, expiringBefore: '2026-08-01T00:00:00.000Z' })).items.map((item) => item.thumbprint[0]), ['7', 'c']);
      assert.deepEqual((await store.inventory.list({ app: APP, top: 10, expiringBefore: '2026-06-01T00:00:00.000Z' })).items, []);
    }));

  test('inventory: search is a thumbprint prefix or a subject or SAN substring, case-insensitive, LIKE wildcards taken literally', () =>
    withStore(async (store) => {
      await store.inventory.recordBatch([
        seen('ab', { subject: 'CN=Partner 100% Ltd' }),
        seen('cd', { subject: 'CN=partner_x', subjectAlternativeNames: ['dns:API.example.com', 'email:ops@example.org'] }),
        seen('ef', { subject: 'CN=partnerAx' }),
        seen('ab', { app: OTHER_APP, thumbprint: 'ab'.repeat(32) }),
      ]);
      const search = async (text: string) => (await store.inventory.list({ app: APP, top: 10, search: text })).items.map((item) => item.thumbprint.slice(0, 2));
      assert.deepEqual(await search('ABAB'), ['ab'], 'thumbprint prefix, in upper case');
      assert.deepEqual(await search('dcdc'), [], 'a thumbprint substring that is not a prefix');
      assert.deepEqual(await search('PARTNER'), ['ab', 'cd', 'ef']);
      assert.deepEqual(await search('100%'), ['ab']);
      assert.deepEqual(await search('%'), ['ab'], '% is a literal percent sign');
      assert.deepEqual(await search('partner_'), ['cd'], '_ is a literal underscore, not any character');
      assert.deepEqual(await search('api.EXAMPLE'), ['cd'], 'a SAN substring');
      assert.deepEqual(await search('ops@'), ['cd']);
      assert.deepEqual(await search('\\'), [], 'a backslash is literal too');
      assert.deepEqual(await search('nobody'), []);
    }));

  test('inventory: prune removes what was last seen before; expiring lists every app soonest first', () =>
    withStore(async (store) => {
      await store.inventory.recordBatch([
        seen('1', { lastSeen: '2026-01-01T00:00:00.000Z', notAfter: '2026-03-01T00:00:00.000Z' }),
        seen('2', { lastSeen: '2026-05-01T00:00:00.000Z', notAfter: '2026-02-01T00:00:00.000Z' }),
        seen('3', { app: OTHER_APP, lastSeen: '2026-05-01T00:00:00.000Z', notAfter: '2026-01-15T00:00:00.000Z' }),
        seen('4', { lastSeen: '2026-05-01T00:00:00.000Z', notAfter: '2028-01-01T00:00:00.000Z' }),
      ]);
      assert.deepEqual((await store.inventory.expiring('2027-01-01T00:00:00.000Z', 10)).map((item) => item.thumbprint[0]), ['3', '2', '1']);
      assert.deepEqual((await store.inventory.expiring('2027-01-01T00:00:00.000Z', 2)).map((item) => item.thumbprint[0]), ['3', '2']);
      assert.equal(await store.inventory.prune(new Date('2026-03-01T00:00:00.000Z')), 1);
      assert.equal(await store.inventory.get(APP, seen('1').thumbprint), undefined);
      assert.equal(await store.inventory.prune(new Date('2026-03-01T00:00:00.000Z')), 0);
      assert.equal((await store.inventory.list({ app: APP, top: 10 })).items.length, 2);
    }));
}
