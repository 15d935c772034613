import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoNow } from './access-log.ts';

test("isoNow is exactly Date's toISOString, across milliseconds, seconds and days", () => {
  const start = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
  for (const now of [0, 5, 50, 999, 1_000, start, ...Array.from({ length: 3_000 }, (_, i) => start + i * 7), Date.now()]) {
    assert.equal(isoNow(now), new Date(now).toISOString(), String(now));
  }
});
