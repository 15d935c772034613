// The access log of `certgate serve`: one JSON line per request, checked field by field for a real
// curl request with a client certificate; refusals with the same reason codes and fields; a file
// destination reopened on SIGHUP (logrotate); --access-log off; the banner stays on stderr.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { curl, curlResult } from './support/clients.ts';
import { clientIdentities } from './support/vectors.ts';
import { putServedApp, startServeProcess, type ServeProcess } from './support/serve-process.ts';

const HOST = 'logged.env1.certgate.localhost';
let dir: string;
let logFile: string;
let serve: ServeProcess;
let stdout = '';
let httpsPort: number;
let caFile: string;
let echo: EchoApp;
let ids: Awaited<ReturnType<typeof clientIdentities>>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-access-log-'));
  logFile = join(dir, 'logs', 'access.log');
  ids = await clientIdentities(dir);
  echo = await startEchoApp();
  serve = await startServeProcess(join(dir, 'data'), ['--workers', '1', '--access-log', logFile], 'pipe');
  serve.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  ({ httpsPort, caFile } = serve);
  assert.match(serve.banner, new RegExp(`access log: +${logFile.replaceAll('/', '\\/')}`));
  await putServedApp(serve, 'logged', { targetPort: echo.port, clientCertificateMode: 'require' });
});

after(async () => {
  await serve?.kill();
  await echo?.close();
  rmSync(dir, { recursive: true, force: true });
});

function lines(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function waitForLine(file: string, accept: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
    const found = lines(file).find(accept);
    if (found) return found;
  }
  assert.fail(`no such line in ${file}: ${readFileSync(file, 'utf8')}`);
}

test('a request with a client certificate: one line, field by field', async () => {
  const result = curlResult(await curl({ host: HOST, port: httpsPort, caFile, cert: ids.leaf.certFile, key: ids.leaf.keyFile, path: '/hello/world?token=secret', http: '1.1', tls: '1.3' }));
  assert.equal(result.status, 200);
  const seen = echo.received.at(-1)!;
  const line = await waitForLine(logFile, (entry) => entry['msg'] === 'request' && entry['path'] === '/hello/world');
  const leaf = new X509Certificate(readFileSync(ids.leaf.certFile));
  assert.match(String(line['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(line['requestId'], seen.headers['x-request-id']);
  // A trace started beside the request id: the app can join it.
  assert.match(String(seen.headers['traceparent']), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(line['traceId'], String(seen.headers['traceparent']).slice(3, 35));
  assert.equal(line['app'], 'rg/logged');
  assert.equal(line['method'], 'GET');
  assert.equal(line['path'], '/hello/world', 'the query is left out by default');
  assert.equal(line['status'], 200);
  assert.equal(line['bytes'], Buffer.byteLength(result.body));
  assert.equal(typeof line['durationMs'], 'number');
  assert.equal(typeof line['upstreamMs'], 'number');
  assert.ok((line['upstreamMs'] as number) <= (line['durationMs'] as number));
  assert.equal(line['protocol'], 'HTTP/1.1');
  assert.equal(line['tlsVersion'], 'TLSv1.3');
  assert.equal(line['resumed'], false);
  assert.equal(line['clientAddress'], '127.0.0.1');
  assert.equal(line['servername'], HOST);
  assert.equal(line['certThumbprint'], leaf.fingerprint256.replaceAll(':', '').toLowerCase());
  assert.equal(line['certSubject'], leaf.subject.split('\n').join(', '));
  assert.equal(line['certSerial'], leaf.serialNumber.toLowerCase());
  assert.equal(line['verdict'], 'UNVERIFIED');
  assert.equal(line['reason'], '');
  assert.ok(!JSON.stringify(line).includes('secret'), 'the query never reaches the log');
});

test('a handshake refused for want of a certificate: a refusal line with the reason code and the same fields', async () => {
  const refused = await curl({ host: HOST, port: httpsPort, caFile });
  assert.notEqual(refused.code, 0);
  const line = await waitForLine(logFile, (entry) => entry['msg'] === 'refused' && entry['reason'] === 'cert_missing');
  assert.equal(line['app'], 'rg/logged');
  assert.equal(line['servername'], HOST);
  assert.equal(line['clientAddress'], '127.0.0.1');
  assert.equal(line['verdict'], 'NONE');
  assert.match(String(line['cause']), /^ERR_SSL_/);
});

test('SIGHUP: after logrotate moved the file, lines go to a new file at the same path', async () => {
  const rotated = `${logFile}.1`;
  renameSync(logFile, rotated);
  serve.child.kill('SIGHUP');
  // The reopen is asynchronous: requests until one lands in the new file.
  let landed = false;
  for (let i = 0; i < 20 && !landed; i++) {
    assert.equal(curlResult(await curl({ host: HOST, port: httpsPort, caFile, cert: ids.leaf.certFile, key: ids.leaf.keyFile, path: `/after-${i}` })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    landed = lines(logFile).some((entry) => String(entry['path']).startsWith('/after-'));
  }
  assert.ok(landed, 'a line in the reopened file');
  assert.equal(serve.child.exitCode, null, 'SIGHUP does not stop the gateway');
  assert.ok(lines(rotated).some((entry) => entry['path'] === '/hello/world'), 'the old lines stay in the rotated file');
  // The human banner went to stderr; stdout has no banner text.
  assert.doesNotMatch(stdout, /certgate is running/);
});
