// The plain-HTTP port: redirects to HTTPS, allowInsecure apps, unknown hosts. Split from the former
// ingress-proxy.test.ts; the shared setup is test/support/proxy-fixture.ts.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { curl, curlHttp, curlResult, parseIncluded } from './support/clients.ts';
import type { EchoRequest } from './support/echo-app.ts';
import { useProxyFixture, UUID, gw, caFile, echo, echoHost } from './support/proxy-fixture.ts';

useProxyFixture();

describe('the plain-HTTP port', () => {
  let insecureHost: string;
  before(async () => {
    insecureHost = await gw.putApp('insecure', 'env1', { targetPort: echo.port, allowInsecure: true, clientCertificateMode: 'accept' });
  });

  test('allowInsecure false (default): 308 to https://<host>:<httpsPort>/path?query', async () => {
    const before = echo.received.length;
    const result = await curlHttp({ host: echoHost, port: gw.httpPort, path: '/a/b?x=1&y=two', extra: ['-i'] });
    assert.equal(result.code, 0, result.stderr);
    const response = parseIncluded(curlResult(result).body);
    assert.equal(response.status, 308);
    assert.deepEqual(response.headers['location'], [`https://${echoHost}:${gw.httpsPort}/a/b?x=1&y=two`]);
    assert.equal(echo.received.length, before, 'the app is not reached over plain HTTP');
  });

  test('the redirect leads to the app over HTTPS (curl -L)', async () => {
    const before = echo.received.length;
    const result = await curlHttp({
      host: echoHost,
      port: gw.httpPort,
      path: '/followed?q=1',
      extra: ['-L', '--resolve', `${echoHost}:${gw.httpsPort}:127.0.0.1`, '--cacert', caFile],
    });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 200);
    const seen = JSON.parse(body) as EchoRequest;
    assert.equal(seen.url, '/followed?q=1');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(echo.received.length, before + 1, 'only the HTTPS request reached the app');
  });

  test('allowInsecure true: served over HTTP, a client-sent X-Forwarded-Client-Cert is stripped', async () => {
    const result = await curlHttp({
      host: insecureHost,
      port: gw.httpPort,
      path: '/insecure?x=1',
      headers: ['X-Forwarded-Client-Cert: Hash=forged;Cert="forged"', 'X-ARR-ClientCert: forged', 'X-Forwarded-For: 203.0.113.9'],
    });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 200);
    const seen = JSON.parse(body) as EchoRequest;
    assert.equal(seen.url, '/insecure?x=1');
    assert.equal(seen.headers['x-forwarded-client-cert'], undefined);
    assert.equal(seen.headers['x-arr-clientcert'], undefined);
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.match(String(seen.headers['x-request-id']), UUID);
  });

  test('an unknown Host on the HTTP port: 404 naming the host', async () => {
    const result = await curlHttp({ host: 'nothing.example', port: gw.httpPort, path: '/x' });
    assert.equal(result.code, 0, result.stderr);
    const { status, body } = curlResult(result);
    assert.equal(status, 404);
    assert.equal(body, 'no app is served at nothing.example (no_app)\n');
  });

  test('a missing app under the environment domain on the HTTP port: 404 naming the app and the environment', async () => {
    const result = await curlHttp({ host: 'nothing.env1.certgate.localhost', port: gw.httpPort, path: '/x' });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual([curlResult(result).status, curlResult(result).body], [404, 'no app named nothing in environment env1 (no_app_in_environment)\n']);
  });
});
