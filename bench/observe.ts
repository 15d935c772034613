// The cost of observing (issue 14), certgate alone on this machine:
//   node bench/observe.ts [--seconds=N] [--rounds=N] [--connections=N] [--certs=N] [--instructions=auto|perf|callgrind|off]
//     [--instruction-rounds=N] [--counted-requests=N] [--warm-up-requests=N] [--keep-dumps=DIR] [--no-pin] [--client=wrk|undici]
// 1. Keep-alive HTTP/1.1 CPU per request with metrics and the access log on (to a file) against
//    both off (--no-metrics --access-log off), two `certgate serve --workers 1` side by side in the
//    same run, measured in alternating rounds (A B A B ...) from /proc/<pid>/stat.
// 2. The same rounds counted in user-space instructions per request, far less sensitive to what
//    else the machine runs: `perf stat -e instructions:u -p <pid>` around each round of part 1 where
//    the CPU's counters can be read; where they cannot (a VM without a PMU: perf says
//    `<not supported>`), two more instances run under valgrind's callgrind, instrumented only for
//    the rounds (`callgrind_control` zeroes the count before a round and dumps it after), on the
//    same connections throughout; reported also without V8's optimizing compilers, which at
//    callgrind's pace are still tiering code up. Callgrind runs certgate ~50x slower, so its
//    rounds give instructions only, never time.
// 3. A flood of N distinct client certificates (one connection each) against the "on" instance:
//    the inventory's write rate, sampled from certgate_inventory_rows_written_total every 200 ms,
//    against its bound (1,000 rows a second), and how many were dropped or written in the end.
// Prints a Markdown summary. Loopback only; nothing is installed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Pool } from 'undici';
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { NODE } from '../test/support/cli.ts';
import { putServedApp, startServeProcess, type ServeProcess } from '../test/support/serve-process.ts';
import { OPENSSL_CONFIG_PATH } from '../src/ingress/listener/openssl-config.ts';
import { dumpInstructions } from './lib/callgrind-dump.ts';
import { addHostsEntries } from './lib/system.ts';

const option = (name: string, fallback: number) => Number(process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const SECONDS = option('seconds', 5);
const ROUNDS = option('rounds', 2);
const CONNECTIONS = option('connections', 16);
const CERTS = option('certs', 10_000);
const HOST = 'bench.env1.certgate.localhost';
const CLK_TCK = 100;
const began = Date.now();
/** Progress on stderr (the summary is stdout's). */
const progress = (what: string) => process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(0)} s] ${what}\n`);
type Counter = 'perf' | 'callgrind' | 'off';
const INSTRUCTIONS = process.argv.find((arg) => arg.startsWith('--instructions='))?.slice('--instructions='.length) ?? 'auto';
/**
 * Under callgrind: rounds, requests per round, and uninstrumented warm-up requests before the
 * first. A round must hold several young-generation collections (one every few thousand
 * requests), or whether one falls into it decides its figure; V8 tiers the code up during the
 * first rounds.
 */
const INSTRUCTION_ROUNDS = option('instruction-rounds', Math.min(ROUNDS, 5));
const COUNTED_REQUESTS = option('counted-requests', 8000);
const WARM_UP_REQUESTS = option('warm-up-requests', 10_000);
/** --on-extra="--no-metrics" (say): more flags for the "on" instance, to price one part alone. */
const ON_EXTRA = (process.argv.find((arg) => arg.startsWith('--on-extra='))?.slice('--on-extra='.length) ?? '').split(' ').filter(Boolean);
/** --no-pin: leave scheduling to the kernel. */
const PINNED_CLIENT = !process.argv.includes('--no-pin') && os.cpus().length >= 2;
/** The CPU rounds' client: wrk (default, where installed) or undici (--client=undici). */
const CLIENT = (process.argv.find((arg) => arg.startsWith('--client='))?.slice('--client='.length) ?? (spawnSync('wrk', ['-v']).error ? 'undici' : 'wrk')) as 'wrk' | 'undici';
/** A folder to keep callgrind's dumps in (on.callgrind.<pid>.<n>, off...), for callgrind_annotate: made when missing. */
const KEEP_DUMPS = process.argv.find((arg) => arg.startsWith('--keep-dumps='))?.slice('--keep-dumps='.length);
if (KEEP_DUMPS !== undefined) mkdirSync(KEEP_DUMPS, { recursive: true });

/** Kernel CPU seconds of a process (its system time), to split a round's CPU into user and kernel. */
function systemSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[12]) / CLK_TCK;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Counts a process's user-space instructions from `start()` to the promise `stop()` returns. */
interface InstructionCount {
  start(): Promise<void>;
  /** `compiler`: of them, V8's optimizing compilers' (callgrind only). */
  stop(): Promise<{ all: number; compiler?: number }>;
}

/** Whether perf can read the CPU's instruction counter here (not in a VM without a PMU). */
function perfWorks(): boolean {
  const probe = spawnSync('perf', ['stat', '-x,', '-e', 'instructions:u', '--', 'true'], { encoding: 'utf8' });
  return probe.status === 0 && /^\d+,/m.test(probe.stderr);
}

function valgrindWorks(): boolean {
  return spawnSync('valgrind', ['--version']).status === 0 && spawnSync('callgrind_control', ['-h']).status === 0;
}

function pickCounter(): Counter {
  if (INSTRUCTIONS === 'perf' || INSTRUCTIONS === 'callgrind' || INSTRUCTIONS === 'off') return INSTRUCTIONS;
  return perfWorks() ? 'perf' : valgrindWorks() ? 'callgrind' : 'off';
}

/** `perf stat -e instructions:u -p <pid>`, from start() to stop() (SIGINT makes perf print its count). */
function perfCount(pid: number): InstructionCount {
  let perf: ReturnType<typeof spawn> | undefined;
  let output = '';
  return {
    async start() {
      perf = spawn('perf', ['stat', '-x,', '-e', 'instructions:u', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
      perf.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      // perf attaches within a few ms; give it time before the round starts.
      await new Promise((resolve) => setTimeout(resolve, 100));
    },
    async stop() {
      const exited = new Promise((resolve) => perf!.once('exit', resolve));
      perf!.kill('SIGINT');
      await exited;
      const count = /^(\d+),/m.exec(output);
      if (!count) throw new Error(`perf stat gave no instruction count: ${output}`);
      return { all: Number(count[1]) };
    },
  };
}

/** A process run under callgrind: its count zeroed before the round, dumped after (the dump's `totals:`). */
function callgrindCount(pid: number, dir: string, label: string): InstructionCount {
  const control = (option: string) => {
    const result = spawnSync('callgrind_control', [option, String(pid)], { encoding: 'utf8' });
    if (result.status !== 0 || !result.stdout.includes('OK')) throw new Error(`callgrind_control ${option} ${pid}: ${result.stdout}${result.stderr}`);
  };
  const dumps = () => readdirSync(dir).filter((name) => name.startsWith(`callgrind.${pid}.`));
  return {
    async start() {
      control('--zero');
    },
    async stop() {
      const before = new Set(dumps());
      control('--dump');
      const dump = dumps().find((name) => !before.has(name));
      if (dump === undefined) throw new Error(`callgrind wrote no dump for ${pid}`);
      const text = readFileSync(join(dir, dump), 'utf8');
      const totals = /^totals: (\d+)/m.exec(text);
      if (!totals) throw new Error(`no totals in ${dump}`);
      const counted = dumpInstructions(text);
      if (counted.all !== Number(totals[1])) throw new Error(`${dump}: the functions' costs add up to ${counted.all}, not the totals ${totals[1]}`);
      if (KEEP_DUMPS === undefined) rmSync(join(dir, dump));
      else renameSync(join(dir, dump), join(KEEP_DUMPS, `${label}.${dump}`));
      return counted;
    },
  };
}

interface Round {
  requests: number;
  cpuUsPerRequest: number;
  /** Of it, in the kernel (wrk rounds only). */
  systemUsPerRequest?: number;
  /** User-space instructions per request; undefined when not counted. */
  instructionsPerRequest: number | undefined;
  /** The same without V8's optimizing compilers (callgrind only): their work is tiering up, not serving. */
  outsideCompilerPerRequest: number | undefined;
}

/** A round lasts so many seconds (CPU time), or so many requests (callgrind's rounds, whose pace means nothing). */
type Until = { readonly seconds: number } | { readonly requests: number };

/** The client's connections to an instance, opened (one request each) before anything is measured. */
async function openPool(serve: ServeProcess): Promise<Pool> {
  // Under callgrind, 16 handshakes at once take longer than undici's 10 s connect timeout.
  const pool = new Pool(`https://127.0.0.1:${serve.httpsPort}`, { connections: CONNECTIONS, pipelining: 1, connect: { servername: HOST, ca: readFileSync(serve.caFile), timeout: 120_000 } });
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => (await pool.request({ path: '/', method: 'GET', headers: { host: HOST } })).body.dump()));
  return pool;
}

/** `pool`: connections kept across rounds (callgrind's); else a new pool, closed after the round. */
async function keepAliveRound(serve: ServeProcess, until: Until, count?: InstructionCount, kept?: Pool): Promise<Round> {
  const pool = kept ?? (await openPool(serve));
  const pid = serve.child.pid!;
  await count?.start();
  const deadline = 'seconds' in until ? Date.now() + until.seconds * 1000 : Number.POSITIVE_INFINITY;
  const limit = 'requests' in until ? until.requests : Number.POSITIVE_INFINITY;
  let started = 0;
  let requests = 0;
  const cpuBefore = cpuSeconds(pid);
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline && started++ < limit) {
        const response = await pool.request({ path: '/', method: 'GET', headers: { host: HOST } });
        await response.body.dump();
        if (response.statusCode === 200) requests++;
      }
    }),
  );
  const cpu = cpuSeconds(pid) - cpuBefore;
  const instructions = await count?.stop();
  if (kept === undefined) await pool.close();
  return {
    requests,
    cpuUsPerRequest: (cpu * 1e6) / requests,
    instructionsPerRequest: instructions === undefined ? undefined : instructions.all / requests,
    outsideCompilerPerRequest: instructions?.compiler === undefined ? undefined : (instructions.all - instructions.compiler) / requests,
  };
}

/**
 * A CPU round driven by wrk (C, one thread, on CPU 1 with the upstream) instead of undici: fast
 * enough that certgate, alone on CPU 0, is the bottleneck and busy throughout. Its CPU per request
 * is then its work per request, not also how often it waited for a slower client (with undici as
 * the client, rounds spread from 70 to 111 µs). wrk sends the URL's host as SNI: the bench's
 * name is put in /etc/hosts (127.0.0.1) for the run, as bench/run.ts does.
 */
async function wrkRound(serve: ServeProcess, seconds: number, count?: InstructionCount): Promise<Round> {
  const pid = serve.child.pid!;
  await count?.start();
  const cpuBefore = cpuSeconds(pid);
  const systemBefore = systemSeconds(pid);
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '-H', `Host: ${HOST}`, `https://${HOST}:${serve.httpsPort}/`];
  const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn(PINNED_CLIENT ? 'taskset' : 'wrk', PINNED_CLIENT ? ['-c', '1', 'wrk', ...args] : args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout }));
  });
  const cpu = cpuSeconds(pid) - cpuBefore;
  const system = systemSeconds(pid) - systemBefore;
  const instructions = await count?.stop();
  const requests = Number(/(\d+) requests in/.exec(result.stdout)?.[1] ?? 0);
  if (result.code !== 0 || requests === 0 || /Non-2xx|Socket errors/.test(result.stdout)) throw new Error(`wrk failed or got errors:\n${result.stdout}`);
  return { requests, cpuUsPerRequest: (cpu * 1e6) / requests, systemUsPerRequest: (system * 1e6) / requests, instructionsPerRequest: instructions === undefined ? undefined : instructions.all / requests, outsideCompilerPerRequest: undefined };
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

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
/** Round by round: this machine's speed drifts over tens of seconds, a pair of adjacent rounds shares it. */
const paired = (on: number[], off: number[]) => `${((median(on.map((value, i) => value / off[i]!)) - 1) * 100).toFixed(1)}%`;
const ratio = (on: number[], off: number[]) => `${((median(on) / median(off) - 1) * 100).toFixed(1)}%`;

/** The two instances being compared: metrics and the access log (to a file) on, and both off. */
async function startPair(dir: string, upstreamPort: number, instances: ServeProcess[], wrapper: readonly string[] = []): Promise<{ on: ServeProcess; off: ServeProcess }> {
  const [on, off] = await Promise.all([
    startServeProcess(join(dir, 'on'), ['--workers', '1', '--access-log', join(dir, 'access.log'), ...ON_EXTRA], 'ignore', wrapper),
    startServeProcess(join(dir, 'off'), ['--workers', '1', '--no-metrics', '--access-log', 'off'], 'ignore', wrapper),
  ]);
  instances.push(on!, off!);
  for (const serve of [on!, off!]) await putServedApp(serve, 'bench', { targetPort: upstreamPort, clientCertificateMode: 'accept' });
  return { on: on!, off: off! };
}

type Figures = Record<'on' | 'off', Round[]>;

/** Rounds A B A B ... (CPU time: one instance at a time, so that neither takes the other's core). */
async function alternate(pair: { on: ServeProcess; off: ServeProcess }, count?: (serve: ServeProcess) => InstructionCount): Promise<Figures> {
  const figures: Figures = { on: [], off: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of ['on', 'off'] as const) {
      const serve = pair[name];
      figures[name].push(CLIENT === 'wrk' ? await wrkRound(serve, SECONDS, count?.(serve)) : await keepAliveRound(serve, { seconds: SECONDS }, count?.(serve)));
    }
  }
  return figures;
}

/**
 * Instructions under callgrind: two more instances, run uninstrumented (valgrind's core only, a few
 * times slower than native) through start-up and warm-up, so that V8 has tiered up as natively;
 * then instrumented for the rounds. Node gets certgate's OpenSSL flag itself: the re-exec that adds
 * it (openssl-config.ts) would leave valgrind.
 */
async function callgrindFigures(dir: string, upstreamPort: number): Promise<Figures> {
  const instances: ServeProcess[] = [];
  try {
    const pair = await startPair(join(dir, 'valgrind'), upstreamPort, instances, [
      'valgrind',
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${join(dir, 'callgrind.%p')}`,
      `--log-file=${join(dir, 'valgrind.%p.log')}`,
      NODE,
      `--openssl-config=${OPENSSL_CONFIG_PATH}`,
      // V8's memory reducer runs full collections when the allocation rate per second of wall
      // time is low, which callgrind's slowdown fakes: rounds with one counted 2x (a loaded
      // production process allocates too fast to trigger it).
      '--no-memory-reducer',
      // V8 sizes the young generation by the allocation rate per millisecond too: at callgrind's
      // pace it stayed small in some instances (55 scavenges in a round of 8,000 requests where
      // another instance of the same code had 4), and that decided the figure. Natively, under
      // this load, it grows to 32 MiB semi-spaces (21 scavenges per 40,000 requests, with the
      // defaults and with this pinned alike): both instances get that from the start.
      '--min-semi-space-size=32',
      '--max-semi-space-size=32',
    ]);
    progress('callgrind instances started; warm-up');
    const both = (run: (serve: ServeProcess) => Promise<Round>) => Promise.all([run(pair.on), run(pair.off)]);
    // The same connections for the warm-up and every round: new ones each round (their handshakes,
    // new objects' shapes) kept V8 recompiling in the rounds.
    const pools = new Map(await Promise.all([pair.on, pair.off].map(async (serve) => [serve, await openPool(serve)] as const)));
    await both((serve) => keepAliveRound(serve, { requests: WARM_UP_REQUESTS }, undefined, pools.get(serve)));
    for (const serve of [pair.on, pair.off]) {
      const on = spawnSync('callgrind_control', ['--instr=on', String(serve.child.pid)], { encoding: 'utf8' });
      if (on.status !== 0) throw new Error(`callgrind_control --instr=on: ${on.stdout}${on.stderr}`);
    }
    progress('callgrind rounds');
    // Both instances at once: an instruction count does not depend on who else runs.
    const figures: Figures = { on: [], off: [] };
    for (let round = 0; round < INSTRUCTION_ROUNDS; round++) {
      const [on, off] = await both((serve) => keepAliveRound(serve, { requests: COUNTED_REQUESTS }, callgrindCount(serve.child.pid!, dir, serve === pair.on ? 'on' : 'off'), pools.get(serve)));
      figures.on.push(on);
      figures.off.push(off);
    }
    for (const pool of pools.values()) await pool.close();
    return figures;
  } finally {
    for (const serve of instances) await serve.kill();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-bench-observe-'));
  const upstream = http.createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const instances: ServeProcess[] = [];
  const counter = pickCounter();
  try {
    progress(`instructions counted by: ${counter}`);
    // Pinned (two CPUs or more): certgate on CPU 0, this process (client and upstream) on CPU 1, so
    // the instance measured has a core of its own and the client never takes its time.
    const pinned = PINNED_CLIENT;
    if (pinned) spawnSync('taskset', ['-a', '-pc', '1', String(process.pid)]);
    const pair = await startPair(dir, upstreamPort, instances, pinned ? ['taskset', '-c', '0', NODE] : []);
    progress(`CPU rounds${pinned ? ' (certgate pinned to CPU 0, the client to CPU 1)' : ''}`);
    const restoreHosts = CLIENT === 'wrk' ? addHostsEntries([HOST]) : () => {};
    // Warm-up (JIT, pools), not measured.
    for (const serve of [pair.on, pair.off]) await (CLIENT === 'wrk' ? wrkRound(serve, 2) : keepAliveRound(serve, { seconds: 1 }));
    const figures = await alternate(pair, counter === 'perf' ? (serve) => perfCount(serve.child.pid!) : undefined);
    restoreHosts();
    const counted = counter === 'callgrind' ? await callgrindFigures(dir, upstreamPort) : counter === 'perf' ? figures : undefined;
    progress('inventory flood');
    const cpu = (rounds: Round[]) => rounds.map((round) => round.cpuUsPerRequest);
    const instructions = (rounds: Round[]) => rounds.map((round) => round.instructionsPerRequest!);
    const pooled = (rounds: Round[], field: 'instructionsPerRequest' | 'outsideCompilerPerRequest') =>
      rounds.reduce((sum, round) => sum + round[field]! * round.requests, 0) / rounds.reduce((sum, round) => sum + round.requests, 0);
    const outside = (rounds: Round[]) => rounds.map((round) => round.outsideCompilerPerRequest!);
    const row = (values: number[], digits: number) => `${median(values).toFixed(digits)} | ${values.map((value) => value.toFixed(digits)).join(', ')}`;
    const lines = [
      `## Observability cost (${new Date().toISOString()}, ${os.cpus().length} CPUs, load ${os.loadavg().map((load) => load.toFixed(1)).join(' ')})`,
      '',
      `Keep-alive HTTP/1.1, ${CONNECTIONS} connections (${CLIENT === 'wrk' ? 'wrk' : 'undici, opened before each round'}), ${ROUNDS} rounds of ${SECONDS} s each, alternating${pinned ? ', certgate pinned to CPU 0 and the client to CPU 1' : ''}; certgate CPU per request (median):`,
      '',
      '| | CPU µs/request | rounds |',
      '|---|---|---|',
      `| metrics + access log on | ${row(cpu(figures.on), 1)} |`,
      `| both off | ${row(cpu(figures.off), 1)} |`,
      ...(figures.on[0]?.systemUsPerRequest === undefined ? [] : [`| of which in the kernel, on / off | ${median(figures.on.map((round) => round.systemUsPerRequest!)).toFixed(1)} / ${median(figures.off.map((round) => round.systemUsPerRequest!)).toFixed(1)} | |`]),
      `| on / off | ${ratio(cpu(figures.on), cpu(figures.off))} (medians); ${paired(cpu(figures.on), cpu(figures.off))} (median of each round's on over the off right after it) | target: ≤ 5% |`,
      '',
      ...(counted === undefined
        ? ['Instructions not counted (--instructions=off, or neither perf nor valgrind can count here).']
        : [
            counter === 'perf'
              ? 'User-space instructions per request (perf stat -e instructions:u, the same rounds):'
              : `User-space instructions per request (callgrind: two more instances, ${WARM_UP_REQUESTS} requests each uninstrumented, then ${INSTRUCTION_ROUNDS} rounds of ${COUNTED_REQUESTS} requests, both at once):`,
            '',
            '| | instructions/request | rounds |',
            '|---|---|---|',
            `| metrics + access log on | ${row(instructions(counted.on), 0)} |`,
            `| both off | ${row(instructions(counted.off), 0)} |`,
            `| on / off | ${ratio(instructions(counted.on), instructions(counted.off))} (medians); ${((pooled(counted.on, 'instructionsPerRequest') / pooled(counted.off, 'instructionsPerRequest') - 1) * 100).toFixed(1)}% (all rounds' instructions over all their requests) | |`,
            ...(counted.on[0]?.outsideCompilerPerRequest === undefined
              ? []
              : [
                  '',
                  "The same without V8's optimizing compilers (TurboFan, Maglev), still tiering code up at callgrind's pace:",
                  '',
                  '| | instructions/request | rounds |',
                  '|---|---|---|',
                  `| metrics + access log on | ${row(outside(counted.on), 0)} |`,
                  `| both off | ${row(outside(counted.off), 0)} |`,
                  `| on / off | ${ratio(outside(counted.on), outside(counted.off))} (medians); ${((pooled(counted.on, 'outsideCompilerPerRequest') / pooled(counted.off, 'outsideCompilerPerRequest') - 1) * 100).toFixed(1)}% (all rounds together) | |`,
                  // The first round is V8 still tiering up (its count is half as much again); the
                  // figure to read is the rest of the rounds together.
                  ...(counted.on.length > 1
                    ? [
                        `| on / off, rounds 2 to ${counted.on.length} together (tiered up) | ${((pooled(counted.on.slice(1), 'outsideCompilerPerRequest') / pooled(counted.off.slice(1), 'outsideCompilerPerRequest') - 1) * 100).toFixed(1)}% (${(pooled(counted.on.slice(1), 'outsideCompilerPerRequest') - pooled(counted.off.slice(1), 'outsideCompilerPerRequest')).toFixed(0)} more per request) | target: ≤ 5% |`,
                      ]
                    : []),
                ]),
          ]),
      '',
      '| inventory flood | |',
      '|---|---|',
      ...(await flood(pair.on, CERTS)),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const serve of instances) await serve.kill();
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
