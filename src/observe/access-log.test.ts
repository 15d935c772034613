import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCESS_LOG_BUFFER_BYTES, AccessLog, isoNow } from './access-log.ts';

test("isoNow is exactly Date's toISOString, across milliseconds, seconds and days", () => {
  const start = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
  for (const now of [0, 5, 50, 999, 1_000, start, ...Array.from({ length: 3_000 }, (_, i) => start + i * 7), Date.now()]) {
    assert.equal(isoNow(now), new Date(now).toISOString(), String(now));
  }
});

test('a destination nobody drains holds at most ACCESS_LOG_BUFFER_BYTES; the rest is dropped and counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-access-log-'));
  const fifo = join(dir, 'stalled');
  execFileSync('mkfifo', [fifo]);
  // A reader that never reads: the pipe fills (64 KiB) and every later write waits in the buffer.
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const log = AccessLog.create({ destination: fifo })!;
  try {
    await new Promise((resolve) => setTimeout(resolve, 200)); // the destination opens asynchronously
    const connection = log.forConnection({ clientAddress: '192.0.2.1' });
    const fields = { requestId: 'r', traceId: 't', app: 'rg/app', method: 'GET', path: '/' + 'x'.repeat(900), status: 200, bytes: 0, durationMs: 1, upstreamMs: 1, protocol: 'HTTP/1.1', reason: '' };
    // ~40 MiB of lines, well past the bound.
    for (let i = 0; i < 40_000; i++) log.request(connection, fields);
    assert.ok(log.dropped > 0, 'lines beyond the bound are dropped');
    const heldMiB = process.memoryUsage().arrayBuffers / 1024 / 1024;
    assert.ok(heldMiB < ACCESS_LOG_BUFFER_BYTES / 1024 / 1024 + 16, `buffers held ${heldMiB.toFixed(1)} MiB`);
  } finally {
    log.destroy();
    closeSync(reader);
    rmSync(dir, { recursive: true, force: true });
  }
});
