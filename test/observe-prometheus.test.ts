// A real Prometheus (the Debian package) scrapes the admin listener of `certgate serve --workers 2`:
// one scrape sees both workers' metrics, and a PromQL query through Prometheus's HTTP API sees the
// handshakes a `require` app refused for want of a client certificate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { curl, curlResult } from './support/clients.ts';
import { clientIdentities } from './support/vectors.ts';
import { freePorts } from './support/ports.ts';
import { putServedApp, startServeProcess, type ServeProcess } from './support/serve-process.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const HOST = 'strict.env1.certgate.localhost';
const REFUSED = 5;
let dir: string;
let serve: ServeProcess;
let prometheus: ChildProcess | undefined;
let promPort: number;
let echo: EchoApp;
let ids: Awaited<ReturnType<typeof clientIdentities>>;
let prometheusLog = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-prometheus-'));
  ids = await clientIdentities(dir);
  echo = await startEchoApp();
  serve = await startServeProcess(join(dir, 'data'), ['--admin-port', '0', '--workers', '2', '--access-log', 'off']);
  await putServedApp(serve, 'strict', { targetPort: echo.port, clientCertificateMode: 'require' });
  promPort = (await freePorts(1))[0]!;
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: certgate\n    static_configs:\n      - targets: ['127.0.0.1:${serve.adminPort}']\n`);
  prometheus = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  prometheus.stderr!.on('data', (chunk: Buffer) => (prometheusLog = (prometheusLog + chunk.toString()).slice(-8_000)));
});

after(async () => {
  if (prometheus && prometheus.exitCode === null) {
    prometheus.kill('SIGKILL');
    await new Promise((resolve) => prometheus!.once('exit', resolve));
  }
  await serve?.kill();
  await echo?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An instant PromQL query through Prometheus's HTTP API. */
async function query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  assert.equal(body.status, 'success');
  return body.data.result;
}

/** Polls the query until `accept` holds (Prometheus scrapes every second), at most 30 s. */
async function eventually(promql: string, accept: (result: Awaited<ReturnType<typeof query>>) => boolean): Promise<Awaited<ReturnType<typeof query>>> {
  let last: Awaited<ReturnType<typeof query>> = [];
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 500))) {
    try {
      last = await query(promql);
      if (accept(last)) return last;
    } catch {
      // Prometheus not up yet.
    }
  }
  assert.fail(`${promql}: ${JSON.stringify(last)}\n${prometheusLog}`);
}

test('Prometheus sees the handshakes a require app refused without a client certificate, counted by both workers in one scrape', async () => {
  const refused = await Promise.all(Array.from({ length: REFUSED }, () => curl({ host: HOST, port: serve.httpsPort, caFile: serve.caFile })));
  for (const result of refused) assert.notEqual(result.code, 0, 'curl without a certificate must fail');
  const served = curlResult(await curl({ host: HOST, port: serve.httpsPort, caFile: serve.caFile, cert: ids.leaf.certFile, key: ids.leaf.keyFile }));
  assert.equal(served.status, 200);

  const promql = 'sum by (app, reason) (certgate_refusals_total{reason="cert_missing"})';
  const result = await eventually(promql, (rows) => rows.length === 1 && Number(rows[0]!.value[1]) >= REFUSED);
  // A text capture for the record (the closing note quotes it).
  console.log(`PromQL ${promql}\n${JSON.stringify(result)}`);
  assert.deepEqual(result[0]!.metric, { app: 'rg/strict', reason: 'cert_missing' });
  assert.equal(Number(result[0]!.value[1]), REFUSED);

  // One scrape: both workers answered the primary's collection.
  const workers = await eventually('certgate_ingress_workers', (rows) => rows.length === 1);
  assert.equal(Number(workers[0]!.value[1]), 2);
  const connections = await eventually('sum by (app, mode) (certgate_connections_total{app="rg/strict"})', (rows) => rows.length === 1);
  assert.deepEqual(connections[0]!.metric, { app: 'rg/strict', mode: 'require' });
  assert.equal(Number(connections[0]!.value[1]), 1);
  const requests = await eventually('certgate_requests_total{app="rg/strict"}', (rows) => rows.length === 1);
  assert.deepEqual({ method: requests[0]!.metric['method'], status_class: requests[0]!.metric['status_class'] }, { method: 'GET', status_class: '2xx' });
});

test('the admin listener: /healthz, /readyz (listening, snapshot, store), 404 elsewhere; never on the ingress port', async () => {
  const health = await fetch(`http://127.0.0.1:${serve.adminPort}/healthz`);
  assert.equal(health.status, 200);
  const ready = await fetch(`http://127.0.0.1:${serve.adminPort}/readyz`);
  assert.equal(ready.status, 200);
  const body = (await ready.json()) as { ready: boolean; checks: Record<string, boolean> };
  assert.deepEqual(body.checks, { listening: true, snapshot: true, store: true });
  assert.equal((await fetch(`http://127.0.0.1:${serve.adminPort}/other`)).status, 404);
  // The ingress's port does not serve metrics: an unknown name gets the fallback, and no app.
  const onIngress = curlResult(await curl({ host: 'localhost', port: serve.httpsPort, path: '/metrics', extra: ['-k'] }));
  assert.equal(onIngress.status, 404);
});
