// Internal and external listeners and IP security restrictions, from real clients on real loopback
// addresses (127.0.0.2 and 127.0.0.3 are this machine too, ::1 and ::ffff:127.0.0.x as well):
// curl (HTTP/1.1, HTTP/2, plain HTTP) and raw Node sockets (WebSocket upgrades, keep-alive).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, curlHttp, curlResult, run } from './support/clients.ts';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import type { IngressSettings } from '../src/model/ingress.ts';

let gw: TestGateway;
let echo: EchoApp;
let caFile: string;
let internalHttps: number;
let internalHttp: number;

before(async () => {
  echo = await startEchoApp();
  // Upgrades are answered 101 by the app, so a tunnel that gets through is visible as such.
  echo.server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n'));
  gw = await startTestGateway({ internal: { bindAddress: '::1', httpsPort: 0, httpPort: 0 } });
  internalHttps = gw.gateway.addresses.internalHttpsPort!;
  internalHttp = gw.gateway.addresses.internalHttpPort!;
  caFile = join(gw.dataDir, 'test-ca.pem');
  writeFileSync(caFile, gw.caPem);
  await gw.createEnvironment('env1');
});

after(async () => {
  await gw?.close();
  await echo?.close();
});

const app = (extra: IngressSettings): IngressSettings => ({ targetPort: echo.port, ...extra });

/** curl from a given local address (`--interface`), HTTPS or plain HTTP. */
async function from(local: string, options: { host: string; port: number; plain?: boolean; http?: '1.1' | '2'; connectTo?: string; path?: string }) {
  const extra = ['--interface', local];
  const result = options.plain
    ? await curlHttp({ host: options.host, port: options.port, extra: [...extra, '--resolve', `${options.host}:${options.port}:${options.connectTo ?? '127.0.0.1'}`], path: options.path })
    : await curl({ host: options.host, port: options.port, caFile, http: options.http ?? '1.1', extra, connectTo: options.connectTo, path: options.path });
  return { ...result, ...(result.code === 0 ? curlResult(result) : { status: 0, body: '', httpVersion: '' }) };
}

/** The certificate a TLS server presents for `servername` (its subject alternative names). */
async function presentedNames(port: number, servername: string, host = '127.0.0.1'): Promise<string> {
  const socket = tls.connect({ host, port, servername, rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  const names = socket.getPeerCertificate().subjectaltname ?? '';
  socket.destroy();
  return names;
}

/** A WebSocket upgrade over TLS (or plain TCP) from `local`: the status line of the answer, or the error. */
async function upgrade(options: { port: number; host: string; local: string; connectTo?: string; plain?: boolean; insecure?: boolean }): Promise<string> {
  const address = options.connectTo ?? '127.0.0.1';
  const socket = options.plain
    ? net.connect({ host: address, port: options.port, localAddress: options.local })
    : tls.connect({ socket: net.connect({ host: address, port: options.port, localAddress: options.local }), servername: options.host, ca: gw.caPem, rejectUnauthorized: !options.insecure, ALPNProtocols: ['http/1.1'] });
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  const result = new Promise<string>((resolve) => {
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(`error: ${error.code ?? error.message}`));
    socket.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
  });
  await once(socket, options.plain ? 'connect' : 'secureConnect').catch(() => {});
  socket.write(`GET /ws HTTP/1.1\r\nHost: ${options.host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  setTimeout(() => socket.destroy(), 2_000).unref();
  return result;
}

describe('internal and external apps', () => {
  let inner: string;
  let outer: string;
  before(async () => {
    inner = await gw.putApp('inner', 'env1', app({ external: false, allowInsecure: true }));
    outer = await gw.putApp('outer', 'env1', app({ external: true }));
  });

  test('an external: false app is unknown on the external HTTPS listener: what a missing app gets (the wildcard, 404), HTTP/1.1 and HTTP/2', async () => {
    assert.equal(await presentedNames(gw.httpsPort, inner), await presentedNames(gw.httpsPort, 'nowhere.env1.certgate.localhost'));
    for (const http of ['1.1', '2'] as const) {
      const result = await curl({ host: inner, port: gw.httpsPort, extra: ['-k'], http });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual([curlResult(result).status, curlResult(result).body], [404, 'no app named inner in environment env1 (no_app_in_environment)\n']);
    }
  });

  test('the internal listener serves the internal app and the external one', async () => {
    assert.match(await presentedNames(internalHttps, inner, '::1'), /\*\.env1\.certgate\.localhost/);
    for (const host of [inner, outer]) {
      for (const http of ['1.1', '2'] as const) {
        const result = await from('::1', { host, port: internalHttps, http, connectTo: '::1' });
        assert.equal(result.status, 200, `${host} over HTTP/${http}: ${result.stderr}`);
        assert.equal(result.httpVersion, http);
      }
    }
    const external = await curl({ host: outer, port: gw.httpsPort, caFile });
    assert.equal(curlResult(external).status, 200);
  });

  test('plain HTTP obeys the same rule: 404 outside, served (allowInsecure) or redirected to the internal HTTPS port inside', async () => {
    const outside = await curlHttp({ host: inner, port: gw.httpPort });
    assert.deepEqual([curlResult(outside).status, curlResult(outside).body], [404, 'no app named inner in environment env1 (no_app_in_environment)\n']);
    const inside = await from('::1', { host: inner, port: internalHttp, plain: true, connectTo: '::1' });
    assert.equal(inside.status, 200, inside.stderr);
    const redirect = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '--resolve', `${outer}:${internalHttp}:::1`, `http://${outer}:${internalHttp}/x`]);
    assert.equal(redirect.stdout, `308 https://${outer}:${internalHttps}/x`);
  });

  test('WebSocket upgrades obey the same rule', async () => {
    assert.equal(await upgrade({ port: gw.httpsPort, host: inner, local: '127.0.0.1', insecure: true }), 'HTTP/1.1 404 Not Found');
    assert.equal(await upgrade({ port: gw.httpPort, host: inner, local: '127.0.0.1', plain: true }), 'HTTP/1.1 404 Not Found');
    assert.equal(await upgrade({ port: internalHttps, host: inner, local: '::1', connectTo: '::1' }), 'HTTP/1.1 101 Switching Protocols');
    assert.equal(await upgrade({ port: internalHttp, host: inner, local: '::1', connectTo: '::1', plain: true }), 'HTTP/1.1 101 Switching Protocols');
  });
});

describe('IP security restrictions', () => {
  let allow: string;
  let deny: string;
  before(async () => {
    allow = await gw.putApp('allowed', 'env1', app({ allowInsecure: true, ipSecurityRestrictions: [{ name: 'two', ipAddressRange: '127.0.0.2/32', action: 'Allow' }] }));
    deny = await gw.putApp('denied', 'env1', app({ allowInsecure: true, ipSecurityRestrictions: [{ name: 'three', ipAddressRange: '127.0.0.3', action: 'Deny' }, { name: 'v6', ipAddressRange: '::1/128', action: 'Deny' }] }));
  });

  test('HTTPS (HTTP/1.1 and HTTP/2): an Allow list admits its range only; a refused client gets a TLS access_denied alert before any handshake', async () => {
    for (const http of ['1.1', '2'] as const) {
      const inside = await from('127.0.0.2', { host: allow, port: gw.httpsPort, http });
      assert.equal(inside.status, 200, inside.stderr);
      assert.equal(JSON.parse(inside.body).headers['x-forwarded-for'], '127.0.0.2');
      const outside = await from('127.0.0.3', { host: allow, port: gw.httpsPort, http });
      assert.notEqual(outside.code, 0);
      assert.match(outside.stderr, /alert access denied/);
    }
    const refusal = gw.logs.find((line) => line['reason'] === 'ip_forbidden' && line['client'] === '127.0.0.3');
    assert.ok(refusal, 'the refusal is logged with its reason');
  });

  test('HTTPS: a Deny list refuses its ranges and admits everything else, IPv6 included', async () => {
    assert.equal((await from('127.0.0.2', { host: deny, port: gw.httpsPort, http: '2' })).status, 200);
    assert.match((await from('127.0.0.3', { host: deny, port: gw.httpsPort, http: '2' })).stderr, /alert access denied/);
    // ::1 is denied on the internal listener (bound to ::1); the external app is served there too.
    assert.match((await from('::1', { host: deny, port: internalHttps, connectTo: '::1' })).stderr, /alert access denied/);
    assert.equal((await from('::1', { host: allow, port: internalHttps, connectTo: '::1' })).code === 0, false, 'an Allow list for 127.0.0.2 refuses ::1');
  });

  test('plain HTTP: 403 Forbidden per request by Host, before any redirect or proxying', async () => {
    const refused = await from('127.0.0.3', { host: allow, port: gw.httpPort, plain: true });
    assert.deepEqual([refused.status, refused.body], [403, 'Forbidden (ip_forbidden)\n']);
    assert.equal((await from('127.0.0.2', { host: allow, port: gw.httpPort, plain: true })).status, 200);
    assert.equal((await from('127.0.0.3', { host: deny, port: gw.httpPort, plain: true })).status, 403);
    assert.equal((await from('127.0.0.2', { host: deny, port: gw.httpPort, plain: true })).status, 200);
  });

  test('WebSocket: refused before TLS over HTTPS, 403 over plain HTTP; admitted from inside the range', async () => {
    assert.match(await upgrade({ port: gw.httpsPort, host: allow, local: '127.0.0.3' }), /^error/);
    assert.equal(await upgrade({ port: gw.httpsPort, host: allow, local: '127.0.0.2' }), 'HTTP/1.1 101 Switching Protocols');
    assert.equal(await upgrade({ port: gw.httpPort, host: allow, local: '127.0.0.3', plain: true }), 'HTTP/1.1 403 Forbidden');
    assert.equal(await upgrade({ port: gw.httpPort, host: allow, local: '127.0.0.2', plain: true }), 'HTTP/1.1 101 Switching Protocols');
  });

  test('a rule added while a keep-alive connection is open: its next request gets 403 and the connection closes', async () => {
    const host = await gw.putApp('later', 'env1', app({}));
    const socket = tls.connect({ socket: net.connect({ host: '127.0.0.1', port: gw.httpsPort, localAddress: '127.0.0.3' }), servername: host, ca: gw.caPem, ALPNProtocols: ['http/1.1'] });
    await once(socket, 'secureConnect');
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.write(`GET /1 HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    while (!data.includes('"url":"/1"')) await new Promise((resolve) => setTimeout(resolve, 10));
    await gw.putApp('later', 'env1', app({ ipSecurityRestrictions: [{ name: 'three', ipAddressRange: '127.0.0.0/30', action: 'Deny' }] }));
    data = '';
    socket.write(`GET /2 HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    await once(socket, 'close');
    assert.match(data, /^HTTP\/1\.1 403 /);
    assert.match(data, /ip_forbidden/);
    assert.equal(echo.received.some((request) => request.url === '/2'), false, 'the app never saw it');
  });
});
