import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCESS_LOG_BUFFER_BYTES, AccessLog, isoNow, millis, quote } from './access-log.ts';

test("isoNow is exactly Date's toISOString, across milliseconds, seconds and days", () => {
  const start = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
  for (const now of [0, 5, 50, 999, 1_000, start, ...Array.from({ length: 3_000 }, (_, i) => start + i * 7), Date.now()]) {
    assert.equal(isoNow(now), new Date(now).toISOString(), String(now));
  }
});

test('millis prints what Math.round(ms * 1000) / 1000 prints', () => {
  const values = [0, 0.0004, 0.0005, 0.001, 0.1, 0.25, 1, 1.5, 12.3456, 999.9995, 1_000, 60_000.001, 123_456.789, 3.6e9 + 0.007];
  for (let i = 0; i < 20_000; i++) values.push(Math.random() * 10 ** (i % 7));
  for (const ms of values) assert.equal(millis(ms), String(Math.round(ms * 1000) / 1000), String(ms));
});

test("quote is JSON.stringify's, quoting as is only what needs no escape", () => {
  const values = ['', '/orders/42', 'rg/app', 'GET', '/a b/~%7e!*()[];:@&=+$,', 'é/ü/日本', '/"quoted"', '/back\\slash', '/tab\t', '\u0000', '/\u007f', '\ud83d\ude00', '/lone\ud800', '\udc00x'];
  for (const value of values) {
    assert.equal(quote(value), JSON.stringify(value), value);
    assert.equal(JSON.parse(quote(value)), value);
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
    const fields = { requestId: 'r', traceId: 't', method: 'GET', target: '/' + 'x'.repeat(900), status: 200, bytes: 0, upstreamMs: 1, protocol: 'HTTP/1.1', reason: '' };
    const app = log.appField('rg/app');
    // ~40 MiB of lines, well past the bound.
    for (let i = 0; i < 40_000; i++) log.request(connection, app, fields, 1);
    assert.ok(log.dropped > 0, 'lines beyond the bound are dropped');
    const heldMiB = process.memoryUsage().arrayBuffers / 1024 / 1024;
    assert.ok(heldMiB < ACCESS_LOG_BUFFER_BYTES / 1024 / 1024 + 16, `buffers held ${heldMiB.toFixed(1)} MiB`);
  } finally {
    log.destroy();
    closeSync(reader);
    rmSync(dir, { recursive: true, force: true });
  }
});
