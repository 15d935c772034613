import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replicaProgress } from './replica-progress.ts';
import type { ReplicaReport } from '../store/replicas.ts';

const report = (name: string, revision: number, live = true, error?: string): ReplicaReport => ({
  name,
  revision,
  live,
  lastHeartbeat: '2026-01-01T00:00:00.000Z',
  outcome: error === undefined ? { revision, problems: [] } : { revision, error, problems: [] },
});

test('a write waits for the live replicas behind it, not for stale ones nor for its own report', () => {
  const local = { revision: 7, problems: [] };
  const waiting = replicaProgress([report('a', 6), report('b', 7), report('c', 2, false), report('me', 5)], 'me', 7, local);
  assert.deepEqual(waiting.pending, ['a']);
  assert.deepEqual(waiting.stale, ['c']);
  assert.equal(waiting.outcome, undefined);
  const done = replicaProgress([report('a', 8), report('b', 7), report('c', 2, false)], 'me', 7, local);
  assert.deepEqual(done.pending, []);
  assert.deepEqual(done.outcome, { revision: 7, problems: [], staleReplicas: ['c'] });
});

test("a live replica's failed compilation fails the write", () => {
  const done = replicaProgress([report('a', 7, true, 'no disk')], 'me', 7, { revision: 7, problems: [] });
  assert.equal(done.outcome?.error, 'no disk');
  assert.equal(done.outcome?.staleReplicas, undefined);
});
