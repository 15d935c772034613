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

test('a request line: every field, in order, as JSON.parse reads it (the line is put together by hand)', () => {
  let written = '';
  const log = AccessLog.create({ destination: 'memory' }, { write: (chunk: string) => (written += chunk) })!;
  const connection = log.forConnection({
    clientAddress: '192.0.2.1',
    servername: 'app.env1.example',
    tlsVersion: 'TLSv1.3',
    resumed: false,
    verdict: { code: 'OK', thumbprint: 'ab'.repeat(32), subject: 'CN="partner"', serial: '01' } as never,
  });
  const prefix = log.requestPrefix(connection, 'rg/app');
  const base = { requestId: 'a2c3e7f0-1b2c-4d5e-8f90-0123456789ab', traceId: '0af7651916cd43dd8448eb211c80319c', status: 200, bytes: 3, protocol: 'HTTP/1.1' };
  log.request(prefix, { ...base, method: 'GET', target: '/orders/42?token=secret', upstreamMs: 0.5004, reason: '' }, 1.2345);
  log.request(prefix, { ...base, method: 'BREW', target: '/p\u00e9/"x"', upstreamMs: -1, reason: 'queue_full', protocol: 'HTTP/2' }, 2);
  log.flush();
  const [first, second] = written.trimEnd().split('\n').map((line) => JSON.parse(line));
  const connectionFields = { clientAddress: '192.0.2.1', servername: 'app.env1.example', tlsVersion: 'TLSv1.3', resumed: false, verdict: 'OK', certThumbprint: 'ab'.repeat(32), certSubject: 'CN="partner"', certSerial: '01' };
  assert.deepEqual(Object.keys(first), ['level', 'time', ...Object.keys(connectionFields), 'requestId', 'traceId', 'app', 'method', 'path', 'status', 'bytes', 'durationMs', 'upstreamMs', 'protocol', 'reason', 'msg']);
  assert.deepEqual(first, { level: 30, time: first.time, ...connectionFields, ...base, app: 'rg/app', method: 'GET', path: '/orders/42', durationMs: 1.235, upstreamMs: 0.5, reason: '', msg: 'request' });
  assert.ok(Math.abs(Date.parse(first.time) - Date.now()) < 5_000);
  assert.deepEqual(second, { level: 30, time: second.time, ...connectionFields, ...base, app: 'rg/app', method: 'BREW', path: '/p\u00e9/"x"', durationMs: 2, protocol: 'HTTP/2', reason: 'queue_full', msg: 'request' });
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
    const prefix = log.requestPrefix(connection, 'rg/app');
    // ~40 MiB of lines, well past the bound.
    for (let i = 0; i < 40_000; i++) log.request(prefix, fields, 1);
    assert.ok(log.dropped > 0, 'lines beyond the bound are dropped');
    const heldMiB = process.memoryUsage().arrayBuffers / 1024 / 1024;
    assert.ok(heldMiB < ACCESS_LOG_BUFFER_BYTES / 1024 / 1024 + 16, `buffers held ${heldMiB.toFixed(1)} MiB`);
  } finally {
    log.destroy();
    closeSync(reader);
    rmSync(dir, { recursive: true, force: true });
  }
});
