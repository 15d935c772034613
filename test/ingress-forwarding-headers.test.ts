// Header rewriting between clients and apps: hop-by-hop headers both ways, X-Forwarded-For/-Proto/-Host
// and X-Request-Id. Split from the former ingress-proxy.test.ts; the shared setup is test/support/proxy-
// fixture.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { curlResult, parseIncluded } from './support/clients.ts';
import type { EchoRequest } from './support/echo-app.ts';
import { useProxyFixture, UUID, gw, echoHost, streamHost, h1Request, h2Connect, h2Request, lastEcho, curlTo } from './support/proxy-fixture.ts';

useProxyFixture();

describe('headers', () => {
  test('hop-by-hop request headers are not forwarded (HTTP/1.1)', async () => {
    const result = await curlTo({
      host: echoHost,
      http: '1.1',
      headers: [
        'Connection: keep-alive, X-Custom-Hop, X-Other-Hop',
        'Keep-Alive: timeout=5',
        'TE: trailers',
        'Upgrade: h2c',
        'Proxy-Connection: keep-alive',
        'X-Custom-Hop: secret',
        'X-Other-Hop: secret',
        'X-End-To-End: kept',
      ],
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(curlResult(result).status, 200);
    const { headers } = lastEcho();
    for (const name of ['keep-alive', 'te', 'upgrade', 'proxy-connection', 'x-custom-hop', 'x-other-hop']) {
      assert.equal(headers[name], undefined, `${name} must not reach the app`);
    }
    // The ingress's own connection to the app may say keep-alive; the client's tokens are gone.
    assert.ok(headers.connection === undefined || headers.connection === 'keep-alive', `connection: ${String(headers.connection)}`);
    assert.equal(headers['x-end-to-end'], 'kept');
  });

  test('hop-by-hop request headers are not forwarded (HTTP/2, Node client)', async () => {
    const session = h2Connect(echoHost);
    try {
      // HTTP/2 forbids connection-specific headers except `te: trailers`, which must not reach an
      // HTTP/1.1 app either.
      const reply = await h2Request(session, '/h2-hop', { te: 'trailers', 'x-end-to-end': 'kept' });
      assert.equal(reply.status, 200);
      const seen = JSON.parse(reply.body.toString()) as EchoRequest;
      assert.equal(seen.headers.te, undefined);
      assert.equal(seen.headers['x-end-to-end'], 'kept');
    } finally {
      session.close();
    }
  });

  for (const version of ['1.1', '2'] as const) {
    test(`hop-by-hop response headers are not passed to the client (HTTP/${version})`, async () => {
      const result = await curlTo({ host: streamHost, http: version, path: '/hop', extra: ['-i'] });
      assert.equal(result.code, 0, result.stderr);
      const response = parseIncluded(curlResult(result).body);
      assert.equal(response.status, 200);
      assert.equal(response.body, 'ok');
      assert.deepEqual(response.headers['x-kept'], ['yes']);
      for (const name of ['x-app-hop', 'proxy-connection', 'upgrade']) {
        assert.equal(response.headers[name], undefined, `${name} must not reach the client`);
      }
      if (version === '2') {
        assert.equal(response.headers['connection'], undefined);
        assert.equal(response.headers['keep-alive'], undefined);
      } else {
        // The ingress's own HTTP/1.1 connection headers, not the app's.
        assert.ok(!(response.headers['connection'] ?? []).join(',').toLowerCase().includes('x-app-hop'));
        assert.ok(!(response.headers['keep-alive'] ?? []).join(',').includes('timeout=7'), 'the app\'s Keep-Alive is not passed on');
      }
    });
  }

  for (const version of ['1.1', '2'] as const) {
    test(`X-Forwarded-For/-Proto/-Host and X-Request-Id as the app sees them (HTTP/${version})`, async () => {
      const sent = await curlTo({
        host: echoHost,
        http: version,
        headers: ['X-Forwarded-For: 203.0.113.7, 198.51.100.2', 'X-Forwarded-Proto: http', 'X-Forwarded-Host: evil.example', 'X-Request-Id: client-chosen'],
      });
      assert.equal(sent.code, 0, sent.stderr);
      const first = lastEcho().headers;
      assert.equal(first['x-forwarded-for'], '203.0.113.7, 198.51.100.2, 127.0.0.1', 'the client address is appended');
      assert.equal(first['x-forwarded-proto'], 'https');
      assert.equal(first['x-forwarded-host'], `${echoHost}:${gw.httpsPort}`);
      assert.match(String(first['x-request-id']), UUID, 'a client-sent X-Request-Id is replaced');

      const plain = await curlTo({ host: echoHost, http: version });
      assert.equal(plain.code, 0, plain.stderr);
      const second = lastEcho().headers;
      assert.equal(second['x-forwarded-for'], '127.0.0.1');
      assert.equal(second['x-forwarded-proto'], 'https');
      assert.match(String(second['x-request-id']), UUID);
      assert.notEqual(second['x-request-id'], first['x-request-id'], 'a fresh id per request');
    });
  }

  test('a fresh X-Request-Id for each request on one keep-alive connection', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ids = new Set<string>();
      const sockets = new Set<net.Socket>();
      for (let i = 0; i < 5; i++) {
        const reply = await h1Request(echoHost, `/id/${i}`, { agent, headers: { 'x-request-id': 'same' } });
        sockets.add(reply.socket);
        const id = (JSON.parse(reply.body.toString()) as EchoRequest).headers['x-request-id'];
        assert.match(String(id), UUID);
        ids.add(String(id));
      }
      assert.equal(sockets.size, 1, 'one client connection');
      assert.equal(ids.size, 5);
    } finally {
      agent.destroy();
    }
  });
});
