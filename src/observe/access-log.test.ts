import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import { ACCESS_LOG_BUFFER_BYTES, AccessLog, asciiJson, isoNow, millis, quote } from './access-log.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/**
 * The bytes of ArrayBuffers still held once garbage is collected. V8 frees their memory after the
 * collection, on another thread: read until two readings a little apart agree.
 */
async function heldArrayBuffers(): Promise<number> {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 20; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 25));
    const now = process.memoryUsage().arrayBuffers;
    if (now >= last) return now;
    last = now;
  }
  return last;
}

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

test("quote is JSON.stringify's in ASCII, quoting as is only what needs no escape", () => {
  const values = ['', '/orders/42', 'rg/app', 'GET', '/a b/~%7e!*()[];:@&=+$,', 'é/ü/日本', '/"quoted"', '/back\\slash', '/tab\t', '\u0000', '/\u007f', '\u00ff', '\ud83d\ude00', '/lone\ud800', '\udc00x'];
  for (const value of values) {
    const quoted = quote(value);
    assert.match(quoted, /^[\x20-\x7e]*$/, `ASCII only: ${quoted}`);
    assert.equal(JSON.parse(quoted), value);
    if (/^[\x00-\x7e]*$/.test(value)) assert.equal(quoted, JSON.stringify(value), value);
  }
  assert.equal(quote('é/日'), '"\\u00e9/\\u65e5"');
  assert.equal(asciiJson(JSON.stringify({ subject: 'CN=Müller', n: 1 })), '{"subject":"CN=M\\u00fcller","n":1}');
});

test('a request line: every field, in order, as JSON.parse reads it (the line is put together by hand)', () => {
  let written = '';
  const log = AccessLog.create({ destination: 'memory' }, { write: (chunk: Buffer) => (written += chunk.toString('utf8')) })!;
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
  assert.deepEqual(Object.keys(first), ['level', ...Object.keys(connectionFields), 'app', 'time', 'requestId', 'traceId', 'method', 'path', 'status', 'bytes', 'durationMs', 'upstreamMs', 'protocol', 'reason', 'msg']);
  assert.deepEqual(first, { level: 30, time: first.time, ...connectionFields, ...base, app: 'rg/app', method: 'GET', path: '/orders/42', durationMs: 1.235, upstreamMs: 0.5, reason: '', msg: 'request' });
  assert.ok(Math.abs(Date.parse(first.time) - Date.now()) < 5_000);
  assert.deepEqual(second, { level: 30, time: second.time, ...connectionFields, ...base, app: 'rg/app', method: 'BREW', path: '/p\u00e9/"x"', durationMs: 2, protocol: 'HTTP/2', reason: 'queue_full', msg: 'request' });  assert.match(written, /^[\x0a\x20-\x7e]*$/, 'the lines are ASCII (one byte per character)');
});

test('every request line is ASCII JSON with exactly its fields, whatever they hold (20,000 random requests)', () => {
  const chunks: Buffer[] = [];
  const log = AccessLog.create({ destination: 'memory' }, { write: (chunk: Buffer) => chunks.push(Buffer.from(chunk)) })!;
  const connectionFields = { clientAddress: '2001:db8::1', servername: 'a.example', tlsVersion: 'TLSv1.2', resumed: true, verdict: 'NONE' };
  const prefix = log.requestPrefix(log.forConnection({ ...connectionFields, verdict: { code: 'NONE' } as never }), 'rg/app');
  const pick = <T>(values: readonly T[]): T => values[Math.floor(Math.random() * values.length)]!;
  const pathChars = ['a', 'Z', '0', '/', '-', '.', '~', '%', ' ', "'", '!', '$', '&', '(', ')', '*', '+', ',', ';', '=', ':', '@', '"', '\\', '\t', '\u007f', '\u00e9', '\u65e5', '\ud83d\ude00'];
  const expected: object[] = [];
  for (let i = 0; i < 20_000; i++) {
    const path = '/' + Array.from({ length: Math.floor(Math.random() * 40) }, () => pick(pathChars)).join('');
    const fields = {
      requestId: pick(['', 'a2c3e7f0-1b2c-4d5e-8f90-0123456789ab']),
      traceId: pick(['', '0af7651916cd43dd8448eb211c80319c']),
      method: pick(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'BREW', 'M-SEARCH']),
      target: path + pick(['', '?q=1', '?a="b"']),
      status: pick([0, 101, 200, 204, 304, 404, 421, 499, 502, 599]),
      bytes: pick([0, 1, 9, 10, 1_024, 65_536, 2 ** 33, Math.floor(Math.random() * 1e9)]),
      upstreamMs: pick([-1, 0, 0.0004, 0.5, 1.25, Math.random() * 1e4]),
      protocol: pick(['HTTP/1.1', 'HTTP/2']),
      reason: pick(['', '', 'queue_full', 'app_timeout']),
    };
    const durationMs = pick([0, 0.001, 2, Math.random() * 100, Math.random() * 1e7]);
    log.request(prefix, fields, durationMs);
    const { target, upstreamMs, ...rest } = fields;
    expected.push({
      level: 30,
      ...connectionFields,
      app: 'rg/app',
      ...rest,
      path,
      durationMs: Math.round(durationMs * 1000) / 1000,
      ...(upstreamMs < 0 ? {} : { upstreamMs: Math.round(upstreamMs * 1000) / 1000 }),
      msg: 'request',
    });
    void target;
  }
  log.flush();
  const text = Buffer.concat(chunks).toString('latin1');
  assert.match(text, /^[\x0a\x20-\x7e]*$/, 'ASCII only');
  const lines = text.split('\n').slice(0, -1);
  assert.equal(lines.length, expected.length);
  for (let i = 0; i < lines.length; i++) {
    const { time, ...line } = JSON.parse(lines[i]!);
    assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(line, expected[i], `line ${i}: ${lines[i]}`);
  }
});

test('lines longer than a chunk, chunks handed over by the timer, and refusal lines through pino: each whole and in order', async () => {
  const chunks: Buffer[] = [];
  const log = AccessLog.create({ destination: 'memory' }, { write: (chunk: Buffer) => chunks.push(Buffer.from(chunk)) })!;
  const prefix = log.requestPrefix(log.forConnection({ clientAddress: '192.0.2.1', verdict: { code: 'OK', thumbprint: 'cd'.repeat(32), subject: 'CN=Müller', serial: '02' } as never }), 'rg/app');
  const fields = { requestId: 'r', traceId: 't', method: 'GET', status: 200, bytes: 0, upstreamMs: 1, protocol: 'HTTP/1.1', reason: '' };
  const paths = ['/short', '/' + 'x'.repeat(70_000), ...Array.from({ length: 400 }, (_, i) => `/n/${i}/${'y'.repeat(i * 3)}`)];
  for (const path of paths.slice(0, 200)) log.request(prefix, { ...fields, target: path }, 1);
  log.refusal({ clientAddress: '192.0.2.2', reason: 'untrusted', app: 'rg/app', verdict: { code: 'UNTRUSTED_ISSUER', thumbprint: 'ef'.repeat(32), subject: 'O=Société', serial: '03' } as never });
  await new Promise((resolve) => setTimeout(resolve, 700)); // the timer hands over what waits
  const beforeRest = chunks.length;
  assert.ok(beforeRest >= 2, 'the long line and the first chunk were handed over');
  for (const path of paths.slice(200)) log.request(prefix, { ...fields, target: path }, 1);
  log.flush();
  assert.ok(chunks.length > beforeRest);
  const text = Buffer.concat(chunks).toString('latin1');
  assert.match(text, /^[\x0a\x20-\x7e]*$/, 'ASCII only');
  const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line));
  assert.equal(lines.length, paths.length + 1);
  assert.deepEqual(lines.filter((line) => line.msg === 'request').map((line) => line.path), paths);
  assert.equal(lines[200].msg, 'refused');
  assert.equal(lines[200].certSubject, 'O=Société');
  assert.equal(lines[0].certSubject, 'CN=Müller');
  for (const chunk of chunks) assert.equal(chunk[chunk.length - 1], 0x0a, 'a chunk ends with a whole line');
});

test('a destination nobody drains holds at most ACCESS_LOG_BUFFER_BYTES; the rest is dropped and counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-access-log-'));
  const fifo = join(dir, 'stalled');
  execFileSync('mkfifo', [fifo]);
  // A reader that never reads: the pipe fills (64 KiB) and every later write waits in the buffer.
  let reader: number | undefined = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const heldBefore = await heldArrayBuffers();
  const log = AccessLog.create({ destination: fifo })!;
  try {
    await new Promise((resolve) => setTimeout(resolve, 200)); // the destination opens asynchronously
    const connection = log.forConnection({ clientAddress: '192.0.2.1' });
    const fields = { requestId: 'r', traceId: 't', method: 'GET', target: '/' + 'x'.repeat(900), status: 200, bytes: 0, upstreamMs: 1, protocol: 'HTTP/1.1', reason: '' };
    const prefix = log.requestPrefix(connection, 'rg/app');
    // ~40 MiB of lines, well past the bound.
    for (let i = 0; i < 40_000; i++) log.request(prefix, fields, 1);
    assert.ok(log.dropped > 0, 'lines beyond the bound are dropped');
    // What this log holds, not what awaits collection: lines are written into chunks without
    // touching the JS heap, so nothing else would make V8 collect the dropped chunks before this.
    const heldMiB = ((await heldArrayBuffers()) - heldBefore) / 1024 / 1024;
    assert.ok(heldMiB < ACCESS_LOG_BUFFER_BYTES / 1024 / 1024 + 16, `buffers held ${heldMiB.toFixed(1)} MiB`);
    // The reader goes away: the write waiting for it fails (EPIPE), is counted, and pino's
    // destination stops writing (nothing keeps retrying, nothing is thrown).
    const before = log.dropped;
    closeSync(reader);
    reader = undefined;
    const deadline = Date.now() + 5_000;
    while (log.dropped === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(log.dropped > before, 'the failed write is counted');
    log.request(prefix, fields, 1);
    log.flush();
  } finally {
    // Never left open: at exit pino's destination writes what it holds, and would wait on a full pipe.
    if (reader !== undefined) closeSync(reader);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGHUP with the access log on stdout: reopen is a no-op (sonic-boom cannot reopen a descriptor, and would throw from the signal handler)', () => {
  const log = AccessLog.create({ destination: 'stdout' })!;
  assert.doesNotThrow(() => log.reopen());
  assert.equal(log.dropped, 0);
});

test('with includeQuery the path field is the whole target, escaped only where it must be', () => {
  let written = '';
  const log = AccessLog.create({ destination: 'memory', includeQuery: true }, { write: (chunk: Buffer) => (written += chunk.toString('latin1')) })!;
  const prefix = log.requestPrefix(log.forConnection({ clientAddress: '192.0.2.1' }), 'rg/app');
  const targets = ['/', '/a?b=1', '/a?b="c"', '/é?q=日', '/a"b?c\\d', '?', '/x?y?z', '/\t?\u007f'];
  for (const target of targets) {
    log.request(prefix, { requestId: '', traceId: '', method: 'GET', target, status: 200, bytes: 0, upstreamMs: -1, protocol: 'HTTP/1.1', reason: '' }, 1);
  }
  log.flush();
  assert.match(written, /^[\x0a\x20-\x7e]*$/, 'ASCII only');
  assert.deepEqual(
    written.split('\n').slice(0, -1).map((line) => JSON.parse(line).path),
    targets,
  );
});
