// The PROXY protocol (v1 and v2) on the HTTPS, plain-HTTP and internal listeners: headers written
// by hand from trusted and untrusted loopback addresses, and a real HAProxy (TCP mode, send-proxy
// and send-proxy-v2) in front of the HTTPS port. The ingress here listens on ::ffff:127.0.0.1, so
// every socket address it sees is IPv4-mapped, as behind a dual-stack listener.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import tls from 'node:tls';
import { join } from 'node:path';
import { curl, curlResult } from './support/clients.ts';
import { freePorts } from './support/ports.ts';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';

let gw: TestGateway;
let echo: EchoApp;
let open: string;
let restricted: string;
let notLocal: string;
let caFile: string;
const HEADER_TIMEOUT_MS = 300;

before(async () => {
  echo = await startEchoApp();
  gw = await startTestGateway({
    bindAddress: '::ffff:127.0.0.1',
    internal: { bindAddress: '127.0.0.1', httpsPort: 0, httpPort: 0 },
    proxyProtocol: { listeners: ['https', 'http', 'internal'], trustedFrom: ['127.0.0.1/32'], limits: { headerTimeoutMs: HEADER_TIMEOUT_MS } },
  });
  caFile = join(gw.dataDir, 'test-ca.pem');
  writeFileSync(caFile, gw.caPem);
  await gw.createEnvironment('env1');
  open = await gw.putApp('open', 'env1', { targetPort: echo.port, allowInsecure: true });
  notLocal = await gw.putApp('notlocal', 'env1', { targetPort: echo.port, ipSecurityRestrictions: [{ name: 'lb', ipAddressRange: '127.0.0.1/32', action: 'Deny' }] });
  restricted = await gw.putApp('restricted', 'env1', {
    targetPort: echo.port,
    external: false,
    ipSecurityRestrictions: [
      { name: 'doc', ipAddressRange: '203.0.113.0/24', action: 'Allow' },
      { name: 'two', ipAddressRange: '127.0.0.2', action: 'Allow' },
    ],
  });
});

after(async () => {
  await gw?.close();
  await echo?.close();
});

function v1(source: string, port = 40000): Buffer {
  return Buffer.from(`PROXY ${net.isIPv6(source) ? 'TCP6' : 'TCP4'} ${source} ${net.isIPv6(source) ? '::1' : '127.0.0.1'} ${port} 443\r\n`);
}

function v2(source: string | 'local'): Buffer {
  const sig = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  // A TLV (PP2_TYPE_AUTHORITY) as AWS and HAProxy send them: skipped.
  const tlv = Buffer.concat([Buffer.from([0x02, 0x00, 0x0b]), Buffer.from('example.com')]);
  if (source === 'local') return Buffer.concat([sig, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const six = net.isIPv6(source);
  const addresses = Buffer.alloc(six ? 36 : 12);
  if (six) {
    const full = new net.SocketAddress({ address: source, family: 'ipv6' }).address;
    const groups = full.split('::');
    const head = groups[0] ? groups[0].split(':') : [];
    const tail = groups[1] ? groups[1].split(':') : [];
    const all = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
    all.forEach((group, i) => addresses.writeUInt16BE(parseInt(group, 16), i * 2));
    addresses.writeUInt16BE(1, 16 + 14);
    addresses.writeUInt16BE(40000, 32);
    addresses.writeUInt16BE(443, 34);
  } else {
    source.split('.').forEach((octet, i) => (addresses[i] = Number(octet)));
    addresses.set([127, 0, 0, 1], 4);
    addresses.writeUInt16BE(40000, 8);
    addresses.writeUInt16BE(443, 10);
  }
  const head = Buffer.from([0x21, six ? 0x21 : 0x11, 0, 0]);
  head.writeUInt16BE(addresses.length + tlv.length, 2);
  return Buffer.concat([sig, head, addresses, tlv]);
}

/** A TCP connection from `local` that sends `preface` first; resolves once connected. */
async function connectWith(port: number, preface: Buffer | undefined, local = '127.0.0.1'): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: local });
  await once(socket, 'connect');
  if (preface) socket.write(preface);
  return socket;
}

/** An HTTPS GET over a connection that starts with `preface`: the status and the app's view, or the error. */
async function httpsThrough(port: number, host: string, preface: Buffer | undefined, local = '127.0.0.1'): Promise<{ status: number; forwardedFor?: string } | { error: string }> {
  const raw = await connectWith(port, preface, local);
  return new Promise((resolve) => {
    const socket = tls.connect({ socket: raw, servername: host, ca: gw.caPem, ALPNProtocols: ['http/1.1'] });
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    socket.on('secureConnect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    socket.on('close', () => {
      if (!data) return resolve({ error: 'closed' });
      const status = Number(data.split(' ')[1]);
      const body = data.slice(data.indexOf('\r\n\r\n') + 4);
      resolve({ status, forwardedFor: status === 200 ? JSON.parse(body).headers['x-forwarded-for'] : undefined });
    });
  });
}

/** What a raw connection receives before it is closed (empty: closed without a byte). */
async function received(socket: net.Socket, then?: Buffer): Promise<{ data: string; afterMs: number }> {
  const started = Date.now();
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  socket.on('error', () => {});
  if (then) socket.write(then);
  await once(socket, 'close');
  return { data, afterMs: Date.now() - started };
}

describe('PROXY protocol, headers written by hand', () => {
  test('v1 and v2 (IPv4, IPv6, TLVs): the app sees the client named by the header in X-Forwarded-For', async () => {
    assert.deepEqual(await httpsThrough(gw.httpsPort, open, v1('198.51.100.9')), { status: 200, forwardedFor: '198.51.100.9' });
    assert.deepEqual(await httpsThrough(gw.httpsPort, open, v2('198.51.100.10')), { status: 200, forwardedFor: '198.51.100.10' });
    assert.deepEqual(await httpsThrough(gw.httpsPort, open, v1('2001:db8::9')), { status: 200, forwardedFor: '2001:db8::9' });
    assert.deepEqual(await httpsThrough(gw.httpsPort, open, v2('2001:db8::10')), { status: 200, forwardedFor: '2001:db8::10' });
  });

  test('v2 LOCAL keeps the socket address (the balancer itself)', async () => {
    assert.deepEqual(await httpsThrough(gw.httpsPort, open, v2('local')), { status: 200, forwardedFor: '::ffff:127.0.0.1' });
  });

  test('an IPv4 Deny rule matches the IPv4-mapped socket address a LOCAL header keeps', async () => {
    const refused = await httpsThrough(gw.httpsPort, notLocal, v2('local'));
    assert.ok('error' in refused, JSON.stringify(refused));
    assert.ok(gw.logs.some((line) => line['reason'] === 'ip_forbidden' && line['client'] === '::ffff:127.0.0.1'));
    assert.deepEqual(await httpsThrough(gw.httpsPort, notLocal, v1('192.0.2.1')), { status: 200, forwardedFor: '192.0.2.1' });
  });

  test("the app's IP restrictions apply to the address the header names (internal listener)", async () => {
    const internal = gw.gateway.addresses.internalHttpsPort!;
    assert.deepEqual(await httpsThrough(internal, restricted, v2('203.0.113.7')), { status: 200, forwardedFor: '203.0.113.7' });
    const refused = await httpsThrough(internal, restricted, v1('198.51.100.1'));
    assert.ok('error' in refused && /ALERT_ACCESS_DENIED|ECONNRESET|closed/.test(refused.error), JSON.stringify(refused));
    const log = gw.logs.find((line) => line['reason'] === 'ip_forbidden' && line['client'] === '198.51.100.1');
    assert.ok(log, 'refused for the address the header named');
  });

  test('plain HTTP: header and request in one packet, or the header split across packets', async () => {
    const request = Buffer.from(`GET /plain HTTP/1.1\r\nHost: ${open}\r\nConnection: close\r\n\r\n`);
    const together = await received(await connectWith(gw.httpPort, Buffer.concat([v1('192.0.2.44'), request])));
    assert.match(together.data, /^HTTP\/1\.1 200 /);
    assert.match(together.data, /"x-forwarded-for":"192\.0\.2\.44"/);
    const header = v2('192.0.2.45');
    const socket = await connectWith(gw.httpPort, header.subarray(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 30));
    socket.write(Buffer.concat([header.subarray(10), request.subarray(0, 5)]));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const split = await received(socket, request.subarray(5));
    assert.match(split.data, /^HTTP\/1\.1 200 /);
    assert.match(split.data, /"x-forwarded-for":"192\.0\.2\.45"/);
  });

  test('a connection from an untrusted source is closed, header or not, without a byte', async () => {
    const withHeader = await received(await connectWith(gw.httpsPort, v1('203.0.113.7'), '127.0.0.2'));
    assert.equal(withHeader.data, '');
    const plain = await received(await connectWith(gw.httpPort, Buffer.from(`GET / HTTP/1.1\r\nHost: ${open}\r\n\r\n`), '127.0.0.2'));
    assert.equal(plain.data, '');
    assert.ok(gw.logs.some((line) => line['reason'] === 'proxy_protocol_untrusted_source'));
  });

  test('a trusted source without a valid header is closed: a bare ClientHello, garbage, a v2 header over the size bound', async () => {
    assert.deepEqual(await httpsThrough(gw.httpsPort, open, undefined), { error: 'ECONNRESET' });
    assert.equal((await received(await connectWith(gw.httpPort, Buffer.from(`GET / HTTP/1.1\r\nHost: ${open}\r\n\r\n`)))).data, '');
    const huge = v2('192.0.2.1');
    huge.writeUInt16BE(60_000, 14);
    assert.equal((await received(await connectWith(gw.httpsPort, huge))).data, '');
    assert.ok(gw.logs.some((line) => line['reason'] === 'proxy_protocol_missing'));
    assert.ok(gw.logs.some((line) => line['reason'] === 'proxy_protocol_too_long'));
  });

  test('a header that does not arrive in time: closed after the header timeout', async () => {
    const slow = await received(await connectWith(gw.httpsPort, Buffer.from('PROXY TCP4 ')));
    assert.equal(slow.data, '');
    assert.ok(slow.afterMs >= HEADER_TIMEOUT_MS - 50 && slow.afterMs < HEADER_TIMEOUT_MS + 2_000, `${slow.afterMs} ms`);
    assert.ok(gw.logs.some((line) => line['reason'] === 'proxy_protocol_timeout'));
  });
});

describe('PROXY protocol behind a real HAProxy', () => {
  let haproxy: ChildProcess | undefined;
  let dir: string;
  let v1Port: number;
  let v2Port: number;
  let internalV2Port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certgate-haproxy-'));
    [v1Port, v2Port, internalV2Port] = (await freePorts(3)) as [number, number, number];
    const config = join(dir, 'haproxy.cfg');
    writeFileSync(
      config,
      [
        'global',
        '  maxconn 100',
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        '  timeout client 10s',
        '  timeout server 10s',
        `frontend v1`,
        `  bind 127.0.0.1:${v1Port}`,
        '  default_backend certgate_v1',
        `frontend v2`,
        `  bind 127.0.0.1:${v2Port}`,
        '  default_backend certgate_v2',
        `frontend internal_v2`,
        `  bind 127.0.0.1:${internalV2Port}`,
        '  default_backend certgate_internal',
        'backend certgate_v1',
        `  server s1 127.0.0.1:${gw.httpsPort} send-proxy`,
        'backend certgate_v2',
        `  server s2 127.0.0.1:${gw.httpsPort} send-proxy-v2`,
        'backend certgate_internal',
        `  server s3 127.0.0.1:${gw.gateway.addresses.internalHttpsPort} send-proxy-v2`,
        '',
      ].join('\n'),
    );
    haproxy = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    haproxy.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(internalV2Port))) {
      if (Date.now() > deadline || haproxy.exitCode !== null) throw new Error(`haproxy did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  after(async () => {
    if (haproxy && haproxy.exitCode === null) {
      haproxy.kill('SIGKILL');
      await once(haproxy, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('send-proxy and send-proxy-v2: the app sees the real client (127.0.0.2, 127.0.0.3) in X-Forwarded-For, over HTTP/1.1 and HTTP/2', async () => {
    for (const port of [v1Port, v2Port]) {
      for (const local of ['127.0.0.2', '127.0.0.3']) {
        for (const http of ['1.1', '2'] as const) {
          const result = await curl({ host: open, port, caFile, http, extra: ['--interface', local] });
          assert.equal(result.code, 0, result.stderr);
          const { status, httpVersion, body } = curlResult(result);
          assert.deepEqual([status, httpVersion], [200, http]);
          assert.equal(JSON.parse(body).headers['x-forwarded-for'], local, `port ${port}, HTTP/${http}`);
        }
      }
    }
  });

  test("an IP rule applies to the client HAProxy names, not to HAProxy's own address", async () => {
    const inside = await curl({ host: restricted, port: internalV2Port, caFile, extra: ['--interface', '127.0.0.2'] });
    assert.equal(inside.code, 0, inside.stderr);
    assert.equal(JSON.parse(curlResult(inside).body).headers['x-forwarded-for'], '127.0.0.2');
    const outside = await curl({ host: restricted, port: internalV2Port, caFile, extra: ['--interface', '127.0.0.3'] });
    assert.notEqual(outside.code, 0);
    assert.match(outside.stderr, /alert access denied/);
  });
});


function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
