// Bodies streamed both ways through the ingress, never buffered: large uploads and downloads, chunked and
// with a length, Expect: 100-continue, HTTP/1.1 and HTTP/2. Split from the former ingress-proxy.test.ts;
// the shared setup is test/support/proxy-fixture.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { join } from 'node:path';
import { curl, curlResult } from './support/clients.ts';
import { useProxyFixture, UPLOAD, DOWNLOAD, sha256, gw, dir, streamApp, streamHost, type Reply, h2Connect, h2Request, withTimeout, curlTo } from './support/proxy-fixture.ts';

useProxyFixture();

describe('bodies are streamed both ways', () => {
  for (const version of ['1.1', '2'] as const) {
    test(`8 MiB POST (curl --data-binary, HTTP/${version}) reaches the app intact`, async () => {
      const result = await curlTo({
        host: streamHost,
        http: version,
        path: '/sha256',
        headers: ['content-type: application/octet-stream'],
        extra: ['--data-binary', `@${join(dir, 'upload.bin')}`],
      });
      assert.equal(result.code, 0, result.stderr);
      const { status, body } = curlResult(result);
      assert.equal(status, 200, body);
      const seen = JSON.parse(body) as { sha256: string; bytes: number; httpVersion: string };
      assert.equal(seen.bytes, UPLOAD.length);
      assert.equal(seen.sha256, sha256(UPLOAD));
      assert.equal(seen.httpVersion, '1.1');
    });
  }

  test('8 MiB POST (HTTP/1.1) with curl\'s Expect: 100-continue turned off (-H "Expect:") reaches the app intact', async () => {
    const result = await curlTo({
      host: streamHost,
      http: '1.1',
      path: '/sha256',
      headers: ['content-type: application/octet-stream', 'Expect:'],
      extra: ['--data-binary', `@${join(dir, 'upload.bin')}`],
    });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 200, body);
    const seen = JSON.parse(body) as { sha256: string; bytes: number; contentLength: string | null };
    assert.equal(seen.bytes, UPLOAD.length);
    assert.equal(seen.sha256, sha256(UPLOAD));
    assert.equal(seen.contentLength, String(UPLOAD.length));
  });

  // curl sends `Expect: 100-continue` by itself for HTTP/1.1 bodies over 1 MiB and for chunked
  // uploads; the ingress answers 100 Continue to the client and must still forward the request.
  test('a small POST with Expect: 100-continue (HTTP/1.1, curl) reaches the app', async () => {
    const result = await curlTo({
      host: streamHost,
      http: '1.1',
      path: '/sha256',
      headers: ['Expect: 100-continue'],
      extra: ['--data-binary', 'hello'],
    });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 200, body);
    assert.equal((JSON.parse(body) as { sha256: string }).sha256, sha256(Buffer.from('hello')));
  });

  test('a POST with expect: 100-continue (HTTP/2, Node client) reaches the app', async () => {
    const session = h2Connect(streamHost);
    try {
      const stream = session.request({ ':path': '/sha256', ':method': 'POST', expect: '100-continue' }, { endStream: false });
      let text = '';
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const ended = once(stream, 'end');
      stream.once('continue', () => stream.end('hello'));
      await withTimeout(ended, 3_000, 'the response');
      assert.equal(status, 200, text);
      assert.equal((JSON.parse(text) as { sha256: string }).sha256, sha256(Buffer.from('hello')));
    } finally {
      session.close();
    }
  });

  test('8 MiB chunked upload (curl -H "Transfer-Encoding: chunked", HTTP/1.1) reaches the app intact', async () => {
    const result = await curlTo({
      host: streamHost,
      http: '1.1',
      path: '/sha256',
      headers: ['Transfer-Encoding: chunked', 'content-type: application/octet-stream'],
      extra: ['--data-binary', `@${join(dir, 'upload.bin')}`],
    });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 200, body);
    const seen = JSON.parse(body) as { sha256: string; bytes: number; transferEncoding: string | null };
    assert.equal(seen.bytes, UPLOAD.length);
    assert.equal(seen.sha256, sha256(UPLOAD));
    assert.equal(seen.transferEncoding, 'chunked');
  });

  for (const version of ['1.1', '2'] as const) {
    for (const framing of ['chunked', 'content-length'] as const) {
      test(`4 MiB response written over time (curl HTTP/${version}, ${framing}) reaches the client intact`, async () => {
        const out = join(dir, `download-${version}-${framing}.bin`);
        const result = await curlTo({
          host: streamHost,
          http: version,
          path: framing === 'chunked' ? '/download' : '/download?length',
          extra: ['-o', out],
        });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(curlResult(result).status, 200);
        const received = readFileSync(out);
        assert.equal(received.length, DOWNLOAD.length);
        assert.equal(sha256(received), sha256(DOWNLOAD));
      });
    }
  }

  test('4 MiB response through the Node http2 client', async () => {
    const session = h2Connect(streamHost);
    try {
      const reply = await h2Request(session, '/download');
      assert.equal(reply.status, 200);
      assert.equal(sha256(reply.body), sha256(DOWNLOAD));
    } finally {
      session.close();
    }
  });

  // The app writes one chunk and finishes only after the client has received it: a proxy that
  // buffered the response would never deliver it, and the test would time out.
  test('the response is not buffered: the client gets the first chunk before the app finishes (HTTP/1.1)', async () => {
    const gate = Promise.withResolvers<void>();
    streamApp.gate = gate.promise;
    try {
      const firstChunk = Promise.withResolvers<string>();
      const done = new Promise<string>((resolve, reject) => {
        const request = https.request(
          { host: '127.0.0.1', port: gw.httpsPort, servername: streamHost, headers: { host: streamHost }, path: '/gated', ca: gw.caPem, agent: false },
          (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => {
              if (text === '') firstChunk.resolve(chunk.toString());
              text += chunk.toString();
            });
            response.on('end', () => resolve(text));
            response.on('error', reject);
          },
        );
        request.on('error', reject);
        request.end();
      });
      assert.equal(await withTimeout(firstChunk.promise, 3_000, 'first chunk while the app is still answering'), 'first chunk\n');
      gate.resolve();
      assert.equal(await withTimeout(done, 3_000, 'the rest'), 'first chunk\nthe rest\n');
    } finally {
      gate.resolve();
    }
  });

  test('the response is not buffered: the client gets the first chunk before the app finishes (HTTP/2)', async () => {
    const gate = Promise.withResolvers<void>();
    streamApp.gate = gate.promise;
    const session = h2Connect(streamHost);
    try {
      const stream = session.request({ ':path': '/gated' });
      const first = once(stream, 'data') as Promise<[Buffer]>;
      let text = '';
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const [chunk] = await withTimeout(first, 3_000, 'first chunk while the app is still answering');
      assert.equal(chunk.toString(), 'first chunk\n');
      gate.resolve();
      await withTimeout(once(stream, 'end'), 3_000, 'the rest');
      assert.equal(text, 'first chunk\nthe rest\n');
    } finally {
      gate.resolve();
      session.close();
    }
  });

  // The other direction: the client sends one chunk and sends the rest only once the app has it.
  test('the request is not buffered: the app gets the first chunk before the client finishes (HTTP/1.1 chunked)', async () => {
    const appGotFirst = Promise.withResolvers<void>();
    streamApp.onUploadChunk = () => appGotFirst.resolve();
    try {
      const parts = [randomBytes(1_000), randomBytes(200_000)];
      const reply = new Promise<Reply>((resolve, reject) => {
        const request = https.request(
          {
            host: '127.0.0.1', port: gw.httpsPort, servername: streamHost, path: '/sha256', method: 'POST',
            headers: { host: streamHost, 'transfer-encoding': 'chunked' }, ca: gw.caPem, agent: false,
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (c: Buffer) => chunks.push(c));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), socket: response.socket, alpn: null }));
          },
        );
        request.on('error', reject);
        request.write(parts[0]);
        withTimeout(appGotFirst.promise, 3_000, 'the app reads the first chunk while the client is still sending').then(
          () => request.end(parts[1]),
          (error: unknown) => {
            request.destroy();
            reject(error);
          },
        );
      });
      const { status, body } = await reply;
      assert.equal(status, 200);
      const seen = JSON.parse(body.toString()) as { sha256: string; bytes: number };
      assert.equal(seen.bytes, 201_000);
      assert.equal(seen.sha256, sha256(Buffer.concat(parts)));
    } finally {
      streamApp.onUploadChunk = undefined;
    }
  });

  test('the request is not buffered: the app gets the first chunk before the client finishes (HTTP/2)', async () => {
    const appGotFirst = Promise.withResolvers<void>();
    streamApp.onUploadChunk = () => appGotFirst.resolve();
    const session = h2Connect(streamHost);
    try {
      const parts = [randomBytes(1_000), randomBytes(200_000)];
      const stream = session.request({ ':path': '/sha256', ':method': 'POST' }, { endStream: false });
      let text = '';
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const ended = once(stream, 'end');
      stream.write(parts[0]);
      await withTimeout(appGotFirst.promise, 3_000, 'the app reads the first chunk while the client is still sending');
      stream.end(parts[1]);
      await withTimeout(ended, 3_000, 'the response');
      const seen = JSON.parse(text) as { sha256: string; bytes: number };
      assert.equal(seen.bytes, 201_000);
      assert.equal(seen.sha256, sha256(Buffer.concat(parts)));
    } finally {
      streamApp.onUploadChunk = undefined;
      session.close();
    }
  });

});
