// The observed path in one process (issue 14): what following a request costs the HTTP stage, from
// its record to its metrics and its access-log line, without the network around it:
//   node bench/observe-path.ts [--requests=N] [--samples=N]
// Per request, as http.ts, the sinks and proxy.ts do it: a RequestRecord (status, bytes, the time
// to the app's answer noted), then its end (`closed`), with the metrics only, and with the metrics
// and the access log (to /dev/null, through pino's destination). CPU time (user + system) per
// request, the median of the samples. Instructions instead, with the metrics and the access log's
// lines made but handed to no destination (sonic-boom's share depends on timing):
//   valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=DIR/callgrind.%p \
//     node --no-memory-reducer bench/observe-path.ts --callgrind=DIR [--requests=300000]
// (50,000 requests uninstrumented first; then the count of N, read from callgrind's dump in DIR:
// enough of them that the fixed cost of the window, a child process to dump it, is spread thin).
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ConnectionState } from '../src/ingress/listener/connection.ts';
import type { CompiledApp } from '../src/ingress/snapshot.ts';
import { AccessLog } from '../src/observe/access-log.ts';
import { IngressMetrics } from '../src/observe/metrics.ts';
import { IngressObserver } from '../src/observe/observer.ts';
import { RequestRecord } from '../src/observe/request-record.ts';
import { dumpInstructions } from './lib/callgrind-dump.ts';

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
// As the HTTP stage has them: each request's id a new randomUUID() (a rope of its hex pieces), the
// trace id a slice of a traceparent. Made before, so that only observing is counted.
const REQUEST_IDS = Array.from({ length: 1024 }, () => randomUUID());
const TRACE_IDS = REQUEST_IDS.map((id) => `00-${id.replaceAll('-', '')}-b7ad6b7169203331-01`.slice(3, 35));
let next = 0;

/** One request as the HTTP stage follows it: its own function, so V8 optimizes it apart from the loop. */
function oneRequest(observer: IngressObserver): void {
  const record = new RequestRecord(observer, connection, performance.now(), 'GET', '/orders/42?page=1', 'HTTP/1.1');
  record.app = app;
  const at = next++ & 1023;
  record.requestId = REQUEST_IDS[at]!;
  record.traceId = TRACE_IDS[at]!;
  // The app's time comes from the pool, from clock readings it makes anyway (ExchangeHandler.onHead).
  record.forwarded = true;
  record.upstreamMs = (at & 255) / 100;
  record.status = 200;
  record.bytes += 3;
  record.closed(performance.now());
}

function run(observer: IngressObserver, requests: number): number {
  const before = process.cpuUsage();
  for (let i = 0; i < requests; i++) oneRequest(observer);
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / Math.max(requests, 1);
}

/** Under callgrind: this process's own count, switched on, zeroed and dumped around `requests` requests. */
async function callgrind(dumps: string, requests: number): Promise<void> {
  // Lines go nowhere: what sonic-boom does with a chunk depends on whether its last write is done
  // (timing), and would make the count vary from run to run by more than what is measured.
  const observer = new IngressObserver({ metrics: new IngressMetrics(), accessLog: AccessLog.create({ destination: 'nowhere' }, { write() {} }) });
  run(observer, 50_000);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 600)); // the chunks written
  await settle();
  const control = (option: string) => {
    const result = spawnSync('callgrind_control', [option, String(process.pid)], { encoding: 'utf8' });
    if (!result.stdout.includes('OK')) throw new Error(`callgrind_control ${option}: ${result.stdout}${result.stderr}`);
  };
  control('--instr=on');
  control('--zero');
  run(observer, requests);
  await settle();
  control('--dump');
  const dump = readdirSync(dumps).find((name) => name.startsWith(`callgrind.${process.pid}.`));
  if (dump === undefined) throw new Error(`no callgrind.${process.pid}.* in ${dumps}`);
  const counted = dumpInstructions(readFileSync(join(dumps, dump), 'utf8'));
  process.stdout.write(`| observed path (metrics + access-log lines, handed to no destination), ${requests} requests under callgrind | ${(counted.all / requests).toFixed(0)} instructions/request (${((counted.all - counted.compiler) / requests).toFixed(0)} outside V8's compilers) |\n`);
}

const dumps = process.argv.find((arg) => arg.startsWith('--callgrind='))?.slice('--callgrind='.length);
if (dumps !== undefined) {
  await callgrind(dumps, option('requests', 300_000));
  process.exit(0);
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
