// What clients get when the app fails or misbehaves: the response timeout, refused connections, resets
// mid-response, smuggled bytes and bad framing. Split from the former ingress-proxy.test.ts; the shared
// setup is test/support/proxy-fixture.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { curl, curlResult } from './support/clients.ts';
import { useProxyFixture, RESPONSE_TIMEOUT_MS, sha256, gw, streamHost, h2Connect, withTimeout, curlTo, assertStillServing, closedPort } from './support/proxy-fixture.ts';

useProxyFixture();

describe('the response timeout (responseTimeoutMs)', { concurrency: true }, () => {
  // undici arms its headers timeout on a coarse timer (about 1 s resolution), so the 504 comes
  // between responseTimeoutMs and about a second later; the app would answer after 3 s.
  test(`the app does not send headers within responseTimeoutMs (${RESPONSE_TIMEOUT_MS} ms): 504`, async () => {
    await Promise.all(
      (['1.1', '2'] as const).map(async (version) => {
        const started = Date.now();
        const result = await curlTo({ host: streamHost, http: version, path: '/slow' });
        const elapsed = Date.now() - started;
        assert.equal(result.code, 0, result.stderr);
        const { status, body } = curlResult(result);
        assert.equal(status, 504, body);
        assert.match(body, /app_timeout/);
        assert.ok(elapsed >= RESPONSE_TIMEOUT_MS - 20 && elapsed < 2_500, `HTTP/${version} answered after ${elapsed} ms`);
      }),
    );
    await assertStillServing('1.1');
    await assertStillServing('2');
  });

  // A client that uploads slowly is not an app that is slow to answer: the response timeout must not
  // cut off an upload that is still arriving (the app answers as soon as the body is complete). The
  // upload takes 1.2 s, past the moment the timeout fires (see above).
  test(`an upload that takes longer than the response timeout (${RESPONSE_TIMEOUT_MS} ms) is not answered 504`, async () => {
    const session = h2Connect(streamHost);
    try {
      const stream = session.request({ ':path': '/sha256', ':method': 'POST' }, { endStream: false });
      let text = '';
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const ended = once(stream, 'end');
      const parts: Buffer[] = [];
      for (let i = 0; i < 12; i++) {
        const part = randomBytes(100);
        parts.push(part);
        stream.write(part);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      stream.end();
      await withTimeout(ended, 3_000, 'the response');
      assert.equal(status, 200, text);
      assert.equal((JSON.parse(text) as { sha256: string }).sha256, sha256(Buffer.concat(parts)));
    } finally {
      session.close();
    }
  });
});

describe('app failures', () => {
  test('the app refuses the connection (closed targetPort): 503, then the gateway still serves', async () => {
    const host = await gw.putApp('refusing', 'env1', { targetPort: await closedPort() });
    for (const version of ['1.1', '2'] as const) {
      const result = await curlTo({ host, http: version });
      assert.equal(result.code, 0, result.stderr);
      const { status, body } = curlResult(result);
      assert.equal(status, 503);
      assert.match(body, /app_unavailable/);
      await assertStillServing(version);
    }
  });

  test('an app without targetPort: 503', async () => {
    const host = await gw.putApp('no-port', 'env1', { external: true });
    for (const version of ['1.1', '2'] as const) {
      const result = await curlTo({ host, http: version });
      assert.equal(result.code, 0, result.stderr);
      const { status, body } = curlResult(result);
      assert.equal(status, 503);
      assert.match(body, /targetPort/);
      await assertStillServing(version);
    }
  });

  for (const version of ['1.1', '2'] as const) {
    for (const framing of ['chunked', 'content-length'] as const) {
      test(`the app resets mid-response (HTTP/${version}, ${framing}): curl fails, never a clean truncated 200`, async () => {
        const result = await curlTo({ host: streamHost, http: version, path: framing === 'chunked' ? '/reset' : '/reset?length' });
        // 18: partial file (transfer closed with outstanding read data); 56: receive failure;
        // 92: HTTP/2 stream not closed cleanly; 16: HTTP/2 framing error.
        assert.notEqual(result.code, 0, `curl reported success: ${result.stdout.slice(-40)}`);
        assert.ok([16, 18, 56, 92].includes(result.code), `curl exit ${result.code}: ${result.stderr}`);
        await assertStillServing(version);
      });
    }
  }

  test('the app resets mid-response (Node http2 client): the stream errors instead of ending', async () => {
    const session = h2Connect(streamHost);
    try {
      const outcome = await new Promise<string>((resolve) => {
        const stream = session.request({ ':path': '/reset' });
        stream.on('data', () => {});
        stream.on('end', () => resolve('end'));
        stream.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
        stream.on('close', () => resolve(`close rstCode=${stream.rstCode}`));
      });
      assert.notEqual(outcome, 'end', 'a truncated response must not end cleanly');
    } finally {
      session.close();
    }
  });
});


/**
 * An app speaking raw HTTP/1.1 from a script: `answer(request, n)` gets each request head (and the
 * number of the request on its connection, from 1) and returns the bytes to send, or 'destroy'.
 */
async function startRawApp(answer: (head: string, n: number) => string | 'destroy') {
  const connections: net.Socket[] = [];
  const server = net.createServer((socket) => {
    connections.push(socket);
    let buffered = '';
    let n = 0;
    socket.on('error', () => {});
    socket.on('data', (data: Buffer) => {
      buffered += data.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const head = buffered.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        const reply = answer(head, ++n);
        if (reply === 'destroy') {
          socket.destroy();
          return;
        }
        socket.write(reply, 'latin1');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () => new Promise<void>((resolve) => {
      for (const socket of connections) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('the upstream client against apps that misbehave', () => {
  test('bytes after a response (an app smuggling a second one) never reach the next client', async () => {
    let requests = 0;
    const app = await startRawApp(() =>
      ++requests === 1
        ? 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled'
        : 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh',
    );
    try {
      const host = await gw.putApp('smuggler', 'env1', { targetPort: app.port });
      const first = curlResult(await curlTo({ host }));
      assert.deepEqual([first.status, first.body], [200, 'ok']);
      const second = curlResult(await curlTo({ host }));
      assert.deepEqual([second.status, second.body], [200, 'fresh']);
      assert.equal(app.connections.length, 2, 'the connection with the extra bytes was dropped');
    } finally {
      await app.close();
    }
  });

  test('an app that closes a kept-alive connection as the next request arrives: a GET is sent again, a POST gets 502', async () => {
    // (Each request below is the second on a connection the app then closes, except where noted.)
    const app = await startRawApp((head, n) => (n === 1 ? `HTTP/1.1 200 OK\r\nContent-Length: ${head.length}\r\n\r\n${head}` : 'destroy'));
    try {
      const host = await gw.putApp('closer', 'env1', { targetPort: app.port });
      assert.equal(curlResult(await curlTo({ host, path: '/one' })).status, 200);
      // On the connection the app will close: sent again on a new one, and answered.
      const again = curlResult(await curlTo({ host, path: '/two' }));
      assert.equal(again.status, 200);
      assert.match(again.body, /^GET \/two HTTP\/1\.1/);
      assert.equal(app.connections.length, 2);
      // A request with a body is not repeated (the app may have acted on it).
      const post = curlResult(await curlTo({ host, path: '/three', extra: ['--data-binary', 'payload'] }));
      assert.equal(post.status, 502);
      // Nor is a POST without one: not idempotent. (A GET first, so the POST goes out on a reused connection.)
      assert.equal(curlResult(await curlTo({ host, path: '/four' })).status, 200);
      const emptyPost = curlResult(await curlTo({ host, path: '/five', extra: ['-X', 'POST'] }));
      assert.equal(emptyPost.status, 502);
      await assertStillServing();
    } finally {
      await app.close();
    }
  });

  for (const [label, response] of [
    ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
    ['differing Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!'],
    ['a header split by a bare LF', 'HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nok'],
  ] as const) {
    test(`${label}: 502, the connection dropped, the gateway still serves`, async () => {
      const app = await startRawApp(() => response);
      try {
        const host = await gw.putApp(`bad-${label.length}`, 'env1', { targetPort: app.port });
        const result = curlResult(await curlTo({ host }));
        assert.equal(result.status, 502);
        assert.match(result.body, /app_error/);
        await assertStillServing();
      } finally {
        await app.close();
      }
    });
  }
});
