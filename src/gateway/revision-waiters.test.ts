import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RevisionWaiters } from './revision-waiters.ts';

test('a waiter is released with the first outcome covering its revision; a covered revision resolves at once', async () => {
  const waiters = new RevisionWaiters();
  assert.deepEqual(await waiters.wait(3, { revision: 3, problems: [] }), { revision: 3, problems: [] });
  const four = waiters.wait(4, { revision: 3, problems: [] });
  const six = waiters.wait(6, { revision: 3, problems: [] });
  waiters.release({ revision: 3, problems: [] });
  assert.equal(waiters.size, 2);
  const failed = { revision: 5, error: 'no certificate', problems: [] };
  waiters.release(failed);
  assert.equal(await four, failed, 'a failed compilation releases its writers with the failure');
  assert.equal(waiters.size, 1);
  waiters.release({ revision: 7, problems: [] });
  assert.deepEqual(await six, { revision: 7, problems: [] });
  assert.equal(waiters.size, 0);
});
