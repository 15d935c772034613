import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryConsoleSessions } from './sessions.ts';
import { SignInThrottle } from './sign-in-throttle.ts';
import { consoleSessionContract } from '../../../test/support/console-session-contract.ts';

// One process's sessions; the same contract runs against PostgreSQL in test/store.test.ts.
consoleSessionContract('in memory', async () => new MemoryConsoleSessions());

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
