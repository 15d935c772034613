// Attempts to get around an app's client-certificate policy, and hostile or broken clients.
// After each, the gateway must still serve a normal request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoApp, type EchoApp, type EchoRequest } from './support/echo-app.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { curl, curlResult, run } from './support/clients.ts';
import { h2Session, rawRequest, statusOf } from './support/raw-clients.ts';
import { clientIdentities, expectedHeader, VECTORS } from './support/vectors.ts';

let gw: TestGateway;
let echo: EchoApp;
let dir: string;
let caFile: string;
let ids: Awaited<ReturnType<typeof clientIdentities>>;
let open: string; // ignore
let lenient: string; // accept
let strict: string; // require

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-attacks-'));
  ids = await clientIdentities(dir);
  echo = await startEchoApp();
  gw = await startTestGateway({ tls: { clientHelloTimeoutMs: 300, handshakeTimeoutMs: 1_000, maxClientHelloBytes: 16_384 } });
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, gw.caPem);
  await gw.createEnvironment('env1');
  open = await gw.putApp('open', 'env1', { targetPort: echo.port, clientCertificateMode: 'ignore' });
  lenient = await gw.putApp('lenient', 'env1', { targetPort: echo.port, clientCertificateMode: 'accept' });
  strict = await gw.putApp('strict', 'env1', { targetPort: echo.port, clientCertificateMode: 'require' });
});

after(async () => {
  await gw?.close();
  await echo?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function stillServes(): Promise<void> {
  const result = await curl({ host: strict, port: gw.httpsPort, caFile, cert: ids.self.certFile, key: ids.self.keyFile });
  assert.equal(curlResult(result).status, 200, `the gateway still serves: ${result.stderr}`);
}

/** Sends raw HTTP/1.1 bytes over TLS and returns the raw response. */
function rawHttps(servername: string, request: string, identity?: { certFile: string; keyFile: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: gw.httpsPort,
      servername,
      ca: gw.caPem,
      cert: identity ? readFileSync(identity.certFile) : undefined,
      key: identity ? readFileSync(identity.keyFile) : undefined,
    });
    let response = '';
    socket.on('secureConnect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
    socket.on('end', () => resolve(response));
    socket.on('error', reject);
  });
}

function bodyOf(response: string): EchoRequest {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as EchoRequest;
}

describe('forged X-Forwarded-Client-Cert is removed in every mode', () => {
  const forged = [
    'X-Forwarded-Client-Cert: Hash=forged1',
    'x-forwarded-client-cert: Hash=forged2',
    'X-FORWARDED-CLIENT-CERT: Hash=forged3;Cert="x"',
    'x-Forwarded-client-CERT: By=spiffe://evil',
    'X-ARR-ClientCert: Zm9yZ2Vk',
    'Client-Cert: :Zm9yZ2Vk:',
  ].join('\r\n');
  const cases = [
    { label: 'ignore, with a certificate', host: () => open, identity: () => ids.self, expected: () => undefined },
    { label: 'accept, no certificate', host: () => lenient, identity: () => undefined, expected: () => undefined },
    { label: 'accept, with a certificate', host: () => lenient, identity: () => ids.chain, expected: () => ids.chain.expected },
    { label: 'require, with a certificate', host: () => strict, identity: () => ids.self, expected: () => ids.self.expected },
  ];
  for (const c of cases) {
    test(`HTTP/1.1, ${c.label}`, async () => {
      const host = c.host();
      const response = await rawHttps(host, `GET / HTTP/1.1\r\nHost: ${host}\r\n${forged}\r\nConnection: close\r\n\r\n`, c.identity());
      assert.match(response, /^HTTP\/1\.1 200/);
      const seen = bodyOf(response);
      assert.equal(seen.headers['x-forwarded-client-cert'], c.expected());
      assert.equal(seen.headers['x-arr-clientcert'], undefined);
      assert.equal(seen.headers['client-cert'], undefined);
      const xfccLines = seen.rawHeaders.filter((_, i) => i % 2 === 0 && seen.rawHeaders[i]!.toLowerCase() === 'x-forwarded-client-cert');
      assert.equal(xfccLines.length, c.expected() === undefined ? 0 : 1);
    });
    test(`HTTP/2, ${c.label}`, async () => {
      const host = c.host();
      const identity = c.identity();
      const session = h2Session(gw.httpsPort, host, gw.caPem, identity);
      try {
        const body = await new Promise<string>((resolve, reject) => {
          const stream = session.request({
            ':path': '/',
            'x-forwarded-client-cert': ['Hash=forged1', 'Hash=forged2'],
            'x-arr-clientcert': 'Zm9yZ2Vk',
          });
          let text = '';
          stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
          stream.on('end', () => resolve(text));
          stream.on('error', reject);
        });
        const seen = JSON.parse(body) as EchoRequest;
        assert.equal(seen.headers['x-forwarded-client-cert'], c.expected());
        assert.equal(seen.headers['x-arr-clientcert'], undefined);
      } finally {
        session.close();
      }
    });
  }
});

describe('SNI of one app, Host of another: 421', () => {
  for (const http of ['1.1', '2'] as const) {
    test(`curl HTTP/${http}: SNI of an ignore app, Host of a require app`, async () => {
      const before = echo.received.length;
      const result = await curl({ host: open, port: gw.httpsPort, caFile, http, headers: [`Host: ${strict}`] });
      assert.equal(curlResult(result).status, 421, result.stderr);
      assert.equal(echo.received.length, before, 'nothing reached the app');
    });
  }

  test('HTTP/1.1 keep-alive: a second request for another app on the same connection', async () => {
    const response = await rawHttps(open, `GET /1 HTTP/1.1\r\nHost: ${open}\r\n\r\nGET /2 HTTP/1.1\r\nHost: ${strict}\r\nConnection: close\r\n\r\n`);
    const statuses = [...response.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '421']);
  });

  test('HTTP/2 connection reuse (coalescing): :authority of a require app on an ignore app\'s connection', async () => {
    const session = http2.connect(`https://${open}:${gw.httpsPort}`, { host: '127.0.0.1', servername: open, ca: gw.caPem });
    try {
      const status = (authority: string) =>
        new Promise<number>((resolve, reject) => {
          const stream = session.request({ ':path': '/', ':authority': authority });
          stream.on('response', (headers) => resolve(Number(headers[':status'])));
          stream.on('error', reject);
          stream.resume();
        });
      assert.equal(await status(open), 200);
      assert.equal(await status(strict), 421);
      assert.equal(await status(`${strict}:${gw.httpsPort}`), 421);
      assert.equal(await status(open), 200, 'the connection still serves its own app');
    } finally {
      session.close();
    }
  });

  test('HTTP/2 with :authority and a different Host header: 400', async () => {
    const session = http2.connect(`https://${open}:${gw.httpsPort}`, { host: '127.0.0.1', servername: open, ca: gw.caPem });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/', ':authority': open, host: strict });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
        stream.resume();
      });
      assert.equal(status, 400);
    } finally {
      session.close();
    }
  });

  test('no SNI with the Host of an app: 421, never that app', async () => {
    const result = await run('curl', ['-sS', '-k', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Host: ${open}`, `https://127.0.0.1:${gw.httpsPort}/`]);
    assert.equal(result.stdout, '421');
  });
});

describe('TLS session resumption never crosses apps or modes', () => {
  const sessionFile = () => join(dir, `session-${Math.random().toString(16).slice(2)}.pem`);
  const request = (host: string) => `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
  const sClientArgs = (host: string, version: string, extra: string[]) => [
    's_client', '-connect', `127.0.0.1:${gw.httpsPort}`, '-servername', host, version, '-ign_eof', ...extra,
  ];
  for (const version of ['-tls1_2', '-tls1_3']) {
    test(`${version}: a session from an ignore app is not resumed on a require app`, async () => {
      const file = sessionFile();
      const first = await run('openssl', sClientArgs(open, version, ['-sess_out', file]), request(open));
      assert.match(first.stdout, /^New,/m);
      // Positive control: the ticket does resume on the app it was made with.
      const same = await run('openssl', sClientArgs(open, version, ['-sess_in', file]), request(open));
      assert.match(same.stdout, /^Reused,/m);
      const other = await run('openssl', sClientArgs(strict, version, ['-sess_in', file]), request(strict));
      assert.doesNotMatch(other.stdout, /^Reused,/m);
      assert.notEqual(other.code, 0);
      assert.match(other.stderr, version === '-tls1_3' ? /alert certificate required/ : /alert handshake failure/);
      assert.doesNotMatch(other.stdout, /HTTP\/1\.1 200/);
    });

    test(`${version}: a session made before a mode change does not resume after it`, async () => {
      const host = await gw.putApp('flip', 'env1', { targetPort: echo.port, clientCertificateMode: 'ignore' });
      const file = sessionFile();
      await run('openssl', sClientArgs(host, version, ['-sess_out', file]), request(host));
      await gw.putApp('flip', 'env1', { targetPort: echo.port, clientCertificateMode: 'require' });
      const resumed = await run('openssl', sClientArgs(host, version, ['-sess_in', file]), request(host));
      assert.doesNotMatch(resumed.stdout, /^Reused,/m);
      assert.doesNotMatch(resumed.stdout, /HTTP\/1\.1 200/);
      await gw.deleteApp('flip');
    });

    test(`${version}: a resumed session on a require app forwards the certificate it was made with`, async () => {
      const file = sessionFile();
      const identity = ['-cert', ids.leaf.certFile, '-key', ids.leaf.keyFile, '-cert_chain', join(VECTORS, 'int.pem')];
      const first = await run('openssl', sClientArgs(strict, version, [...identity, '-sess_out', file]), request(strict));
      assert.match(first.stdout, /^New,/m);
      assert.equal(echo.received.at(-1)?.headers['x-forwarded-client-cert'], ids.chain.expected);
      // Resumed without presenting the certificate again: the session carries it.
      const resumed = await run('openssl', sClientArgs(strict, version, ['-sess_in', file]), request(strict));
      assert.match(resumed.stdout, /^Reused,/m);
      assert.match(resumed.stdout, /HTTP\/1\.1 200/);
      // OpenSSL keeps only the leaf in a session, so Chain then holds the leaf alone (docs/ingress.md).
      assert.equal(echo.received.at(-1)?.headers['x-forwarded-client-cert'], expectedHeader([readFileSync(join(VECTORS, 'leaf.pem'), 'utf8')]));
    });
  }
});

test('TLS renegotiation is refused', async () => {
  const result = await run('openssl', ['s_client', '-connect', `127.0.0.1:${gw.httpsPort}`, '-servername', open, '-tls1_2'], 'R\n');
  assert.match(result.stdout + result.stderr, /RENEGOTIATING/);
  assert.match(result.stderr, /no renegotiation/);
  await stillServes();
});

describe('hostile and broken clients', () => {
  function rawExchange(bytes: Buffer | string, waitMs = 2_000): Promise<{ closedByServer: boolean; response: Buffer; elapsedMs: number }> {
    return new Promise((resolve) => {
      const started = Date.now();
      const socket = net.connect(gw.httpsPort, '127.0.0.1', () => socket.write(bytes));
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ closedByServer: false, response: Buffer.concat(chunks), elapsedMs: Date.now() - started });
      }, waitMs);
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ closedByServer: true, response: Buffer.concat(chunks), elapsedMs: Date.now() - started });
      });
    });
  }
  /** A connection closed with this stable reason code (docs/ingress.md "Reason codes"), the human message apart. */
  const logged = (reason: string) => gw.logs.some((line) => line['reason'] === reason && typeof line['message'] === 'string');

  test('garbage bytes', async () => {
    const result = await rawExchange(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0x42, 0x42]));
    assert.equal(result.closedByServer, true);
    const random = await rawExchange(Buffer.from('\x00\x01\x02binary garbage\xff\xfe'));
    assert.equal(random.closedByServer, true);
    assert.ok(logged('clienthello_malformed'));
    assert.ok(logged('not_tls'));
    await stillServes();
  });

  test('plain HTTP sent to the HTTPS port', async () => {
    const result = await rawExchange(`GET / HTTP/1.1\r\nHost: ${open}\r\n\r\n`);
    assert.equal(result.closedByServer, true);
    assert.ok(logged('plain_http'), 'the reason is logged');
    await stillServes();
  });

  test('an oversized ClientHello', async () => {
    // A handshake record header that announces 60 KB, then 20 KB of it: more than the 16 KiB limit.
    const header = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0xf0, 0x00]);
    const result = await rawExchange(Buffer.concat([header, Buffer.alloc(20_000, 0x41)]));
    assert.equal(result.closedByServer, true);
    assert.ok(logged('clienthello_too_large'));
    await stillServes();
  });

  test('a truncated ClientHello then silence: closed at the ClientHello timeout', async () => {
    const result = await rawExchange(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), 5_000);
    assert.equal(result.closedByServer, true);
    assert.ok(result.elapsedMs < 3_000, `closed after ${result.elapsedMs} ms`);
    assert.ok(logged('clienthello_timeout'));
    await stillServes();
  });

  test('a connection that sends nothing is closed at the ClientHello timeout', async () => {
    const result = await rawExchange(Buffer.alloc(0), 5_000);
    assert.equal(result.closedByServer, true);
    await stillServes();
  });

  test('a stalled handshake (ClientHello then nothing) is closed at the handshake timeout', async () => {
    // Capture a real ClientHello from a Node client, replay it, and never answer the server.
    const hello = await new Promise<Buffer>((resolve) => {
      const catcher = net.createServer((socket) => socket.once('data', (chunk: Buffer) => { resolve(chunk); socket.destroy(); catcher.close(); }));
      catcher.listen(0, '127.0.0.1', () => {
        const client = tls.connect({ port: (catcher.address() as net.AddressInfo).port, host: '127.0.0.1', servername: open });
        client.on('error', () => {});
      });
    });
    const result = await rawExchange(hello, 5_000);
    assert.equal(result.closedByServer, true);
    assert.ok(result.response.length > 0, 'the server answered the ClientHello');
    assert.ok(result.elapsedMs < 3_000, `closed after ${result.elapsedMs} ms`);
    assert.ok(logged('handshake_timeout'));
    await stillServes();
  });

  test('a require app without a client certificate: logged as cert_missing, with OpenSSL\'s code as the cause', async () => {
    const before = gw.logs.length;
    const refused = await run('openssl', ['s_client', '-connect', `127.0.0.1:${gw.httpsPort}`, '-servername', strict, '-tls1_3', '-ign_eof'], 'GET / HTTP/1.1\r\n\r\n');
    assert.match(refused.stderr, /alert certificate required/);
    const find = () => gw.logs.slice(before).find((entry) => entry['reason'] === 'cert_missing' && entry['servername'] === strict);
    for (let waited = 0; !find() && waited < 2_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    const line = find();
    assert.ok(line, 'cert_missing is logged');
    assert.match(String(line['cause']), /^ERR_SSL_|CERTIFICATE/i);
  });

  test('a request head that does not parse, or is too large: 400 / 431, logged with a reason code and the parser code as the cause', async () => {
    const tlsTo = { port: gw.httpsPort, servername: open, ca: gw.caPem, waitMs: 3_000 };
    const before = gw.logs.length;
    assert.equal(statusOf(await rawRequest(tlsTo, `GET / HTTP/1.1\r\nHost: ${open}\r\nBad Header\r\n\r\n`)), 400);
    assert.equal(statusOf(await rawRequest(tlsTo, `GET / HTTP/1.1\r\nHost: ${open}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)), 431);
    const reasons = gw.logs.slice(before).map((line) => `${String(line['reason'])} ${String(line['cause'])}`);
    assert.ok(reasons.some((line) => /^malformed_request HPE_/.test(line)), reasons.join('; '));
    assert.ok(reasons.includes('request_head_too_large HPE_HEADER_OVERFLOW'), reasons.join('; '));
  });

  test('many broken connections at once do not disturb a good one', async () => {
    const bad = Array.from({ length: 50 }, (_, i) => rawExchange(i % 2 ? 'NOT TLS AT ALL\r\n\r\n' : Buffer.from([0x16, 0x03, 0x01, 0x00]), 3_000));
    await stillServes();
    await Promise.all(bad);
    await stillServes();
  });
});
