import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { LruCache } from './cache.ts';
import { createVerifier } from './verifier.ts';
import { makeCertificate, makeChain, TEST_NOW, xfccFor } from './testing.ts';
import type { TestCertificate } from './testing.ts';

const DAY = 24 * 60 * 60 * 1000;

describe('LruCache', () => {
  it('evicts the least recently used entry beyond maxEntries', () => {
    const cache = new LruCache<number>(2, 1000);
    cache.set('a', 1, 0);
    cache.set('b', 2, 0);
    assert.equal(cache.get('a', 0), 1); // a is now the most recently used
    cache.set('c', 3, 0);
    assert.equal(cache.get('b', 0), undefined);
    assert.equal(cache.get('a', 0), 1);
    assert.equal(cache.get('c', 0), 3);
    assert.deepEqual(cache.stats(), { hits: 3, misses: 1, evictions: 1, size: 2, maxEntries: 2 });
  });

  it('expires entries after the TTL, or earlier at validUntil', () => {
    const cache = new LruCache<string>(10, 100);
    cache.set('ttl', 'x', 0);
    cache.set('until', 'y', 0, 50);
    assert.equal(cache.get('until', 49), 'y');
    assert.equal(cache.get('until', 50), undefined);
    assert.equal(cache.get('ttl', 99), 'x');
    assert.equal(cache.get('ttl', 100), undefined);
    assert.equal(cache.stats().size, 0);
  });
});

describe('the verifier\'s result cache', () => {
  let pki: Awaited<ReturnType<typeof makeChain>>;
  before(async () => {
    pki = await makeChain();
  });

  it('serves the second verification of the same header from the cache', () => {
    const verifier = createVerifier({ trustAnchors: [pki.root.pem], clock: () => TEST_NOW });
    const headers = xfccFor(pki.leaf, pki.intermediate);
    const first = verifier.verifyHeaders(headers);
    assert.equal(first.ok, true);
    assert.deepEqual(verifier.stats(), { hits: 0, misses: 1, evictions: 0, size: 1, maxEntries: 1000 });
    const second = verifier.verifyHeaders({ ...headers });
    assert.equal(second, first, 'the very same result object');
    assert.equal(verifier.stats().hits, 1);
  });

  it('keys on the whole forwarded value: the same leaf with another Chain is verified anew', async () => {
    const verifier = createVerifier({ trustAnchors: [pki.root.pem], clock: () => TEST_NOW });
    assert.equal(verifier.verifyHeaders(xfccFor(pki.leaf, pki.intermediate)).ok, true);
    const leafOnly = verifier.verifyHeaders(xfccFor(pki.leaf));
    assert.equal(leafOnly.ok ? 'ok' : leafOnly.code, 'UNTRUSTED_ISSUER');
    assert.equal(verifier.stats().hits, 0);
  });

  it('stays within maxEntries however many clients arrive', async () => {
    const verifier = createVerifier({ trustAnchors: [pki.root.pem], clock: () => TEST_NOW, cache: { maxEntries: 3 } });
    const leaves: TestCertificate[] = [];
    for (let i = 0; i < 6; i++) leaves.push(await makeCertificate(`CN=client ${i}`, { issuer: pki.intermediate }));
    for (const leaf of leaves) assert.equal(verifier.verifyHeaders(xfccFor(leaf, pki.intermediate)).ok, true);
    assert.deepEqual(verifier.stats(), { hits: 0, misses: 6, evictions: 3, size: 3, maxEntries: 3 });
    // The three most recent are cached, the first three were evicted.
    verifier.verifyHeaders(xfccFor(leaves[5]!, pki.intermediate));
    verifier.verifyHeaders(xfccFor(leaves[0]!, pki.intermediate));
    assert.equal(verifier.stats().hits, 1);
    assert.equal(verifier.stats().size, 3);
  });

  it('recomputes after the TTL and never serves a result past the certificate\'s expiry', async () => {
    let now = TEST_NOW.getTime();
    const shortLived = await makeCertificate('CN=short-lived', { issuer: pki.intermediate, notAfter: new Date(now + 1000) });
    const verifier = createVerifier({ trustAnchors: [pki.root.pem], clock: () => now, cache: { ttlMs: 60_000 } });
    const headers = xfccFor(shortLived, pki.intermediate);
    assert.equal(verifier.verifyHeaders(headers).ok, true);
    now += 500;
    assert.equal(verifier.verifyHeaders(headers).ok, true);
    assert.equal(verifier.stats().hits, 1);
    now += 1000; // past notAfter, well within the TTL
    const expired = verifier.verifyHeaders(headers);
    assert.equal(expired.ok ? 'ok' : expired.code, 'CERT_EXPIRED');

    const longLived = xfccFor(pki.leaf, pki.intermediate);
    assert.equal(verifier.verifyHeaders(longLived).ok, true);
    const misses = verifier.stats().misses;
    now += 60_000;
    verifier.verifyHeaders(longLived);
    assert.equal(verifier.stats().misses, misses + 1, 'TTL elapsed');
  });

  it('does not keep a not-yet-valid answer past the certificate\'s notBefore', async () => {
    let now = TEST_NOW.getTime();
    const early = await makeCertificate('CN=early', { issuer: pki.intermediate, notBefore: new Date(now + 1000), notAfter: new Date(now + DAY) });
    const verifier = createVerifier({ trustAnchors: [pki.root.pem], clock: () => now });
    const headers = xfccFor(early, pki.intermediate);
    const first = verifier.verifyHeaders(headers);
    assert.equal(first.ok ? 'ok' : first.code, 'CERT_NOT_YET_VALID');
    now += 2000;
    assert.equal(verifier.verifyHeaders(headers).ok, true);
  });

  it('can be turned off', () => {
    const verifier = createVerifier({ trustAnchors: [pki.root.pem], clock: () => TEST_NOW, cache: false });
    const headers = xfccFor(pki.leaf, pki.intermediate);
    verifier.verifyHeaders(headers);
    verifier.verifyHeaders(headers);
    assert.deepEqual(verifier.stats(), { hits: 0, misses: 0, evictions: 0, size: 0, maxEntries: 0 });
  });
});
