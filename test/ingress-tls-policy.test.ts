// The TLS side of the ingress that clients see: which TLS 1.2 suites are offered (AEAD only by
// default; `--tls-ciphers compatible` for old clients), per-app HSTS on HTTPS responses only, and a
// `require` app refusing a client without a certificate with an alert the client actually reads
// (lingering close), every time, also while other traffic runs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { curl, curlHttp, curlResult, parseIncluded, sClient } from './support/clients.ts';

let gw: TestGateway;
let echo: EchoApp;
let caFile: string;
let open: string; // ignore, no HSTS
let secure: string; // ignore, HSTS, allowInsecure
let strict: string; // require

/** The test's keys and certificates: removed after. */
let dir: string | undefined;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-tls-policy-'));
  echo = await startEchoApp();
  gw = await startTestGateway();
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, gw.caPem);
  await gw.createEnvironment('env1');
  open = await gw.putApp('open', 'env1', { targetPort: echo.port });
  secure = await gw.putApp('secure', 'env1', { targetPort: echo.port, allowInsecure: true, hsts: { maxAge: 31_536_000, includeSubDomains: true } });
  strict = await gw.putApp('strict', 'env1', { targetPort: echo.port, clientCertificateMode: 'require' });
});

after(async () => {
  await gw?.close();
  await echo?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** ECDSA or RSA, whichever the served certificate needs. */
const both = (suite: string) => `ECDHE-ECDSA-${suite}:ECDHE-RSA-${suite}`;

describe('TLS 1.2 suites (default: modern)', () => {
  for (const cipher of ['AES128-SHA', 'AES256-GCM-SHA384', both('AES128-SHA'), both('AES256-SHA384')]) {
    test(`openssl s_client -tls1_2 -cipher ${cipher} is refused (CBC or RSA key exchange)`, async () => {
      const result = await sClient({ port: gw.httpsPort, servername: open, tls: '1.2', extra: ['-cipher', cipher] });
      assert.notEqual(result.code, 0, result.stdout);
      assert.match(result.stdout + result.stderr, /handshake failure|no shared cipher|alert number 40/i);
    });
  }
  for (const suite of ['AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'CHACHA20-POLY1305']) {
    test(`openssl s_client -tls1_2 -cipher ECDHE-*-${suite} works`, async () => {
      const result = await sClient({ port: gw.httpsPort, servername: open, tls: '1.2', extra: ['-cipher', both(suite)], request: 'Q\n' });
      assert.match(result.stdout, new RegExp(`Cipher is ECDHE-(ECDSA|RSA)-${suite}`), result.stderr);
    });
  }
  test('TLS 1.3 is unchanged (curl)', async () => {
    const result = await curl({ host: open, port: gw.httpsPort, caFile, tls: '1.3' });
    assert.equal(curlResult(result).status, 200, result.stderr);
  });
});

describe('--tls-ciphers compatible', () => {
  let old: TestGateway;
  let host: string;
  before(async () => {
    old = await startTestGateway({ tlsCiphers: 'compatible' });
    await old.createEnvironment('env1');
    host = await old.putApp('open', 'env1', { targetPort: echo.port });
  });
  after(async () => old?.close());

  test('a CBC suite (ECDHE-*-AES128-SHA) is accepted for old clients', async () => {
    const result = await sClient({ port: old.httpsPort, servername: host, tls: '1.2', extra: ['-cipher', both('AES128-SHA')], request: 'Q\n' });
    assert.match(result.stdout, /Cipher is ECDHE-(ECDSA|RSA)-AES128-SHA\b/, result.stderr);
  });
});

describe('HSTS (ingress.hsts)', () => {
  for (const http of ['1.1', '2'] as const) {
    test(`on HTTPS responses over HTTP/${http}`, async () => {
      const result = await curl({ host: secure, port: gw.httpsPort, caFile, http, extra: ['-i'] });
      const { body, httpVersion } = curlResult(result);
      assert.equal(httpVersion, http === '2' ? '2' : '1.1');
      const response = parseIncluded(body);
      assert.equal(response.status, 200);
      assert.deepEqual(response.headers['strict-transport-security'], ['max-age=31536000; includeSubDomains']);
    });
  }

  test('never on plain HTTP (RFC 6797 7.2)', async () => {
    const result = await curlHttp({ host: secure, port: gw.httpPort, extra: ['-i'] });
    const response = parseIncluded(curlResult(result).body);
    assert.equal(response.status, 200);
    assert.equal(response.headers['strict-transport-security'], undefined);
  });

  test('an app without hsts sends none', async () => {
    const result = await curl({ host: open, port: gw.httpsPort, caFile, extra: ['-i'] });
    assert.equal(parseIncluded(curlResult(result).body).headers['strict-transport-security'], undefined);
  });
});

describe('a require app tells a client without a certificate why, every time (lingering close)', () => {
  const expected = { '1.3': /alert certificate required/, '1.2': /alert handshake failure/ } as const;
  for (const tls of ['1.3', '1.2'] as const) {
    test(`TLS ${tls}: 40 curls without a certificate, in parallel batches beside other traffic, all read the alert`, async () => {
      let load = true;
      // Other traffic on the same gateway meanwhile: successful requests to another app.
      const background = (async () => {
        let served = 0;
        while (load) {
          const results = await Promise.all(Array.from({ length: 4 }, () => curl({ host: open, port: gw.httpsPort, caFile })));
          served += results.filter((result) => curlResult(result).status === 200).length;
        }
        return served;
      })();
      const failures: string[] = [];
      try {
        for (let batch = 0; batch < 4; batch++) {
          const results = await Promise.all(Array.from({ length: 10 }, () => curl({ host: strict, port: gw.httpsPort, caFile, tls })));
          for (const result of results) if (!expected[tls].test(result.stderr)) failures.push(result.stderr.trim());
        }
      } finally {
        load = false;
      }
      assert.ok((await background) > 0, 'the other traffic was served meanwhile');
      assert.deepEqual(failures, [], `every refusal names the alert (${failures.length} of 40 did not)`);
    });
  }
});

/**
 * A TLS 1.3 client without a certificate whose TCP socket outlives the TLS layer: after the alert it
 * keeps the connection half-open and writes a byte every 100 ms (after `flood` bytes at once). The
 * server's close shows as a write error (its kernel resets a closed socket): resolves with the time
 * from the alert to that, or -1 after 5 s.
 */
async function lingerProbe(port: number, servername: string, ca: string, flood: number): Promise<{ alert: string; closedAfterMs: number }> {
  const raw = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((resolve) => raw.once('connect', resolve));
  // The TLS client runs over this bridge, so destroying it leaves the TCP socket open.
  const bridge = new Duplex({
    read() {},
    write: (chunk, _encoding, callback) => raw.write(chunk, callback),
    final: (callback) => callback(),
    destroy: (error, callback) => callback(error),
  });
  const toTls = (chunk: Buffer) => bridge.push(chunk);
  raw.on('data', toTls);
  const client = tls.connect({ socket: bridge, servername, ca, minVersion: 'TLSv1.3' });
  client.on('secureConnect', () => client.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\n\r\n`));
  const alert = await new Promise<string>((resolve) => client.once('error', (error) => resolve(error.message)));
  const start = Date.now();
  raw.off('data', toTls);
  raw.on('data', () => {});
  const closed = new Promise<number>((resolve) => {
    raw.once('error', () => resolve(Date.now() - start));
    raw.once('close', () => resolve(Date.now() - start));
  });
  if (flood > 0) raw.write(Buffer.alloc(flood, 0x41));
  const ticker = setInterval(() => raw.write('x'), 100);
  const closedAfterMs = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 5_000))]);
  clearInterval(ticker);
  raw.destroy();
  return { alert, closedAfterMs };
}

describe('the lingering close is bounded (2 s, 64 KiB)', () => {
  test('a client that never closes is closed about 2 s after the alert', async () => {
    const { alert, closedAfterMs } = await lingerProbe(gw.httpsPort, strict, gw.caPem, 0);
    assert.match(alert, /certificate required/);
    assert.ok(closedAfterMs >= 1_800 && closedAfterMs < 3_500, `closed after ${closedAfterMs} ms`);
  });

  test('a client that keeps sending is closed once 64 KiB were discarded', async () => {
    const { closedAfterMs } = await lingerProbe(gw.httpsPort, strict, gw.caPem, 256 * 1024);
    assert.ok(closedAfterMs >= 0 && closedAfterMs < 1_500, `closed after ${closedAfterMs} ms`);
  });
});
