import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionTable, csrfTokenMatches } from './sessions.ts';
import { SignInThrottle } from './sign-in-throttle.ts';

test('the session table is bounded: past its size the oldest session is dropped', () => {
  const table = new SessionTable({ maxSessions: 3 });
  const sessions = [0, 1, 2, 3].map((i) => table.create(`client-${i}`, 1_000 + i));
  assert.equal(table.size, 3);
  assert.equal(table.get(sessions[0]!.id, 2_000), undefined);
  assert.equal(table.get(sessions[3]!.id, 2_000)?.clientId, 'client-3');
});

test('a session ends after its lifetime however busy, and after its idle time', () => {
  const table = new SessionTable({ lifetimeMs: 10_000, idleMs: 3_000 });
  const busy = table.create('busy', 0);
  for (let now = 2_000; now < 10_000; now += 2_000) assert.ok(table.get(busy.id, now), `alive at ${now}`);
  assert.equal(table.get(busy.id, 10_000), undefined, 'lifetime over');
  const idle = table.create('idle', 20_000);
  assert.equal(table.get(idle.id, 23_000), undefined, 'idle too long');
  assert.equal(table.maxAgeSeconds(table.create('new', 30_000), 31_000), 9);
});

test('sign-out deletes; ids and CSRF tokens are random and compared exactly', () => {
  const table = new SessionTable();
  const a = table.create('a');
  const b = table.create('a');
  assert.notEqual(a.id, b.id);
  assert.notEqual(a.csrfToken, b.csrfToken);
  assert.ok(csrfTokenMatches(a, a.csrfToken));
  for (const wrong of [b.csrfToken, a.csrfToken.slice(1), `${a.csrfToken}x`, '', undefined, 42]) assert.equal(csrfTokenMatches(a, wrong), false);
  table.delete(a.id);
  assert.equal(table.get(a.id), undefined);
  assert.equal(table.get(undefined), undefined);
});

test('the sign-in throttle refuses an address after its failures, per window, with a bounded table', () => {
  const throttle = new SignInThrottle({ maxFailures: 2, windowMs: 60_000, maxAddresses: 2 });
  throttle.recordFailure('a', 0);
  assert.equal(throttle.retryAfterSeconds('a', 1_000), 0);
  throttle.recordFailure('a', 1_000);
  assert.equal(throttle.retryAfterSeconds('a', 1_000), 59, 'until the window that began at the first failure ends');
  assert.equal(throttle.retryAfterSeconds('b', 1_000), 0, 'another address is not affected');
  assert.equal(throttle.retryAfterSeconds('a', 60_000), 0, 'a new window');
  throttle.recordFailure('b', 2_000);
  throttle.recordFailure('c', 3_000);
  throttle.recordFailure('c', 3_000);
  assert.equal(throttle.retryAfterSeconds('a', 4_000), 0, 'the oldest address was dropped at the bound');
  assert.ok(throttle.retryAfterSeconds('c', 4_000) > 0);
  throttle.recordSuccess('c');
  assert.equal(throttle.retryAfterSeconds('c', 4_000), 0);
});

test('the sign-in throttle bounds the secret checks in flight', () => {
  const throttle = new SignInThrottle({ maxConcurrent: 2 });
  assert.equal(throttle.begin(), true);
  assert.equal(throttle.begin(), true);
  assert.equal(throttle.begin(), false, 'a third check at once is refused');
  throttle.end();
  assert.equal(throttle.begin(), true);
});
