// The cost of observing (issue 14), certgate alone on this machine:
//   node bench/observe.ts [--seconds=N] [--rounds=N] [--connections=N] [--certs=N]
// 1. Keep-alive HTTP/1.1 CPU per request with metrics and the access log on (to a file) against
//    both off (--no-metrics --access-log off), two `certgate serve --workers 1` side by side in the
//    same run, measured in alternating rounds (A B A B ...) from /proc/<pid>/stat.
// 2. A flood of N distinct client certificates (one connection each) against the "on" instance:
//    the inventory's write rate, sampled from certgate_inventory_rows_written_total every 200 ms,
//    against its bound (1,000 rows a second), and how many were dropped or written in the end.
// Prints a Markdown summary. Loopback only; nothing is installed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Pool } from 'undici';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { putServedApp, startServeProcess, type ServeProcess } from '../test/support/serve-process.ts';

const option = (name: string, fallback: number) => Number(process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const SECONDS = option('seconds', 5);
const ROUNDS = option('rounds', 2);
const CONNECTIONS = option('connections', 16);
const CERTS = option('certs', 10_000);
const HOST = 'bench.env1.certgate.localhost';
const CLK_TCK = 100;

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

async function keepAliveRound(serve: ServeProcess, seconds: number): Promise<{ requests: number; cpuUsPerRequest: number }> {
  const pool = new Pool(`https://127.0.0.1:${serve.httpsPort}`, { connections: CONNECTIONS, pipelining: 1, connect: { servername: HOST, ca: readFileSync(serve.caFile) } });
  const pid = serve.child.pid!;
  const deadline = Date.now() + seconds * 1000;
  let requests = 0;
  const cpuBefore = cpuSeconds(pid);
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) {
        const response = await pool.request({ path: '/', method: 'GET', headers: { host: HOST } });
        await response.body.dump();
        if (response.statusCode === 200) requests++;
      }
    }),
  );
  const cpu = cpuSeconds(pid) - cpuBefore;
  await pool.close();
  return { requests, cpuUsPerRequest: (cpu * 1e6) / requests };
}

async function rowsWritten(serve: ServeProcess): Promise<{ rows: number; dropped: number }> {
  const text = await (await fetch(`http://127.0.0.1:${serve.adminPort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { rows: value('certgate_inventory_rows_written_total'), dropped: value('certgate_inventory_dropped_total') };
}

async function flood(serve: ServeProcess, count: number): Promise<string[]> {
  const ca = await createCa({ commonName: 'Bench flood CA' });
  const started = Date.now();
  const identities: Awaited<ReturnType<typeof issueCertificate>>[] = [];
  for (let i = 0; i < count; i += 200) identities.push(...(await Promise.all(Array.from({ length: Math.min(200, count - i) }, (_, j) => issueCertificate({ issuer: ca, commonName: `flood-${i + j}`, kind: 'client', validityDays: 30 })))));
  const issuedMs = Date.now() - started;
  const serverCa = readFileSync(serve.caFile);
  const samples: { at: number; rows: number }[] = [];
  const sampler = setInterval(() => void rowsWritten(serve).then(({ rows }) => samples.push({ at: Date.now(), rows })), 200);
  const floodStart = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < identities.length) {
        const identity = identities[next++]!;
        await new Promise<void>((resolve) => {
          const socket = tls.connect({ host: '127.0.0.1', port: serve.httpsPort, servername: HOST, ca: serverCa, cert: identity.certPem, key: identity.keyPem }, () => socket.end());
          socket.on('close', () => resolve());
          socket.on('error', () => resolve());
        });
      }
    }),
  );
  const floodSeconds = (Date.now() - floodStart) / 1000;
  // Let the writer catch up (at most 1,000 rows a second).
  for (let waited = 0; waited < count / 1000 + 5; waited++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { rows, dropped } = await rowsWritten(serve);
    if (rows + dropped >= count + 1) break;
  }
  clearInterval(sampler);
  let maxRate = 0;
  for (let i = 0; i < samples.length; i++) {
    const later = samples.find((sample) => sample.at - samples[i]!.at >= 1000);
    if (later) maxRate = Math.max(maxRate, ((later.rows - samples[i]!.rows) * 1000) / (later.at - samples[i]!.at));
  }
  const final = await rowsWritten(serve);
  return [
    `| distinct certificates, one connection each | ${count} (issued in ${(issuedMs / 1000).toFixed(1)} s, connected in ${floodSeconds.toFixed(1)} s: ${(count / floodSeconds).toFixed(0)} handshakes/s) |`,
    `| highest inventory write rate over any 1 s window | ${maxRate.toFixed(0)} rows/s (bound: 1,000) |`,
    `| rows written / dropped at the end | ${final.rows} / ${final.dropped} |`,
  ];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-bench-observe-'));
  const upstream = http.createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const instances: ServeProcess[] = [];
  try {
    const on = await startServeProcess(join(dir, 'on'), ['--workers', '1', '--access-log', join(dir, 'access.log')]);
    instances.push(on);
    const off = await startServeProcess(join(dir, 'off'), ['--workers', '1', '--no-metrics', '--access-log', 'off']);
    instances.push(off);
    for (const serve of [on, off]) await putServedApp(serve, 'bench', { targetPort: upstreamPort, clientCertificateMode: 'accept' });
    // Warm-up (JIT, pools), not measured.
    for (const serve of [on, off]) await keepAliveRound(serve, 1);
    const figures: Record<'on' | 'off', number[]> = { on: [], off: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, serve] of [['on', on], ['off', off]] as const) figures[name].push((await keepAliveRound(serve, SECONDS)).cpuUsPerRequest);
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const lines = [
      `## Observability cost (${new Date().toISOString()}, ${os.cpus().length} CPUs, load ${os.loadavg().map((load) => load.toFixed(1)).join(' ')})`,
      '',
      `Keep-alive HTTP/1.1, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s each, alternating; certgate CPU per request (median):`,
      '',
      '| | CPU µs/request | rounds |',
      '|---|---|---|',
      `| metrics + access log on | ${median(figures.on).toFixed(1)} | ${figures.on.map((value) => value.toFixed(1)).join(', ')} |`,
      `| both off | ${median(figures.off).toFixed(1)} | ${figures.off.map((value) => value.toFixed(1)).join(', ')} |`,
      `| on / off | ${((median(figures.on) / median(figures.off) - 1) * 100).toFixed(1)}% | target: ≤ 5% |`,
      '',
      '| inventory flood | |',
      '|---|---|',
      ...(await flood(on, CERTS)),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const serve of instances) await serve.kill();
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
