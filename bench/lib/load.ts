// Load generators: wrk (HTTP/1.1 keep-alive, fixed rate, resumed handshakes), h2load (HTTP/2), ab
// (full handshakes), openssl s_time (one handshake at a time). wrk and h2load cannot send a client
// certificate, and s_time sends no SNI: an LD_PRELOAD shim (bench/clientcert-preload.c) adds them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchPki } from './pki.ts';
import { run, runMeasured, round, type RunResult } from './system.ts';

export interface LoadContext {
  readonly pki: BenchPki;
  readonly dir: string;
  readonly preload: string;
  readonly host: string;
  readonly port: number;
  /** CPUs of the load generator. */
  readonly cpus: string | undefined;
}

export interface LoadResult {
  /** Completed requests (or connections) per second over the run. */
  rate: number;
  count: number;
  errors: number;
  seconds: number;
  /** The load generator's own CPU use, percent of one core. */
  generatorCpuPercent: number;
  latencyMs?: { p50?: number; p99?: number; p999?: number; mean?: number; max?: number };
  notes?: string[];
}

export async function buildPreload(source: string, dir: string): Promise<string> {
  const out = join(dir, 'clientcert-preload.so');
  const result = await run('cc', ['-shared', '-fPIC', '-O2', '-o', out, source, '-ldl'], { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`building the client-certificate shim failed: ${result.stderr}`);
  return out;
}

function preloadEnv(context: LoadContext, sni?: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LD_PRELOAD: context.preload,
    BENCH_CLIENT_CERT: context.pki.clientCert,
    BENCH_CLIENT_KEY: context.pki.clientKey,
    ...(sni ? { BENCH_SNI: sni } : {}),
  };
}

const url = (context: LoadContext) => `https://${context.host}:${context.port}/`;

function fail(what: string, result: RunResult): never {
  throw new Error(`${what} failed (exit ${result.code}${result.timedOut ? ', timed out' : ''}): ${(result.stderr || result.stdout).slice(-1500)}`);
}

// wrk writes its summary as one JSON line from Lua's done().
const WRK_REPORT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"duration_us":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%f,"p99":%f,"p999":%f,"mean":%f,"max":%f}\\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.mean, latency.max))
end
`;

/**
 * A fixed request rate for one wrk thread: every request takes the next slot of a schedule spaced
 * 1/rate apart, and waits for it (wrk's delay() has millisecond resolution, so requests leave in
 * 1 ms batches at the set average rate). wrk times each request from when it is written.
 */
function pacedScript(rate: number): string {
  return `
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local spacing = 1000 / ${rate}
local slot = nil
delay = function()
  local now = now_ms()
  if slot == nil or slot < now - 50 then slot = now end
  local wait = slot - now
  slot = slot + spacing
  if wait < 0 then return 0 end
  return wait
end
${WRK_REPORT}`;
}

interface WrkOptions {
  connections: number;
  seconds: number;
  /** Requests per second; undefined: as fast as possible. */
  rate?: number;
  /** Connection: close on every request (a new TLS connection each time, resumed by wrk). */
  close?: boolean;
}

export async function wrk(context: LoadContext, options: WrkOptions): Promise<LoadResult> {
  const script = join(context.dir, options.rate ? `wrk-paced-${options.rate}.lua` : 'wrk-report.lua');
  writeFileSync(script, options.rate ? pacedScript(options.rate) : WRK_REPORT);
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--timeout', '10s', '-s', script];
  if (options.close) args.push('-H', 'Connection: close');
  args.push(url(context));
  const result = await runMeasured(context.cpus, 'wrk', args, { env: preloadEnv(context), timeoutMs: (options.seconds + 30) * 1000 });
  const line = /BENCHJSON (.*)/.exec(result.stdout)?.[1];
  if (result.code !== 0 || !line) fail('wrk', result);
  const data = JSON.parse(line) as Record<string, number>;
  const seconds = data['duration_us']! / 1e6;
  const errors = data['connect']! + data['read']! + data['write']! + data['status']! + data['timeout']!;
  return {
    rate: round(data['requests']! / seconds, 1),
    count: data['requests']!,
    errors,
    seconds: round(seconds, 2),
    generatorCpuPercent: round((result.cpuSeconds / result.wallSeconds) * 100, 1),
    latencyMs: {
      p50: round(data['p50']! / 1000, 3),
      p99: round(data['p99']! / 1000, 3),
      p999: round(data['p999']! / 1000, 3),
      mean: round(data['mean']! / 1000, 3),
      max: round(data['max']! / 1000, 3),
    },
    notes: errors > 0 ? [`errors: connect ${data['connect']}, read ${data['read']}, write ${data['write']}, non-2xx/3xx ${data['status']}, timeout ${data['timeout']}`] : [],
  };
}

export async function h2load(context: LoadContext, options: { clients: number; streams: number; seconds: number }): Promise<LoadResult> {
  const args = ['-t1', `-c${options.clients}`, `-m${options.streams}`, '-D', String(options.seconds), url(context)];
  const result = await runMeasured(context.cpus, 'h2load', args, { env: preloadEnv(context), timeoutMs: (options.seconds + 30) * 1000 });
  const out = result.stdout;
  const finished = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(out);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  if (!finished || !requests) fail('h2load', result);
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const protocol = /Application protocol: (\S+)/.exec(out)?.[1];
  const timing = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(out);
  const ms = (value: string, unit: string) => Number(value) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  const seconds = Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1);
  const succeeded = Number(requests[4]);
  const bad = Number(requests[5]) + Number(requests[6]) + Number(requests[7]) + (status ? Number(status[3]) + Number(status[4]) : 0);
  const notes: string[] = [];
  if (protocol !== 'h2') notes.push(`application protocol ${protocol ?? 'unknown'}, not h2`);
  if (bad > 0) notes.push(`failed/errored/timeout/4xx/5xx: ${bad}`);
  return {
    rate: round(succeeded / seconds, 1),
    count: succeeded,
    errors: bad,
    seconds: round(seconds, 2),
    generatorCpuPercent: round((result.cpuSeconds / result.wallSeconds) * 100, 1),
    latencyMs: timing ? { mean: round(ms(timing[5]!, timing[6]!), 3), max: round(ms(timing[3]!, timing[4]!), 3) } : undefined,
    notes,
  };
}

/** ab without -k: every request on a new connection with a full TLS handshake and the client certificate. */
export async function abHandshakes(context: LoadContext, options: { concurrency: number; seconds: number }): Promise<LoadResult & { tls: string }> {
  const args = ['-q', '-r', '-c', String(options.concurrency), '-t', String(options.seconds), '-n', '100000000', '-E', context.pki.clientCombined, url(context)];
  const result = await runMeasured(context.cpus, 'ab', args, { timeoutMs: (options.seconds + 60) * 1000 });
  const out = result.stdout;
  const complete = /Complete requests:\s+(\d+)/.exec(out);
  const taken = /Time taken for tests:\s+([\d.]+) seconds/.exec(out);
  if (!complete || !taken) fail('ab', result);
  const failed = Number(/Failed requests:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const percentile = (p: string) => {
    const match = new RegExp(`^\\s*${p}%\\s+(\\d+)`, 'm').exec(out);
    return match ? Number(match[1]) : undefined;
  };
  const count = Number(complete[1]);
  const seconds = Number(taken[1]);
  return {
    rate: round(count / seconds, 1),
    count,
    errors: failed + non2xx,
    seconds: round(seconds, 2),
    generatorCpuPercent: round((result.cpuSeconds / result.wallSeconds) * 100, 1),
    latencyMs: { p50: percentile('50'), p99: percentile('99') },
    tls: /SSL\/TLS Protocol:\s+(\S+)/.exec(out)?.[1] ?? 'unknown',
    notes: failed + non2xx > 0 ? [`failed ${failed}, non-2xx ${non2xx}`] : [],
  };
}

/** openssl s_time -new: one new connection at a time (so a latency, not a capacity). */
export async function sTime(context: LoadContext, seconds: number): Promise<LoadResult> {
  const args = ['s_time', '-connect', `127.0.0.1:${context.port}`, '-new', '-time', String(seconds), '-cert', context.pki.clientCert, '-key', context.pki.clientKey, '-www', '/'];
  const result = await runMeasured(context.cpus, 'openssl', args, { env: preloadEnv(context, context.host), timeoutMs: (seconds + 30) * 1000 });
  const match = /(\d+) connections in ([\d.]+)s; ([\d.]+) connections\/user sec/.exec(result.stdout);
  if (!match) fail('openssl s_time', result);
  const count = Number(match[1]);
  return {
    rate: round(count / seconds, 1),
    count,
    errors: 0,
    seconds,
    generatorCpuPercent: round((result.cpuSeconds / result.wallSeconds) * 100, 1),
    latencyMs: { mean: round((seconds * 1000) / Math.max(count, 1), 3) },
  };
}

/** Whether a second connection resumes the first one's TLS session (openssl s_client, TLS 1.3 tickets). */
export async function resumes(context: LoadContext): Promise<boolean> {
  const session = join(context.dir, `session-${context.port}.pem`);
  const request = `GET / HTTP/1.1\r\nHost: ${context.host}\r\nConnection: close\r\n\r\n`;
  const base = ['s_client', '-connect', `127.0.0.1:${context.port}`, '-servername', context.host, '-cert', context.pki.clientCert, '-key', context.pki.clientKey, '-ign_eof'];
  const first = await run('openssl', [...base, '-sess_out', session], { input: request, timeoutMs: 15_000 });
  if (first.code !== 0) return false;
  const second = await run('openssl', [...base, '-sess_in', session], { input: request, timeoutMs: 15_000 });
  return /^Reused, /m.test(second.stdout);
}
