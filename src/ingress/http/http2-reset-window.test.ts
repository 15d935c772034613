import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResetWindow } from './http2-reset-window.ts';

test('more than the limit within the window trips; the same number spread wider does not', () => {
  const burst = new ResetWindow(100, 10_000);
  for (let i = 0; i < 100; i++) assert.equal(burst.record(1_000 + i), false);
  assert.equal(burst.record(1_100), true);

  // 100 resets every 10 s, forever: never more than 100 in any window.
  const steady = new ResetWindow(100, 10_000);
  for (let i = 0; i < 1_000; i++) assert.equal(steady.record(i * 100), false, `reset ${i}`);
});

test('old resets leave the window', () => {
  const window = new ResetWindow(3, 1_000);
  assert.equal(window.record(0), false);
  assert.equal(window.record(10), false);
  assert.equal(window.record(20), false);
  assert.equal(window.record(5_000), false, 'the first three are more than a window old');
  assert.equal(window.record(5_001), false);
  assert.equal(window.record(5_002), false);
  assert.equal(window.record(5_003), true);
});
