// Unknown SNI or no SNI on the HTTPS port: the default certificate and 404s naming the host. Split from
// the former ingress-proxy.test.ts; the shared setup is test/support/proxy-fixture.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import tls from 'node:tls';
import { curl, curlHttp, curlResult } from './support/clients.ts';
import { useProxyFixture, gw, echoHost, curlTo } from './support/proxy-fixture.ts';

useProxyFixture();

function peerCertificate(servername: string | undefined): Promise<{ subjectAltName: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, ca: gw.caPem, rejectUnauthorized: false, ...(servername ? { servername } : {}) }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (!cert) reject(new Error('no certificate'));
      else resolve({ subjectAltName: cert.subjectAltName ?? '', authorized: socket.authorized });
    });
    socket.on('error', reject);
  });
}

describe('unknown SNI or no SNI on the HTTPS port', () => {
  /** An HTTP/1.1 request over a TLS connection without SNI (Node sends none to an IP address). */
  function requestWithoutSni(hostHeader: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, ca: gw.caPem, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
        socket.write(`GET /x HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
  }

  test('an app name gets the environment wildcard (control)', async () => {
    const { subjectAltName, authorized } = await peerCertificate(echoHost);
    assert.match(subjectAltName, /DNS:\*\.env1\.certgate\.localhost/);
    assert.equal(authorized, true);
  });

  for (const [label, servername] of [
    ['no SNI', undefined],
    ['an unknown name', 'unknown.example'],
    ['a name two labels under the environment domain', 'a.ghost.env1.certgate.localhost'],
    ['a name under no environment in the base domain', 'ghost.env9.certgate.localhost'],
  ] as const) {
    test(`${label}: the default certificate, not the environment wildcard`, async () => {
      const { subjectAltName } = await peerCertificate(servername);
      assert.match(subjectAltName, /DNS:localhost/);
      assert.doesNotMatch(subjectAltName, /env1/);
    });
  }

  test('no SNI: 404 naming the Host', async () => {
    const response = await requestWithoutSni('nothing.example');
    assert.match(response, /^HTTP\/1\.1 404 /);
    assert.match(response, /no app is served at nothing\.example/);
  });

  test('no SNI with curl (IP address URL): 404 naming the Host', async () => {
    const result = await curl({ host: '127.0.0.1', port: gw.httpsPort, extra: ['-k'], headers: ['Host: nothing.example'] });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 404);
    assert.match(body, /nothing\.example/);
  });

  test('an unknown SNI outside every environment domain (curl): 404 naming the host', async () => {
    for (const version of ['1.1', '2'] as const) {
      const result = await curl({ host: 'ghost.example', port: gw.httpsPort, http: version, extra: ['-k'] });
      assert.equal(result.code, 0, result.stderr);
      const { status, body } = curlResult(result);
      assert.equal(status, 404);
      assert.equal(body, 'no app is served at ghost.example (no_app)\n');
    }
  });

  test('unknown SNI outside every environment domain: the default certificate does not verify for that name', async () => {
    const result = await curlTo({ host: 'ghost.example' });
    assert.notEqual(result.code, 0, 'curl must reject the certificate (it names localhost only)');
    assert.match(result.stderr, /SSL|certificate/i);
  });
});

describe('a mistyped app name under an environment domain', () => {
  test('the environment wildcard answers, and it verifies with the local CA', async () => {
    const { subjectAltName, authorized } = await peerCertificate('ehco.env1.certgate.localhost');
    assert.match(subjectAltName, /DNS:\*\.env1\.certgate\.localhost/);
    assert.equal(authorized, true);
  });

  test('curl verifying with the CA gets 404 "no app named … in …" (HTTP/1.1 and HTTP/2)', async () => {
    for (const version of ['1.1', '2'] as const) {
      const result = await curlTo({ host: 'ehco.env1.certgate.localhost', http: version, path: '/x' });
      assert.equal(result.code, 0, result.stderr);
      const { status, body, httpVersion } = curlResult(result);
      assert.deepEqual([status, httpVersion, body], [404, version, 'no app named ehco in environment env1 (no_app_in_environment)\n']);
    }
  });

  test('plain HTTP gets the same 404', async () => {
    const result = await curlHttp({ host: 'ehco.env1.certgate.localhost', port: gw.httpPort });
    assert.deepEqual([curlResult(result).status, curlResult(result).body], [404, 'no app named ehco in environment env1 (no_app_in_environment)\n']);
  });

  test('the app it was mistyped for is still served on its own connection', async () => {
    const result = await curlTo({ host: echoHost });
    assert.equal(curlResult(result).status, 200, result.stderr);
  });
});
