import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientResponseRawHeaders, newTraceparent, upstreamRequestHeaders } from './headers.ts';

const context = {
  clientAddress: '127.0.0.9',
  proto: 'https' as const,
  host: 'app.env.certgate.localhost:8443',
  requestId: 'req-1',
};

/** The pairs, without the traceparent the ingress adds to every request (its own tests are below). */
function asPairs(flat: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) if (flat[i] !== 'traceparent') pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs;
}

function header(flat: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) values.push(flat[i + 1]!);
  return values;
}

test('traceparent: a valid one is passed on with its tracestate; none, a malformed one or two start a new trace', () => {
  const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const kept = upstreamRequestHeaders(['traceparent', valid, 'tracestate', 'congo=t61rcWkgMzE', 'TraceState', 'rojo=00f067aa0ba902b7'], context);
  assert.deepEqual(header(kept, 'traceparent'), [valid]);
  assert.deepEqual(header(kept, 'tracestate'), ['congo=t61rcWkgMzE,rojo=00f067aa0ba902b7']);
  const requestId = '3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b';
  for (const raw of [[], ['traceparent', 'garbage', 'tracestate', 'x=y'], ['traceparent', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`], ['traceparent', valid, 'traceparent', valid]]) {
    const out = upstreamRequestHeaders(raw, { ...context, requestId });
    const [started] = header(out, 'traceparent');
    assert.match(started!, /^00-3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b-[0-9a-f]{16}-01$/, JSON.stringify(raw));
    assert.deepEqual(header(out, 'tracestate'), [], 'a restarted trace carries no tracestate');
  }
  assert.match(newTraceparent('not-a-uuid'), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
});

test('new traceparents: 2,000 in a row (several refills of the span ids\' random bytes), each valid, no span id twice', () => {
  const spans = new Set<string>();
  for (let i = 0; i < 2_000; i++) {
    const traceparent = newTraceparent('3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b');
    assert.match(traceparent, /^00-3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b-(?!0{16})[0-9a-f]{16}-01$/);
    spans.add(traceparent.slice(36, 52));
  }
  assert.equal(spans.size, 2_000);
});

test('client-certificate headers from the client are dropped in any casing and any number', () => {
  const raw = [
    'X-Forwarded-Client-Cert', 'Hash=forged',
    'x-forwarded-client-cert', 'Hash=forged2',
    'X-FORWARDED-CLIENT-CERT', 'Hash=forged3',
    'X-ARR-ClientCert', 'forged',
    'Client-Cert', ':Zm9v:',
    'Client-Cert-Chain', ':Zm9v:',
    'Accept', '*/*',
  ];
  // The connection's own value is never in this list: the upstream request writer adds it.
  const out = asPairs(upstreamRequestHeaders(raw, context));
  assert.deepEqual(out.filter(([name]) => /cert/i.test(name)), []);
});

test('hop-by-hop headers and those named in Connection are removed; forwarding headers are set', () => {
  const raw = [
    'Host', 'ignored.example',
    'Connection', 'keep-alive, X-Secret-Hop',
    'Keep-Alive', 'timeout=5',
    'Transfer-Encoding', 'chunked',
    'TE', 'trailers',
    'Upgrade', 'h2c',
    'X-Secret-Hop', 'drop me',
    'X-Forwarded-For', '10.0.0.1',
    'X-Forwarded-Proto', 'http',
    'X-Forwarded-Host', 'evil.example',
    'X-Request-Id', 'client-chosen',
    'Accept', '*/*',
  ];
  const out = asPairs(upstreamRequestHeaders(raw, context));
  assert.deepEqual(out, [
    ['host', context.host],
    ['Accept', '*/*'],
    ['x-forwarded-for', '10.0.0.1, 127.0.0.9'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-host', context.host],
    ['x-request-id', 'req-1'],
  ]);
});

test('HTTP/2 pseudo-headers are not forwarded as headers', () => {
  const out = asPairs(upstreamRequestHeaders([':method', 'GET', ':authority', 'a', ':path', '/', 'accept', '*/*'], context));
  assert.equal(out.some(([name]) => name.startsWith(':')), false);
});

test('Expect is not forwarded (the ingress answers 100 Continue itself)', () => {
  const out = asPairs(upstreamRequestHeaders(['Expect', '100-continue', 'Content-Length', '10'], context));
  assert.equal(out.some(([name]) => name.toLowerCase() === 'expect'), false);
});

test('response hop-by-hop headers are removed, and those Connection names; repeated headers stay separate', () => {
  assert.deepEqual(
    clientResponseRawHeaders(['Connection', 'close, x-hop', 'X-Hop', '1', 'Keep-Alive', 'x', 'Transfer-Encoding', 'chunked', 'Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']),
    ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2'],
  );
});

test('identity and ingress-owned header names are compared with _ and - alike, in any case', () => {
  const raw = [
    'x_forwarded_client_cert', 'Hash=forged1;Cert="forged"',
    'X-Forwarded_Client-Cert', 'Hash=forged2',
    'X_SSL_Client_Verify', 'SUCCESS',
    'X-Forwarded-Tls-Client-Cert-Info', 'Subject="CN=admin"',
    'x-ms-client-principal_name', 'admin',
    'X-Client-Cert-Present', 'true',
    'Cf-Client-Cert-Sha256', '00',
    'x_request_id', 'forged',
    'X_Forwarded_For', '6.6.6.6',
    'x_forwarded_proto', 'https',
    'X-Custom_Header', 'kept',
    'X-Forwarded-For', '10.0.0.1',
  ];
  const out = asPairs(upstreamRequestHeaders(raw, context));
  assert.deepEqual(out, [
    ['host', context.host],
    ['X-Custom_Header', 'kept'],
    ['x-forwarded-for', '10.0.0.1, 127.0.0.9'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-host', context.host],
    ['x-request-id', 'req-1'],
  ]);
});

test("the environment's stripHeaders are removed in any spelling", () => {
  const raw = ['X-Tenant-Id', 'a', 'x_tenant_id', 'b', 'X-TENANT_ID', 'c', 'X-Tenant', 'kept'];
  const out = asPairs(upstreamRequestHeaders(raw, { ...context, stripHeaders: new Set(['x-tenant-id']) }));
  assert.deepEqual(out.filter(([name]) => /tenant/i.test(name)), [['X-Tenant', 'kept']]);
});
