// The observed path in one process (issue 14): what following a request costs the HTTP stage, from
// its record to its metrics and its access-log line, without the network around it:
//   node bench/observe-path.ts [--requests=N] [--samples=N]
// Per request, as http.ts, the sinks and proxy.ts do it: a RequestRecord (status, bytes, the time
// to the app's answer noted), then its end (`closed`), with the metrics only, and with the metrics
// and the access log (to /dev/null, through pino's destination). CPU time (user + system) per
// request, the median of the samples. Under callgrind (`valgrind --tool=callgrind node
// bench/observe-path.ts --requests=0` against `--requests=N`) the difference is instructions.
import { randomUUID } from 'node:crypto';
import type { ConnectionState } from '../src/ingress/listener/connection.ts';
import type { CompiledApp } from '../src/ingress/snapshot.ts';
import { AccessLog } from '../src/observe/access-log.ts';
import { IngressMetrics } from '../src/observe/metrics.ts';
import { IngressObserver } from '../src/observe/observer.ts';
import { RequestRecord } from '../src/observe/request-record.ts';

const option = (name: string, fallback: number) => Number(process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const REQUESTS = option('requests', 200_000);
const SAMPLES = option('samples', 5);

const app = { id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/bench', name: 'bench', key: '/subscriptions/s/resourcegroups/rg/providers/microsoft.app/containerapps/bench', mode: 'accept' } as unknown as CompiledApp;
const connection = {
  servername: 'bench.env1.certgate.localhost',
  route: undefined,
  clientCertificate: undefined,
  clientAddress: '192.0.2.10',
  proto: 'https',
  tlsVersion: 'TLSv1.3',
  resumed: false,
  verdict: { code: 'UNVERIFIED', thumbprint: 'ab'.repeat(32), subject: 'CN=partner', serial: '0123456789abcdef' },
} as unknown as ConnectionState;
const requestId = randomUUID();
const traceId = '0af7651916cd43dd8448eb211c80319c';

function run(observer: IngressObserver, requests: number): number {
  const before = process.cpuUsage();
  for (let i = 0; i < requests; i++) {
    const record = new RequestRecord(observer, connection, performance.now(), 'GET', '/orders/42?page=1', 'HTTP/1.1');
    record.app = app;
    record.requestId = requestId;
    record.traceId = traceId;
    record.upstreamStart = performance.now();
    record.upstreamMs = performance.now() - record.upstreamStart;
    record.status = 200;
    record.bytes += 3;
    record.closed(performance.now());
  }
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / Math.max(requests, 1);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const setups: [string, () => IngressObserver][] = [
  ['metrics only', () => new IngressObserver({ metrics: new IngressMetrics() })],
  ['metrics + access log (/dev/null)', () => new IngressObserver({ metrics: new IngressMetrics(), accessLog: AccessLog.create({ destination: '/dev/null' }) })],
];
const lines = [`| observed path, ${REQUESTS} requests × ${SAMPLES} | CPU ns/request (median) | samples |`, '|---|---|---|'];
for (const [name, setup] of setups) {
  const observer = setup();
  run(observer, Math.min(REQUESTS, 20_000)); // warm-up
  const samples = Array.from({ length: SAMPLES }, () => run(observer, REQUESTS));
  lines.push(`| ${name} | ${median(samples).toFixed(0)} | ${samples.map((value) => value.toFixed(0)).join(', ')} |`);
  observer.accessLog?.flush();
}
process.stdout.write(`${lines.join('\n')}\n`);
