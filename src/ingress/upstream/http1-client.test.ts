import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { OriginPool, requestHead, type ExchangeHandler, type OriginPoolOptions, type OutgoingRequest } from './http1-client.ts';
import { DEFAULT_UPSTREAM_OPTIONS, originPoolOptions } from './upstream.ts';

const request = (overrides: Partial<OutgoingRequest>): OutgoingRequest => ({
  method: 'GET',
  path: '/a?b=c',
  headers: ['host', 'app.example', 'accept', '*/*'],
  clientCertificate: undefined,
  body: null,
  bodyLength: undefined,
  owner: {},
  ownerAddress: '192.0.2.1',
  ...overrides,
});

test("the request head: request line, headers, the connection's X-Forwarded-Client-Cert last, the blank line", () => {
  assert.equal(
    requestHead(request({ clientCertificate: 'Hash=ab;Cert="x"' })),
    'GET /a?b=c HTTP/1.1\r\nhost: app.example\r\naccept: */*\r\nx-forwarded-client-cert: Hash=ab;Cert="x"\r\n\r\n',
  );
  assert.equal(requestHead(request({})), 'GET /a?b=c HTTP/1.1\r\nhost: app.example\r\naccept: */*\r\n\r\n');
});

test('a body without a declared length is sent chunked; with one, as it is', () => {
  assert.match(requestHead(request({ method: 'POST', body: new PassThrough() })), /\r\ntransfer-encoding: chunked\r\n\r\n$/);
  const withLength = requestHead(request({ method: 'POST', headers: ['content-length', '3'], body: new PassThrough(), bodyLength: 3 }));
  assert.doesNotMatch(withLength, /transfer-encoding/);
});

test('nothing can split the head: bad names, values, targets and methods are refused (400)', () => {
  const refused: Partial<OutgoingRequest>[] = [
    { headers: ['x-a', 'one\r\nx-injected: two'] },
    { headers: ['x-a', 'one\ntwo'] },
    { headers: ['x-a', 'nul\0'] },
    { headers: ['x a', 'v'] },
    { headers: ['x-a:', 'v'] },
    { headers: ['', 'v'] },
    { headers: ['x-a', 'wide \u0100'] },
    { path: '/a b' },
    { path: '/a\r\nx: y' },
    { path: '' },
    { method: 'GET /x' },
    { method: 'CONNECT', path: 'app.example:443' },
  ];
  for (const overrides of refused) {
    assert.throws(() => requestHead(request(overrides)), (error: { code?: string }) => error.code === 'CERTGATE_BAD_REQUEST', JSON.stringify(overrides));
  }
});

/** An app that holds every request (`pending`) and a pool to it with `limits`. */
async function holdingApp(limits: Partial<OriginPoolOptions>) {
  const arrived: string[] = [];
  const pending: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    arrived.push(req.url ?? '');
    pending.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const pool = new OriginPool('127.0.0.1', (server.address() as AddressInfo).port, { ...originPoolOptions(DEFAULT_UPSTREAM_OPTIONS), ...limits });
  return { arrived, pending, server, pool };
}

test('waiting requests are served round-robin across client connections, not in arrival order', async () => {
  const { arrived, pending, server, pool } = await holdingApp({ maxConnections: 1, maxConnectionsPerClient: 1 });
  const ended: string[] = [];
  const handler = (name: string): ExchangeHandler => ({
    onHead: () => true,
    onBody: () => true,
    onEnd: () => ended.push(name),
    onError: (error) => ended.push(`${name}: ${error.message}`),
  });
  try {
    const flooding = {};
    const other = {};
    for (let i = 0; i < 4; i++) pool.request(request({ path: `/a${i}`, owner: flooding }), handler(`a${i}`));
    pool.request(request({ path: '/b0', owner: other }), handler('b0'));
    // The app answers one request at a time; the one connection goes to each client in turn.
    while (ended.length < 5) {
      const res = pending.shift();
      if (res === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
      else res.end('ok');
    }
    assert.deepEqual(arrived, ['/a0', '/b0', '/a1', '/a2', '/a3']);
    assert.deepEqual(ended, ['a0', 'b0', 'a1', 'a2', 'a3']);
  } finally {
    pool.close();
    server.closeAllConnections();
    server.close();
  }
});

test("the app's time handed to onHead counts from when the pool took the request: a queued one's wait is in it", async () => {
  const { pending, server, pool } = await holdingApp({ maxConnections: 1, maxConnectionsPerClient: 1 });
  const times = new Map<string, { now: number; since: number; asked: number }>();
  const handler = (name: string, asked: number): ExchangeHandler => ({
    onHead: (_status, _headers, now, since) => (times.set(name, { now, since, asked }), true),
    onBody: () => true,
    onEnd: () => {},
    onError: (error) => assert.fail(`${name}: ${error.message}`),
  });
  try {
    pool.request(request({ path: '/first' }), handler('first', performance.now()));
    pool.request(request({ path: '/second' }), handler('second', performance.now()));
    // The app holds the first for 150 ms; the second waits for the one connection meanwhile.
    while (pending.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 150));
    pending.shift()!.end('ok');
    while (pending.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    pending.shift()!.end('ok');
    while (times.size < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    for (const [name, { now, since, asked }] of times) {
      assert.ok(since >= asked && since - asked < 50, `${name}: taken when asked (${since - asked} ms after)`);
      assert.ok(now >= since, name);
    }
    const second = times.get('second')!;
    assert.ok(second.now - second.since >= 145, `the second's time includes its wait in the queue: ${second.now - second.since} ms`);
  } finally {
    pool.close();
    server.closeAllConnections();
    server.close();
  }
});

test('the per-address share: connections of one address together hold at most maxConnectionsPerAddress; another address starts at once', async () => {
  const { arrived, pending, server, pool } = await holdingApp({ maxConnections: 4, maxConnectionsPerClient: 2, maxConnectionsPerAddress: 2 });
  const handler: ExchangeHandler = { onHead: () => true, onBody: () => true, onEnd: () => {}, onError: () => {} };
  try {
    // Three connections of 192.0.2.1, each within its share of 2: together only 2.
    const owners = [{}, {}, {}];
    for (const owner of owners) for (let i = 0; i < 2; i++) pool.request(request({ path: `/a${arrived.length}-${i}`, owner, ownerAddress: '192.0.2.1' }), handler);
    pool.request(request({ path: '/b', owner: {}, ownerAddress: '192.0.2.2' }), handler);
    const deadline = Date.now() + 2_000;
    while (!arrived.includes('/b') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(arrived.includes('/b'), 'the other address is served while the first holds its share');
    assert.equal(arrived.filter((path) => path.startsWith('/a')).length, 2, arrived.join(' '));
    assert.equal(pool.queuedCount, 4);
    // The app answers one at a time: 192.0.2.1 never holds more than 2.
    const inFlightA = () => pending.filter((res) => !res.writableEnded && res.req.url!.startsWith('/a')).length;
    while (pool.queuedCount > 0 || pending.some((res) => !res.writableEnded)) {
      assert.ok(inFlightA() <= 2, `192.0.2.1 holds ${inFlightA()}`);
      pending.find((res) => !res.writableEnded)?.end('ok');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // All done (the address is dropped); an old and a new connection of the same address: 2 again.
    const again = [owners[0]!, {}];
    for (const owner of again) for (let i = 0; i < 3; i++) pool.request(request({ path: `/again-${i}`, owner, ownerAddress: '192.0.2.1' }), handler);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(pending.filter((res) => !res.writableEnded).length, 2);
    assert.equal(pool.queuedCount, 4);
  } finally {
    for (const res of pending) res.end();
    pool.close();
    server.closeAllConnections();
    server.close();
  }
});

test('the per-address share holds when an address waits with nothing held and then gets a freed connection', async () => {
  const { pending, server, pool } = await holdingApp({ maxConnections: 2, maxConnectionsPerClient: 1, maxConnectionsPerAddress: 1 });
  const handler: ExchangeHandler = { onHead: () => true, onBody: () => true, onEnd: () => {}, onError: () => {} };
  const open = () => pending.filter((res) => !res.writableEnded);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 100));
  // Under load a request can take longer than a fixed pause to reach the app: wait for what must happen.
  const until = async (what: string, ready: () => boolean) => {
    for (const deadline = Date.now() + 10_000; !ready(); await settle()) assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
  };
  const isOpen = (path: string) => open().some((res) => res.req.url === path);
  try {
    pool.request(request({ path: '/x1', owner: {}, ownerAddress: '192.0.2.1' }), handler);
    pool.request(request({ path: '/x2', owner: {}, ownerAddress: '192.0.2.2' }), handler);
    await until('/x1 and /x2 at the app', () => isOpen('/x1') && isOpen('/x2'));
    // 192.0.2.3 waits holding nothing; it gets the first freed connection.
    pool.request(request({ path: '/y1', owner: {}, ownerAddress: '192.0.2.3' }), handler);
    open().find((res) => res.req.url === '/x1')!.end('ok');
    await until('/y1 at the app', () => isOpen('/y1'));
    pool.request(request({ path: '/y2', owner: {}, ownerAddress: '192.0.2.3' }), handler);
    open().find((res) => res.req.url === '/x2')!.end('ok');
    await settle();
    assert.deepEqual(open().map((res) => res.req.url), ['/y1'], 'one connection for 192.0.2.3; /y2 waits');
    assert.equal(pool.queuedCount, 1);
  } finally {
    for (const res of pending) res.end();
    pool.close();
    server.closeAllConnections();
    server.close();
  }
});
