// A real Prometheus (the Debian package) scrapes the admin listener of `certgate serve --workers 2`:
// one scrape sees both workers' metrics, and a PromQL query through Prometheus's HTTP API sees the
// handshakes a `require` app refused for want of a client certificate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { armClient, type ArmClient } from './support/arm.ts';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { curl, curlResult } from './support/clients.ts';
import { clientIdentities } from './support/vectors.ts';
import { MAIN, NODE, serveBanner } from './support/cli.ts';
import { freePorts } from './support/ports.ts';
import type { AdminCredentials } from '../src/control/control-plane.ts';

const V = 'api-version=2025-01-01';
const PROMETHEUS = '/usr/bin/prometheus';
const HOST = 'strict.env1.certgate.localhost';
const REFUSED = 5;
let dir: string;
let serve: ChildProcess;
let prometheus: ChildProcess | undefined;
let promPort: number;
let adminPort: number;
let httpsPort: number;
let caFile: string;
let arm: ArmClient;
let echo: EchoApp;
let ids: Awaited<ReturnType<typeof clientIdentities>>;
let prometheusLog = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-prometheus-'));
  ids = await clientIdentities(dir);
  echo = await startEchoApp();
  const dataDir = join(dir, 'data');
  serve = spawn(NODE, [MAIN, 'serve', '--data-dir', dataDir, '--https-port', '0', '--http-port', '0', '--management-port', '0', '--admin-port', '0', '--workers', '2', '--log-level', 'warn', '--access-log', 'off'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const banner = await serveBanner(serve);
  httpsPort = Number(/HTTPS ingress: +https:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
  adminPort = Number(/admin: +http:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
  const credentials = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')) as AdminCredentials;
  caFile = credentials.caCertificate;
  arm = await armClient(credentials, readFileSync(caFile, 'utf8'));
  const group = `/subscriptions/${credentials.subscriptionId}/resourceGroups/rg`;
  await arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' });
  const env = await arm.call('PUT', `${group}/providers/Microsoft.App/managedEnvironments/env1?${V}`, { location: 'local', properties: {} });
  const app = await arm.call('PUT', `${group}/providers/Microsoft.App/containerApps/strict?${V}`, {
    location: 'local',
    properties: { managedEnvironmentId: env.json.id, configuration: { ingress: { targetPort: echo.port, clientCertificateMode: 'require' } } },
  });
  assert.equal(app.status, 201, app.text);

  promPort = (await freePorts(1))[0]!;
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: certgate\n    static_configs:\n      - targets: ['127.0.0.1:${adminPort}']\n`);
  prometheus = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  prometheus.stderr!.on('data', (chunk: Buffer) => (prometheusLog = (prometheusLog + chunk.toString()).slice(-8_000)));
});

after(async () => {
  await arm?.close();
  for (const child of [prometheus, serve]) {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
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
  const refused = await Promise.all(Array.from({ length: REFUSED }, () => curl({ host: HOST, port: httpsPort, caFile })));
  for (const result of refused) assert.notEqual(result.code, 0, 'curl without a certificate must fail');
  const served = curlResult(await curl({ host: HOST, port: httpsPort, caFile, cert: ids.leaf.certFile, key: ids.leaf.keyFile }));
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
  const health = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
  assert.equal(health.status, 200);
  const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
  assert.equal(ready.status, 200);
  const body = (await ready.json()) as { ready: boolean; checks: Record<string, boolean> };
  assert.deepEqual(body.checks, { listening: true, snapshot: true, store: true });
  assert.equal((await fetch(`http://127.0.0.1:${adminPort}/other`)).status, 404);
  // The ingress's port does not serve metrics: an unknown name gets the fallback, and no app.
  const onIngress = curlResult(await curl({ host: 'localhost', port: httpsPort, path: '/metrics', extra: ['-k'] }));
  assert.equal(onIngress.status, 404);
});
