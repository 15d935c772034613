// Keep-alive on both sides: pooled upstream connections shared by client connections, and idle client
// connections closed after keepAliveTimeoutMs. Split from the former ingress-proxy.test.ts; the shared
// setup is test/support/proxy-fixture.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { useProxyFixture, DOWNLOAD, sha256, gw, echoHost, streamHost, h1Request, h2Connect, h2Request, withTimeout } from './support/proxy-fixture.ts';

useProxyFixture();

describe('pooled keep-alive connections to the app', () => {
  let pooled: EchoApp;
  let host: string;
  let upstreamConnections = 0;

  before(async () => {
    pooled = await startEchoApp();
    pooled.server.on('connection', () => upstreamConnections++);
    host = await gw.putApp('pooled', 'env1', { targetPort: pooled.port });
  });
  after(async () => {
    await gw.deleteApp('pooled');
    await pooled.close();
  });

  test('sequential requests from several client connections share one upstream connection', async () => {
    const clientSockets = new Set<net.Socket>();
    for (let client = 0; client < 3; client++) {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; i < 10; i++) {
          const reply = await h1Request(host, `/c${client}/r${i}`, { agent });
          assert.equal(reply.status, 200);
          clientSockets.add(reply.socket);
        }
      } finally {
        agent.destroy();
      }
    }
    const session = h2Connect(host);
    try {
      for (let i = 0; i < 10; i++) assert.equal((await h2Request(session, `/h2/r${i}`)).status, 200);
    } finally {
      session.close();
    }
    assert.equal(clientSockets.size, 3, 'three HTTP/1.1 client connections (plus one HTTP/2)');
    assert.equal(pooled.received.length, 40);
    assert.equal(upstreamConnections, 1, 'every request reused the one pooled upstream connection');
  });

  test('concurrent clients use no more upstream connections than requests in flight', async () => {
    const before = upstreamConnections;
    const start = pooled.received.length;
    await Promise.all(
      [0, 1, 2].map(async (client) => {
        const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
        try {
          for (let i = 0; i < 10; i++) assert.equal((await h1Request(host, `/p${client}/r${i}`, { agent })).status, 200);
        } finally {
          agent.destroy();
        }
      }),
    );
    assert.equal(pooled.received.length - start, 30);
    assert.ok(upstreamConnections - before <= 3, `${upstreamConnections - before} new upstream connections for 30 requests`);
  });
});

describe('idle client connections (keepAliveTimeoutMs 3 s here)', () => {
  test('an idle keep-alive connection is closed after the keep-alive time, not before', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername: echoHost, ca: gw.caPem });
    await once(socket, 'secureConnect');
    socket.write(`GET /idle HTTP/1.1\r\nHost: ${echoHost}\r\n\r\n`);
    await once(socket, 'data');
    const idleFrom = performance.now();
    socket.resume();
    const closed = once(socket, 'close').then(() => performance.now() - idleFrom);
    const elapsed = await withTimeout(closed, 8_000, 'the idle connection to close');
    // 3 s, noticed by a sweep a quarter of a second apart at most (plus this machine's slack).
    assert.ok(elapsed >= 2_900 && elapsed < 5_000, `closed after ${Math.round(elapsed)} ms`);
  });

  test('a connection with a response still in flight is not idle, however long the client takes to read it', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername: streamHost, ca: gw.caPem });
    await once(socket, 'secureConnect');
    socket.pause();
    socket.write(`GET /download?length HTTP/1.1\r\nHost: ${streamHost}\r\n\r\n`);
    // The client reads nothing for longer than the keep-alive time: 4 MiB cannot all be sent.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    assert.equal(socket.destroyed, false, 'the connection is still open');
    const chunks: Buffer[] = [];
    let received = 0;
    const complete = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        const all = Buffer.concat(chunks);
        const headEnd = all.indexOf('\r\n\r\n');
        if (headEnd !== -1 && all.length - headEnd - 4 >= DOWNLOAD.length) resolve();
      });
      socket.on('close', () => reject(new Error(`closed after ${received} bytes`)));
    });
    socket.resume();
    await withTimeout(complete, 5_000, 'the whole answer');
    const all = Buffer.concat(chunks);
    assert.equal(sha256(all.subarray(all.indexOf('\r\n\r\n') + 4)), sha256(DOWNLOAD));
    socket.destroy();
  });
});
