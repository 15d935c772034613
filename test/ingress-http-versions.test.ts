// HTTP/1.1 and HTTP/2 to clients (ALPN), HTTP/1.1 to the app, with real clients (curl, Node https and
// http2). Split from the former ingress-proxy.test.ts; the shared setup is test/support/proxy-fixture.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { curl, curlResult } from './support/clients.ts';
import type { EchoRequest } from './support/echo-app.ts';
import { useProxyFixture, gw, echoHost, h1Request, h2Connect, h2Request, withTimeout, lastEcho, curlTo } from './support/proxy-fixture.ts';

useProxyFixture();

describe('HTTP/1.1 and HTTP/2 to clients (ALPN), HTTP/1.1 to the app', () => {
  for (const version of ['1.1', '2'] as const) {
    test(`curl --http${version}`, async () => {
      const result = await curlTo({ host: echoHost, http: version, path: `/v?http=${version}` });
      assert.equal(result.code, 0, result.stderr);
      const { status, httpVersion, body } = curlResult(result);
      assert.equal(status, 200);
      assert.equal(httpVersion, version);
      const seen = JSON.parse(body) as EchoRequest;
      assert.equal(seen.url, `/v?http=${version}`);
      assert.equal(seen.httpVersion, '1.1', 'the app is always spoken to in HTTP/1.1');
      assert.equal(seen.headers.host, `${echoHost}:${gw.httpsPort}`);
    });
  }

  test('Node https client negotiates http/1.1', async () => {
    const reply = await h1Request(echoHost, '/node-h1');
    assert.equal(reply.status, 200);
    assert.equal(reply.alpn, 'http/1.1');
    assert.equal((JSON.parse(reply.body.toString()) as EchoRequest).httpVersion, '1.1');
  });

  test('Node http2 client negotiates h2 and makes several streams on one session', async () => {
    const session = h2Connect(echoHost);
    try {
      await once(session, 'connect');
      assert.equal(session.alpnProtocol, 'h2');
      const replies = await Promise.all([1, 2, 3].map((n) => h2Request(session, `/h2/${n}`, { 'x-n': String(n) })));
      for (const [i, reply] of replies.entries()) {
        assert.equal(reply.status, 200);
        const seen = JSON.parse(reply.body.toString()) as EchoRequest;
        assert.equal(seen.url, `/h2/${i + 1}`);
        assert.equal(seen.headers['x-n'], String(i + 1));
        assert.equal(seen.httpVersion, '1.1');
        assert.equal(seen.headers.host, `${echoHost}:${gw.httpsPort}`, ':authority becomes Host');
      }
    } finally {
      session.close();
    }
  });

  test('HEAD over HTTP/2 (Node client): the app\'s head with its content-length, no body, the stream ends', async () => {
    const session = h2Connect(echoHost);
    try {
      const reply = await withTimeout(h2Request(session, '/head-h2', { ':method': 'HEAD' }), 3_000, 'the HEAD response');
      assert.equal(reply.status, 200);
      assert.ok(Number(reply.headers['content-length']) > 0, 'the length of the body a GET would get');
      assert.equal(reply.body.length, 0);
      assert.equal(lastEcho().method, 'HEAD');
      // The session still serves after a stream Node ended at its head.
      assert.equal((await h2Request(session, '/after-head')).status, 200);
    } finally {
      session.close();
    }
  });
});
