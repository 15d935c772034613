// Client-address and path-override headers (Forwarded, X-Real-IP, True-Client-IP, X-Envoy-*,
// X-Forwarded-Port/-Prefix/..., X-Original-URL, ...) never reach the app, in any spelling an app
// could read them in (`_` for `-`, any case), over HTTP/1.1 and HTTP/2: an app trusting them would
// take a client's word for its address, its scheme or its path. A raw upstream logs every byte.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { h2Session, rawRequest, statusOf } from './support/raw-clients.ts';
import { startRawUpstream, type RawUpstream } from './support/raw-upstream.ts';

let gw: TestGateway;
let upstream: RawUpstream;
let host: string;

const FORGED: readonly [name: string, value: string][] = [
  ['Forwarded', 'for=10.0.0.1;proto=https'],
  ['X-Real-IP', '10.0.0.2'],
  ['x_real_ip', '10.0.0.3'],
  ['True-Client-IP', '10.0.0.4'],
  ['X-Client-IP', '10.0.0.5'],
  ['CF-Connecting-IP', '10.0.0.6'],
  ['Fastly-Client-IP', '10.0.0.7'],
  ['X-Cluster-Client-IP', '10.0.0.8'],
  ['X-Envoy-External-Address', '10.0.0.9'],
  ['X-Envoy-Internal', 'true'],
  ['x_envoy_original_path', '/admin'],
  ['X-Forwarded-Port', '443'],
  ['X-Forwarded-Prefix', '/admin'],
  ['X-Forwarded-Scheme', 'https'],
  ['X-Forwarded-Server', 'evil'],
  ['X_Forwarded_Ssl', 'on'],
  ['X-Original-URL', '/admin'],
  ['X-Rewrite-URL', '/admin'],
];

before(async () => {
  upstream = await startRawUpstream();
  gw = await startTestGateway();
  await gw.createEnvironment('env1');
  host = await gw.putApp('raw', 'env1', { targetPort: upstream.port, clientCertificateMode: 'ignore' });
});

after(async () => {
  await gw?.close();
  await upstream?.close();
});

/** The request head the app received for `path`. */
function headAt(path: string): string {
  const log = upstream.log();
  const start = log.indexOf(`GET ${path} HTTP/1.1\r\n`);
  assert.ok(start >= 0, `the app received ${path}`);
  return log.slice(start, log.indexOf('\r\n\r\n', start));
}

function assertNoneForwarded(head: string): void {
  for (const [name] of FORGED) {
    const folded = name.toLowerCase().replaceAll('_', '-');
    for (const line of head.split('\r\n').slice(1)) {
      assert.notEqual(line.slice(0, line.indexOf(':')).toLowerCase().replaceAll('_', '-'), folded, `${name} reached the app: ${line}`);
    }
  }
  assert.doesNotMatch(head, /10\.0\.0\.|\/admin|evil/);
  assert.match(head, /\r\nx-kept: kept/i, 'other headers are forwarded');
}

test('HTTP/1.1: client-address and path-override headers are removed, others kept', async () => {
  const lines = FORGED.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  const response = await rawRequest(
    { port: gw.httpsPort, servername: host, ca: gw.caPem },
    `GET /h1 HTTP/1.1\r\nHost: ${host}\r\n${lines}X-Kept: kept\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(statusOf(response), 200, response);
  assertNoneForwarded(headAt('/h1'));
});

test('HTTP/2: the same', async () => {
  const session = h2Session(gw.httpsPort, host, gw.caPem);
  try {
    const headers: Record<string, string> = { ':path': '/h2', 'x-kept': 'kept' };
    // HTTP/2 names are lower case; underscores are legal in them.
    for (const [name, value] of FORGED) headers[name.toLowerCase()] = value;
    const status = await new Promise<number>((resolve, reject) => {
      const stream = session.request(headers);
      stream.on('response', (h) => resolve(Number(h[':status'])));
      stream.on('error', reject);
      stream.resume();
    });
    assert.equal(status, 200);
    assertNoneForwarded(headAt('/h2'));
  } finally {
    session.destroy();
  }
});
