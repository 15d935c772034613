// The client-certificate modes, enforced in the TLS handshake per app on one port, with real
// clients: curl (PEM and PKCS12), openssl s_client, and Node's https and http2 clients.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http2 from 'node:http2';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoApp, type EchoApp, type EchoRequest } from './support/echo-app.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { curl, curlResult, sawCertificateRequest, sClient } from './support/clients.ts';
import {
  clientIdentities,
  expectedLeafWithIntermediate,
  expectedSelfSigned,
  P12_PASSWORD,
  type ClientIdentity,
} from './support/vectors.ts';

const MODES = ['ignore', 'accept', 'require'] as const;
type Mode = (typeof MODES)[number];

let gw: TestGateway;
let echo: EchoApp;
let dir: string;
let caFile: string;
let ids: Awaited<ReturnType<typeof clientIdentities>>;
const hosts = {} as Record<Mode, string>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-modes-'));
  ids = await clientIdentities(dir);
  echo = await startEchoApp();
  gw = await startTestGateway();
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, gw.caPem);
  await gw.createEnvironment('env1');
  // Three apps with different modes served on the same port at once.
  for (const mode of MODES) hosts[mode] = await gw.putApp(`app-${mode}`, 'env1', { targetPort: echo.port, clientCertificateMode: mode });
});

after(async () => {
  await gw?.close();
  await echo?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function lastReceived(): EchoRequest {
  const request = echo.received.at(-1);
  assert.ok(request, 'the app received a request');
  return request;
}

describe('curl matrix: {no cert, self-signed, leaf, leaf + intermediate} x modes x TLS 1.2/1.3 x HTTP/1.1, HTTP/2', () => {
  const clients = ['none', 'self', 'leaf', 'chain'] as const;
  for (const mode of MODES) {
    for (const tls of ['1.2', '1.3'] as const) {
      for (const http of ['1.1', '2'] as const) {
        for (const client of clients) {
          test(`${mode} TLS ${tls} HTTP/${http} ${client}`, async () => {
            const id: ClientIdentity | undefined = client === 'none' ? undefined : ids[client];
            const before = echo.received.length;
            const result = await curl({ host: hosts[mode], port: gw.httpsPort, caFile, tls, http, cert: id?.certFile, key: id?.keyFile });
            if (mode === 'require' && !id) {
              assert.notEqual(result.code, 0, 'the handshake fails without a certificate');
              // TLS 1.3 alert 116, TLS 1.2 alert 40: the lingering close lets curl read it every time.
              assert.match(result.stderr, tls === '1.3' ? /alert certificate required/i : /alert handshake failure/i);
              assert.equal(echo.received.length, before, 'nothing reaches the app');
              return;
            }
            assert.equal(result.code, 0, result.stderr);
            const { status, httpVersion } = curlResult(result);
            assert.equal(status, 200);
            assert.equal(httpVersion, http === '2' ? '2' : '1.1');
            const header = lastReceived().headers['x-forwarded-client-cert'];
            if (mode === 'ignore' || !id) assert.equal(header, undefined);
            else assert.equal(header, id.expected);
          });
        }
      }
    }
  }
});

describe('the forwarded header matches the shared reference vectors', () => {
  test('self-signed', async () => {
    const result = await curl({ host: hosts.accept, port: gw.httpsPort, caFile, cert: ids.self.certFile, key: ids.self.keyFile });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(lastReceived().headers['x-forwarded-client-cert'], expectedSelfSigned);
  });
  test('leaf + intermediate', async () => {
    const result = await curl({ host: hosts.require, port: gw.httpsPort, caFile, cert: ids.chain.certFile, key: ids.chain.keyFile });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(lastReceived().headers['x-forwarded-client-cert'], expectedLeafWithIntermediate);
  });
});

describe('curl with PKCS12 client certificates (--cert-type P12)', () => {
  for (const mode of ['accept', 'require'] as const) {
    for (const client of ['self', 'chain'] as const) {
      test(`${mode} ${client}`, async () => {
        const id = ids[client];
        const result = await curl({ host: hosts[mode], port: gw.httpsPort, caFile, cert: id.p12File, certType: 'P12', password: P12_PASSWORD });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(curlResult(result).status, 200);
        assert.equal(lastReceived().headers['x-forwarded-client-cert'], id.expected);
      });
    }
  }
});

describe('openssl s_client: CertificateRequest, CA names and alerts', () => {
  for (const mode of MODES) {
    for (const tls of ['1.2', '1.3'] as const) {
      test(`${mode} TLS ${tls} without a certificate`, async () => {
        const result = await sClient({
          port: gw.httpsPort,
          servername: hosts[mode],
          tls,
          request: `GET / HTTP/1.1\r\nHost: ${hosts[mode]}\r\nConnection: close\r\n\r\n`,
        });
        const output = result.stdout + result.stderr;
        assert.equal(sawCertificateRequest(output), mode !== 'ignore', 'CertificateRequest sent only when the mode asks');
        if (mode !== 'ignore') assert.match(output, /No client certificate CA names sent/);
        if (mode === 'require') {
          assert.match(output, tls === '1.3' ? /Alert \[length 0002\], fatal certificate_required/ : /Alert \[length 0002\], fatal handshake_failure/);
          assert.doesNotMatch(output, /HTTP\/1\.1 200/);
        } else {
          assert.match(output, /HTTP\/1\.1 200/);
        }
      });
    }
    test(`${mode} with a certificate and intermediate (s_client -cert_chain)`, async () => {
      const result = await sClient({
        port: gw.httpsPort,
        servername: hosts[mode],
        cert: ids.leaf.certFile,
        key: ids.leaf.keyFile,
        chain: join(import.meta.dirname, 'fixtures', 'xfcc-vectors', 'int.pem'),
        request: `GET / HTTP/1.1\r\nHost: ${hosts[mode]}\r\nConnection: close\r\n\r\n`,
      });
      assert.match(result.stdout, /HTTP\/1\.1 200/);
      // s_client -msg prints its trace right after the body, without a line break.
      const body = /\{"method":.*?"body":""\}/.exec(result.stdout);
      assert.ok(body, 'the echo app answered');
      const seen = JSON.parse(body[0]) as EchoRequest;
      assert.equal(seen.headers['x-forwarded-client-cert'], mode === 'ignore' ? undefined : expectedLeafWithIntermediate);
    });
  }
});

describe('Node clients', () => {
  test('https with pfx (PKCS12) on a require app', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const request = https.request(
        {
          host: '127.0.0.1',
          port: gw.httpsPort,
          servername: hosts.require,
          headers: { host: hosts.require },
          ca: gw.caPem,
          pfx: readFileSync(ids.chain.p12File),
          passphrase: P12_PASSWORD,
          agent: false,
        },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve(text));
        },
      );
      request.on('error', reject);
      request.end();
    });
    assert.equal((JSON.parse(body) as EchoRequest).headers['x-forwarded-client-cert'], expectedLeafWithIntermediate);
  });

  test('https without a certificate on a require app fails in the handshake', async () => {
    const error = await new Promise<Error>((resolve) => {
      const request = https.request({ host: '127.0.0.1', port: gw.httpsPort, servername: hosts.require, ca: gw.caPem, agent: false }, () => resolve(new Error('answered')));
      request.on('error', resolve);
      request.end();
    });
    assert.match(String((error as NodeJS.ErrnoException).code) + error.message, /CERTIFICATE_REQUIRED|certificate required|ECONNRESET/i);
  });

  test('http2 with a client certificate on accept and require apps', async () => {
    for (const mode of ['accept', 'require'] as const) {
      const session = http2.connect(`https://${hosts[mode]}:${gw.httpsPort}`, {
        host: '127.0.0.1',
        servername: hosts[mode],
        ca: gw.caPem,
        cert: readFileSync(ids.chain.certFile),
        key: readFileSync(ids.chain.keyFile),
      });
      try {
        const body = await new Promise<string>((resolve, reject) => {
          const stream = session.request({ ':path': '/h2' });
          let text = '';
          stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
          stream.on('end', () => resolve(text));
          stream.on('error', reject);
        });
        const seen = JSON.parse(body) as EchoRequest;
        assert.equal(seen.url, '/h2');
        assert.equal(seen.headers['x-forwarded-client-cert'], expectedLeafWithIntermediate);
      } finally {
        session.close();
      }
    }
  });
});

test('a mode changed while running applies to the next connection', async () => {
  const host = await gw.putApp('app-changing', 'env1', { targetPort: echo.port, clientCertificateMode: 'ignore' });
  assert.equal(curlResult(await curl({ host, port: gw.httpsPort, caFile })).status, 200);
  await gw.putApp('app-changing', 'env1', { targetPort: echo.port, clientCertificateMode: 'require' });
  const refused = await curl({ host, port: gw.httpsPort, caFile });
  assert.notEqual(refused.code, 0);
  const withCert = await curl({ host, port: gw.httpsPort, caFile, cert: ids.self.certFile, key: ids.self.keyFile });
  assert.equal(curlResult(withCert).status, 200);
  assert.equal(lastReceived().headers['x-forwarded-client-cert'], expectedSelfSigned);
});
