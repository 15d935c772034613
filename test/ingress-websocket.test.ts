// WebSocket tunnels through the ingress: the upgrade, bytes both ways, X-Forwarded-Client-Cert on the
// upgrade request. Split from the former ingress-proxy.test.ts; the shared setup is test/support/proxy-
// fixture.ts.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { expectedSelfSigned, VECTORS } from './support/vectors.ts';
import { useProxyFixture, UUID, gw, echo, wsApp, wsAccept, wsFrame, frameReader, withTimeout, closedPort } from './support/proxy-fixture.ts';

useProxyFixture();

describe('WebSocket', () => {
  let wsHost: string;
  let wsAcceptHost: string;
  before(async () => {
    wsHost = await gw.putApp('ws', 'env1', { targetPort: wsApp.port });
    wsAcceptHost = await gw.putApp('ws-accept', 'env1', { targetPort: wsApp.port, clientCertificateMode: 'accept' });
  });

  async function upgrade(host: string, tlsOptions: { cert?: Buffer; key?: Buffer } = {}) {
    const key = randomBytes(16).toString('base64');
    const { response, socket, head } = await new Promise<{ response: http.IncomingMessage; socket: Duplex; head: Buffer }>((resolve, reject) => {
      const request = https.request({
        host: '127.0.0.1',
        port: gw.httpsPort,
        servername: host,
        path: '/chat?room=1',
        ca: gw.caPem,
        agent: false,
        ...tlsOptions,
        headers: {
          host,
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-key': key,
          'sec-websocket-version': '13',
          'x-forwarded-client-cert': 'forged',
        },
      });
      request.on('upgrade', (res, sock, hd) => resolve({ response: res, socket: sock, head: hd }));
      request.on('response', (res) => reject(new Error(`no upgrade: HTTP ${res.statusCode}`)));
      request.on('error', reject);
      request.end();
    });
    return { key, response, socket, head };
  }

  test('upgrade through the ingress: 101 with the app\'s Sec-WebSocket-Accept, then the app\'s first frame', async () => {
    const { key, response, socket, head } = await upgrade(wsHost);
    try {
      assert.equal(response.statusCode, 101);
      assert.equal(String(response.headers.upgrade).toLowerCase(), 'websocket');
      assert.equal(response.headers['sec-websocket-accept'], wsAccept(key));
      const greeting = await withTimeout(frameReader(socket, head)(), 3_000, 'greeting');
      assert.equal(greeting.text, 'hello from the app');
      assert.equal(greeting.masked, false);
    } finally {
      socket.destroy();
    }
  });

  test('the tunnel carries bytes in both directions', async () => {
    const { response, socket, head } = await upgrade(wsHost);
    try {
      assert.equal(response.statusCode, 101);
      const next = frameReader(socket, head);
      assert.equal((await withTimeout(next(), 3_000, 'greeting')).text, 'hello from the app');
      for (const text of ['ping 1', 'ping 2']) {
        socket.write(wsFrame(text, true));
        const reply = await withTimeout(next(), 3_000, `echo of ${text}`);
        assert.equal(reply.text, `echo: ${text}`);
        assert.equal(reply.masked, false);
      }
      const seen = wsApp.upgrades.at(-1);
      assert.ok(seen);
      assert.equal(seen.url, '/chat?room=1');
      assert.equal(String(seen.headers.upgrade).toLowerCase(), 'websocket');
      assert.match(String(seen.headers.connection), /upgrade/i);
      assert.equal(seen.headers['x-forwarded-proto'], 'https');
      assert.match(String(seen.headers['x-request-id']), UUID);
      assert.equal(seen.headers['x-forwarded-client-cert'], undefined, 'a client-sent XFCC never reaches the app');
    } finally {
      socket.destroy();
    }
  });

  test('on an accept app with a client certificate, the upgrade request carries X-Forwarded-Client-Cert', async () => {
    const { response, socket, head } = await upgrade(wsAcceptHost, {
      cert: readFileSync(join(VECTORS, 'self.pem')),
      key: readFileSync(join(VECTORS, 'self.key')),
    });
    try {
      assert.equal(response.statusCode, 101);
      const next = frameReader(socket, head);
      assert.equal((await withTimeout(next(), 3_000, 'greeting')).text, 'hello from the app');
      socket.write(wsFrame('with cert', true));
      assert.equal((await withTimeout(next(), 3_000, 'echo')).text, 'echo: with cert');
      const seen = wsApp.upgrades.at(-1);
      assert.ok(seen);
      assert.equal(seen.headers['x-forwarded-client-cert'], expectedSelfSigned);
    } finally {
      socket.destroy();
    }
  });

  test("an app that answers the upgrade with anything but 101: 502; one that is not there: 503 (as a request); the gateway still serves", async () => {
    // The echo app is a plain Node server with no upgrade handler; the closed port refuses.
    const refusing = await gw.putApp('ws-refusing', 'env1', { targetPort: echo.port });
    const gone = await gw.putApp('ws-gone', 'env1', { targetPort: await closedPort() });
    await assert.rejects(upgrade(refusing), /no upgrade: HTTP 502/);
    await assert.rejects(upgrade(gone), /no upgrade: HTTP 503/);
    const { response, socket } = await upgrade(wsHost);
    socket.destroy();
    assert.equal(response.statusCode, 101);
  });
});
