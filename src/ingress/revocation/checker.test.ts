// The online revocation checker against a real local HTTP server: cached statuses are synchronous,
// concurrent misses share one fetch, and fetches in flight and cached CRLs stay bounded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { makeCertificate, makeCrl, TEST_NOW, type TestCertificate } from '../../app-auth/testing.ts';
import { MAX_CACHED_CRLS, MAX_FETCHES_IN_FLIGHT, RevocationChecker, type RevocationStatus } from './checker.ts';
import { revocationSources } from './sources.ts';

let server: http.Server;
let base: string;
let root: TestCertificate;
let crl: string;
const fetches = new Map<string, number>();
/** Paths that get no answer until released. */
const held: http.ServerResponse[] = [];

before(async () => {
  root = await makeCertificate('CN=checker root', { ca: true, keyUsage: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign });
  server = http.createServer((req, res) => {
    fetches.set(req.url!, (fetches.get(req.url!) ?? 0) + 1);
    if (req.url!.startsWith('/hold/')) held.push(res);
    else res.end(crl);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const leafWith = (urls: string[], ocsp: string[] = []) =>
  makeCertificate('CN=checker leaf', {
    issuer: root,
    extensions: [
      ...(urls.length > 0 ? [new x509.CRLDistributionPointsExtension(urls)] : []),
      ...(ocsp.length > 0 ? [new x509.AuthorityInfoAccessExtension({ ocsp })] : []),
    ],
  });

test('sources: only http URLs, the first two of each kind', async () => {
  const leaf = await leafWith(['ldap://dir.example/crl', 'https://a.example/crl', 'http://b.example/1.crl', 'http://b.example/2.crl', 'http://b.example/3.crl'], ['http://ocsp.example/']);
  assert.deepEqual(revocationSources(leaf.certificate), { crl: ['http://b.example/1.crl', 'http://b.example/2.crl'], ocsp: ['http://ocsp.example/'] });
  assert.deepEqual(revocationSources(root.certificate), { crl: [], ocsp: [] });
});

test('a miss is a Promise; concurrent misses share one fetch; then a hit is synchronous', async () => {
  crl = await makeCrl(root, { revoked: [] });
  const checker = new RevocationChecker(() => TEST_NOW.getTime());
  const leaf = await leafWith([`${base}/shared.crl`]);
  const first = checker.status(leaf.certificate, root.certificate, 'Crl');
  const second = checker.status(leaf.certificate, root.certificate, 'Crl');
  assert.ok(first instanceof Promise && second instanceof Promise);
  assert.equal((await first).state, 'good');
  assert.equal((await second).state, 'good');
  assert.equal(fetches.get('/shared.crl'), 1);
  const hit = checker.status(leaf.certificate, root.certificate, 'Crl') as RevocationStatus;
  assert.ok(!(hit instanceof Promise), 'cached: no Promise');
  assert.equal(hit.state, 'good');
  assert.equal(hit.until, TEST_NOW.getTime() + 7 * 86_400_000, 'reusable until the CRL\'s nextUpdate');
});

test(`at most ${MAX_FETCHES_IN_FLIGHT} fetches in flight: the next one is unknown at once`, async () => {
  const checker = new RevocationChecker(() => TEST_NOW.getTime());
  const leaves = await Promise.all(Array.from({ length: MAX_FETCHES_IN_FLIGHT + 1 }, (_, i) => leafWith([`${base}/hold/${i}.crl`])));
  const pending = leaves.map((leaf) => checker.status(leaf.certificate, root.certificate, 'Crl'));
  const last = await pending.at(-1)!;
  assert.equal(last.state, 'unknown');
  assert.match(last.detail, /in flight/);
  assert.equal(checker.stats().inflight, MAX_FETCHES_IN_FLIGHT);
  while (held.length < MAX_FETCHES_IN_FLIGHT) await new Promise((resolve) => setTimeout(resolve, 10));
  for (const res of held.splice(0)) res.end(crl);
  const statuses = await Promise.all(pending.slice(0, -1));
  assert.ok(statuses.every((status) => status.state === 'good'));
  assert.equal(checker.stats().inflight, 0);
});

test(`the CRL cache keeps at most ${MAX_CACHED_CRLS} URLs`, async () => {
  const checker = new RevocationChecker(() => TEST_NOW.getTime());
  const leaves = await Promise.all(Array.from({ length: MAX_CACHED_CRLS + 8 }, (_, i) => leafWith([`${base}/many/${i}.crl`])));
  for (let i = 0; i < leaves.length; i += 16) {
    await Promise.all(leaves.slice(i, i + 16).map((leaf) => checker.status(leaf.certificate, root.certificate, 'Crl')));
  }
  assert.equal(checker.stats().crls, MAX_CACHED_CRLS);
});

test('a CRL signed by another key, or past its nextUpdate, gives status unknown', async () => {
  const impostor = await makeCertificate('CN=checker root', { ca: true, keyUsage: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign });
  crl = await makeCrl(root, { signingKeys: impostor.keys });
  const checker = new RevocationChecker(() => TEST_NOW.getTime());
  const forged = await checker.status((await leafWith([`${base}/forged.crl`])).certificate, root.certificate, 'Crl');
  assert.equal(forged.state, 'unknown');
  assert.match(forged.detail, /signature does not verify/);
  crl = await makeCrl(root, { nextUpdate: new Date(TEST_NOW.getTime() - 1000) });
  const staleLeaf = await leafWith([`${base}/stale.crl`]);
  const stale = await checker.status(staleLeaf.certificate, root.certificate, 'Crl');
  assert.equal(stale.state, 'unknown');
  assert.match(stale.detail, /stale/);
  const again = checker.status(staleLeaf.certificate, root.certificate, 'Crl');
  assert.ok(!(again instanceof Promise), 'a stale CRL is not fetched again on the next connection');
  assert.equal(fetches.get('/stale.crl'), 1);
});

test('a large fetched CRL is parsed off the event loop (a worker thread): other work keeps running meanwhile', async () => {
  crl = await makeCrl(root, { revoked: Array.from({ length: 3_000 }, (_, i) => ({ serialNumber: (0x100000 + i).toString(16) })) });
  const checker = new RevocationChecker(() => TEST_NOW.getTime());
  const leaf = await leafWith([`${base}/large.crl`]);
  let last = performance.now();
  let longestGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 5);
  const started = performance.now();
  const status = await checker.status(leaf.certificate, root.certificate, 'Crl');
  const took = performance.now() - started;
  // The gap up to now counts too (a stall right before the answer is otherwise never seen).
  longestGap = Math.max(longestGap, performance.now() - last);
  clearInterval(ticker);
  assert.equal(status.state, 'good');
  assert.ok(longestGap < Math.max(150, took / 3), `the event loop stalled ${longestGap.toFixed(0)} ms of ${took.toFixed(0)} ms`);
});
