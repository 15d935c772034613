// `npm run bench`: certgate against nginx, HAProxy and Caddy on this machine, side by side.
//
//   node bench/run.ts [--quick] [--rounds=N] [--seconds=N] [--idle=N] [--proxies=nginx,haproxy,caddy,certgate,node-floor]
//                     [--scenarios=...] [--no-certgate-alone] [--no-install] [--no-multicore] [--keep] [--out=DIR]
//   (--help lists every option)
//   node bench/run.ts --scenarios=attack --proxies=certgate --quick   (the "under attack" scenario alone)
//
// Installs what it lacks from Debian (nginx-light, haproxy, caddy, apache2-utils, wrk, nghttp2-client;
// a peer it cannot get is skipped and said so), makes one set of ECDSA P-256 certificates, starts one
// upstream (nginx, a fixed answer), and measures each proxy in turn (A B C D A B C D ...) with one
// worker pinned to CPU 0 while the load generator and the upstream share CPU 1. Then certgate alone:
// mode-change enforcement after a PATCH, PATCHes per second, and the XFCC library (bench/xfcc.ts).
// node-floor, measured alongside, is not a proxy: Node's HTTPS server answering by itself with
// certgate's TLS settings (bench/node-floor-server.ts), the floor under certgate.
// Writes bench/results/<UTC time>.json, .md and .svg. See docs/performance.md.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ATTACK_NAMES, renderUnderAttack, underAttack, type AttackFigures } from './lib/attack-scenario.ts';
import type { AttackName } from './lib/attacks.ts';
import { modeChangeLatency, patchRate, type ModeChangeResult, type PatchRateResult } from './lib/certgate-scenarios.ts';
import { abHandshakes, buildPreload, h2load, resumes, sTime, wrk, type LoadContext, type LoadResult } from './lib/load.ts';
import { makeBenchPki, type BenchPki } from './lib/pki.ts';
import { ALL_DEFINITIONS, APP_HOST, BENCH_HOSTS, certgateSupportsWorkers, portIsFree, startUpstream, type CertgateApi, type ProxyDefinition, type RunningProxy } from './lib/proxies.ts';
import { formatNumber, spread, summarize, type ProxyRound, type ScenarioResult } from './lib/report.ts';
import { evaluateTargets, renderReport, type CertgateAlone } from './lib/render.ts';
import { repoRelativePaths } from './lib/paths.ts';
import {
  addHostsEntries, aptInstall, initClockTicks, killAllServices, loadAverage, machineCpu, machineFacts, round, run, sleep, treeCpuSeconds, treeMemory, which, type Service,
} from './lib/system.ts';

// ---------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string): string | undefined => argv.find((value) => value.startsWith(`--${name}=`))?.slice(name.length + 3);
if (flag('help')) {
  process.stdout.write(`${readHeader()}\n`);
  process.exit(0);
}
const quick = flag('quick');
const settings = {
  quick,
  rounds: Number(option('rounds') ?? (quick ? 1 : 3)),
  seconds: Number(option('seconds') ?? (quick ? 3 : 10)),
  idleConnections: Number(option('idle') ?? (quick ? 500 : 2000)),
  modeChanges: Number(option('changes') ?? (quick ? 20 : 100)),
  patchSeconds: quick ? 2 : 5,
  xfccSeconds: quick ? 0.3 : 1,
  keepAliveConnections: 32,
  h2Clients: 4,
  h2Streams: 32,
  handshakeConcurrency: 16,
  fixedRateConnections: 32,
  install: !flag('no-install'),
  multicore: !flag('no-multicore'),
  keep: flag('keep'),
  proxies: (option('proxies') ?? ALL_DEFINITIONS.map((proxy) => proxy.name).join(',')).split(',').filter(Boolean),
  out: option('out') ?? new URL('./results/', import.meta.url).pathname,
  basePort: Number(option('port') ?? 18400),
  scenarios: (option('scenarios') ?? 'memory,h1,h2,fixed,fixedOwn,handshakes,resumed,stime,attack').split(','),
  certgateAlone: !flag('no-certgate-alone'),
  // The "under attack" scenario (certgate only): per attack, a quiet figure, the attack, then the window after it.
  attack: {
    attacks: (option('attacks') ?? ATTACK_NAMES.join(',')).split(',').filter(Boolean) as AttackName[],
    quietSeconds: quick ? 3 : 10,
    attackSeconds: Number(option('attack-seconds') ?? (quick ? 5 : 20)),
    afterSeconds: quick ? 10 : 30,
  },
};
/** Only the "under attack" scenario asked for: no proxy rounds, no certgate-alone or all-cores figures. */
const attackOnly = settings.scenarios.every((scenario) => scenario === 'attack');

function readHeader(): string {
  return [
    'usage: node bench/run.ts [--quick] [--rounds=N] [--seconds=N] [--idle=N] [--changes=N] [--proxies=a,b]',
    '                         [--scenarios=memory,h1,h2,fixed,fixedOwn,handshakes,resumed,stime,attack] [--no-certgate-alone]',
    '                         [--attacks=h2-stream-flood,h2-rapid-reset,slow-uploads,slow-headers] [--attack-seconds=N]',
    '                         [--no-install] [--no-multicore] [--keep] [--out=DIR] [--port=N]',
  ].join('\n');
}

const started = new Date();
const log = (line: string) => process.stderr.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);

// ---------------------------------------------------------------------------------------------
// Tools

const LOAD_TOOLS: Record<string, string> = { wrk: 'wrk', h2load: 'nghttp2-client', ab: 'apache2-utils', taskset: 'util-linux', cc: 'gcc', openssl: 'openssl', curl: 'curl' };

async function ensureTools(definitions: readonly ProxyDefinition[]): Promise<{ skipped: Record<string, string>; installed: string[] }> {
  const wanted = new Map<string, string>();
  // The upstream is nginx too.
  for (const [command, pkg] of Object.entries({ ...LOAD_TOOLS, nginx: 'nginx-light' })) wanted.set(command, pkg);
  for (const definition of definitions) for (const [command, pkg] of Object.entries(definition.needs)) wanted.set(command, pkg);
  const missing = new Map<string, string>();
  for (const [command, pkg] of wanted) if (!(await which(command))) missing.set(command, pkg);
  const packages = [...new Set(missing.values())];
  const skipped: Record<string, string> = {};
  if (packages.length > 0) {
    if (!settings.install) {
      log(`missing (not installing, --no-install): ${[...missing.keys()].join(', ')}`);
    } else {
      const failed = await aptInstall(packages, log);
      for (const [pkg, why] of failed) log(`could not install ${pkg}: ${why}`);
    }
  }
  for (const [command, pkg] of wanted) {
    if (await which(command)) continue;
    const users = definitions.filter((definition) => command in definition.needs).map((definition) => definition.name);
    if (users.length > 0) {
      for (const user of users) skipped[user] = `${command} (Debian package ${pkg}) is not available`;
      log(`skipping ${users.join(', ')}: ${command} (${pkg}) is not available`);
    } else {
      throw new Error(`${command} (Debian package ${pkg}) is needed and not available`);
    }
  }
  return { skipped, installed: packages };
}

async function toolVersions(definitions: readonly ProxyDefinition[]): Promise<Record<string, string>> {
  const versions: Record<string, string> = { node: process.version };
  for (const definition of definitions) versions[definition.name] = await definition.version().catch((error: Error) => `unknown (${error.message})`);
  const first = async (command: string, args: string[], pattern: RegExp) => {
    const result = await run(command, args).catch(() => undefined);
    const text = `${result?.stdout ?? ''}${result?.stderr ?? ''}`;
    return pattern.exec(text)?.[1] ?? text.split('\n')[0]?.trim() ?? 'unknown';
  };
  versions['wrk'] = await first('wrk', ['-v'], /wrk (\S+)/);
  versions['h2load'] = await first('h2load', ['--version'], /h2load (\S+)/);
  versions['ab'] = await first('ab', ['-V'], /(Version \S+)/);
  versions['openssl'] = await first('openssl', ['version'], /(OpenSSL \S+)/);
  versions['nodeOpenssl'] = process.versions.openssl ?? 'unknown';
  versions['upstream'] = `nginx ${await first('nginx', ['-v'], /nginx\/(\S+)/)}`;
  return versions;
}

// ---------------------------------------------------------------------------------------------
// One scenario: the proxy's CPU counters around a load generator run.

interface Pids {
  proxy: number;
  upstream: number;
}

async function measured<T extends LoadResult>(pids: Pids, perUnit: (result: T) => number, load: () => Promise<T>): Promise<T & ScenarioResult & { otherCpuPercent: number }> {
  const cpuBefore = treeCpuSeconds(pids.proxy);
  const upstreamBefore = treeCpuSeconds(pids.upstream);
  const machineBefore = machineCpu();
  const selfBefore = process.cpuUsage();
  const wallStart = performance.now();
  const result = await load();
  const wall = (performance.now() - wallStart) / 1000;
  const proxyCpuSeconds = treeCpuSeconds(pids.proxy) - cpuBefore;
  const upstreamCpu = treeCpuSeconds(pids.upstream) - upstreamBefore;
  const machineAfter = machineCpu();
  const self = process.cpuUsage(selfBefore);
  // Everything else the machine did meanwhile (another user's tests, say), in % of one core.
  const ticksPerSecond = (machineAfter.total - machineBefore.total) / wall / os.cpus().length;
  const machineBusy = (machineAfter.busy - machineBefore.busy) / ticksPerSecond;
  const ours = proxyCpuSeconds + upstreamCpu + (result.generatorCpuPercent / 100) * wall + (self.user + self.system) / 1e6;
  const units = perUnit(result);
  return {
    ...result,
    proxyCpuSeconds: round(proxyCpuSeconds, 3),
    proxyCpuPercent: round((proxyCpuSeconds / wall) * 100, 1),
    cpuPerUnitUs: round((proxyCpuSeconds * 1e6) / Math.max(units, 1), 1),
    otherCpuPercent: round(Math.max(0, ((machineBusy - ours) / wall) * 100), 1),
  };
}

async function verifyProxy(pki: BenchPki, port: number): Promise<void> {
  const result = await run('curl', ['-sS', '-o', '/dev/null', '-D', '-', '--max-time', '10', '--cacert', pki.caCert, '--cert', pki.clientCert, '--key', pki.clientKey, `https://${APP_HOST}:${port}/`]);
  if (!/^HTTP\/\S+ 200/m.test(result.stdout)) throw new Error(`a request through the proxy did not get 200: ${result.stdout || result.stderr}`);
  if (!/^x-xfcc: yes/im.test(result.stdout)) throw new Error('the upstream did not receive the client certificate header');
}

async function holdIdleConnections(pki: BenchPki, port: number, count: number, loadCpus: string | undefined): Promise<{ open: number; failed: number; lastError: string; seconds: number; release: () => Promise<void> }> {
  const script = new URL('./idle-connections.ts', import.meta.url).pathname;
  const args = [script, `--host=${APP_HOST}`, `--port=${port}`, `--cert=${pki.clientCert}`, `--key=${pki.clientKey}`, `--count=${count}`, '--parallel=50', '--hold=180'];
  const [command, fullArgs] = loadCpus === undefined ? [process.execPath, args] : ['taskset', ['-c', loadCpus, process.execPath, ...args]];
  const child = spawn(command, fullArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('idle connections: not all open after 150 s'));
    }, 150_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.split('\n')[0]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`idle connections exited (${code}): ${stderr.slice(-500)}`));
    });
  });
  const state = JSON.parse(line) as { open: number; failed: number; lastError: string; seconds: number };
  return {
    ...state,
    async release() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

interface SlotOptions {
  definition: ProxyDefinition;
  round: number;
  pki: BenchPki;
  dir: string;
  port: number;
  upstream: Service;
  upstreamPort: number;
  preload: string;
  proxyCpus: string | undefined;
  loadCpus: string | undefined;
  workers: number;
  /** Requests per second for the fixed-rate scenario (undefined: skip it), given this slot's results so far. */
  fixedRate: (current: ProxyRound) => number | undefined;
  scenarios: ReadonlySet<string>;
  label: string;
  /** Keep-alive connections and concurrent handshakes (more when the proxy has every core). */
  connections: number;
  handshakeConcurrency: number;
}

/**
 * Waits until the proxy is idle (under 3% of a core over a quarter second, at most 10 s), so that
 * no scenario pays for the one before it (closing 2,000 connections, a garbage collector catching
 * up on the last load). Returns the seconds waited.
 */
async function settle(pid: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 10_000) {
    const before = treeCpuSeconds(pid);
    await sleep(250);
    if (treeCpuSeconds(pid) - before < 0.0075) break;
  }
  return (performance.now() - started) / 1000;
}

async function measureProxy(slot: SlotOptions): Promise<ProxyRound> {
  const result: ProxyRound = { proxy: slot.label, round: slot.round, ok: false };
  const { seconds } = settings;
  let proxy: RunningProxy | undefined;
  try {
    log(`round ${slot.round}: ${slot.label}: starting`);
    proxy = await slot.definition.start({ pki: slot.pki, dir: slot.dir, port: slot.port, upstreamPort: slot.upstreamPort, cpus: slot.proxyCpus, workers: slot.workers, log });
    await verifyProxy(slot.pki, slot.port);
    const pids: Pids = { proxy: proxy.service.pid, upstream: slot.upstream.pid };
    const load: LoadContext = { pki: slot.pki, dir: slot.dir, preload: slot.preload, host: APP_HOST, port: slot.port, cpus: slot.loadCpus };
    result.resumes = await resumes(load);
    if (slot.scenarios.has('memory')) {
      await sleep(1_000);
      const idle = treeMemory(pids.proxy);
      const held = await holdIdleConnections(slot.pki, slot.port, settings.idleConnections, slot.loadCpus);
      await sleep(1_500);
      const holding = treeMemory(pids.proxy);
      await held.release();
      result.memory = {
        idle,
        held: holding,
        connections: settings.idleConnections,
        open: held.open,
        failed: held.failed,
        openSeconds: round(held.seconds, 2),
        perConnectionKiB: round(((holding.pssMiB - idle.pssMiB) * 1024) / Math.max(held.open, 1), 1),
      };
      log(`  memory: idle ${idle.pssMiB.toFixed(1)} MiB, ${held.open} connections ${holding.pssMiB.toFixed(1)} MiB (PSS)${held.failed ? `, ${held.failed} failed: ${held.lastError}` : ''}`);
      await settle(pids.proxy);
    }
    // Warm-up (JIT, pools, caches), not measured.
    await wrk(load, { connections: slot.connections, seconds: Math.min(2, seconds) });
    await settle(pids.proxy);
    if (slot.scenarios.has('h1')) {
      result.h1 = await measured(pids, (r) => r.count, () => wrk(load, { connections: slot.connections, seconds }));
      log(`  HTTP/1.1 keep-alive: ${formatNumber(result.h1.rate)} req/s, ${result.h1.cpuPerUnitUs} µs CPU/request, proxy ${result.h1.proxyCpuPercent}% wrk ${result.h1.generatorCpuPercent}% (p99 ${result.h1.latencyMs?.p99} ms)`);
    }
    if (slot.scenarios.has('h2')) {
      await settle(pids.proxy);
      result.h2 = await measured(pids, (r) => r.count, () => h2load(load, { clients: settings.h2Clients, streams: settings.h2Streams, seconds }));
      log(`  HTTP/2: ${formatNumber(result.h2.rate)} req/s, ${result.h2.cpuPerUnitUs} µs CPU/request, proxy ${result.h2.proxyCpuPercent}% h2load ${result.h2.generatorCpuPercent}%${result.h2.notes?.length ? ` (${result.h2.notes.join('; ')})` : ''}`);
    }
    const rate = slot.fixedRate(result);
    if (slot.scenarios.has('fixed') && rate !== undefined) {
      await settle(pids.proxy);
      const fixed = await measured(pids, (r) => r.count, () => wrk(load, { connections: settings.fixedRateConnections, seconds, rate }));
      result.fixed = { ...fixed, targetRate: rate };
      log(`  fixed ${formatNumber(rate)} req/s: achieved ${formatNumber(fixed.rate)}, p50 ${fixed.latencyMs?.p50} p99 ${fixed.latencyMs?.p99} p99.9 ${fixed.latencyMs?.p999} ms`);
    }
    if (slot.scenarios.has('fixedOwn') && result.h1) {
      const own = Math.round(result.h1.rate / 2);
      await settle(pids.proxy);
      const fixed = await measured(pids, (r) => r.count, () => wrk(load, { connections: settings.fixedRateConnections, seconds, rate: own }));
      result.fixedOwn = { ...fixed, targetRate: own };
      log(`  fixed ${formatNumber(own)} req/s (half its own maximum): p50 ${fixed.latencyMs?.p50} p99 ${fixed.latencyMs?.p99} p99.9 ${fixed.latencyMs?.p999} ms`);
    }
    if (slot.scenarios.has('handshakes')) {
      await settle(pids.proxy);
      result.handshakes = await measured(pids, (r) => r.count, () => abHandshakes(load, { concurrency: slot.handshakeConcurrency, seconds }));
      log(`  full handshakes (ab): ${formatNumber(result.handshakes.rate)}/s, ${(result.handshakes.cpuPerUnitUs / 1000).toFixed(2)} ms CPU each, proxy ${result.handshakes.proxyCpuPercent}% ab ${result.handshakes.generatorCpuPercent}% (${result.handshakes.tls})`);
    }
    if (slot.scenarios.has('resumed')) {
      await settle(pids.proxy);
      result.resumed = await measured(pids, (r) => r.count, () => wrk(load, { connections: settings.handshakeConcurrency, seconds: Math.max(2, Math.round(seconds / 2)), close: true }));
      log(`  resumed connections (wrk): ${formatNumber(result.resumed.rate)}/s, ${(result.resumed.cpuPerUnitUs / 1000).toFixed(2)} ms CPU each (session resumption: ${result.resumes ? 'yes' : 'no'})`);
    }
    if (slot.scenarios.has('stime')) {
      await settle(pids.proxy);
      result.stime = await measured(pids, (r) => r.count, () => sTime(load, Math.max(2, Math.round(seconds / 2))));
      log(`  one at a time (s_time -new): ${formatNumber(result.stime.rate)}/s`);
    }
    result.ok = true;
  } catch (error) {
    result.error = (error as Error).message;
    log(`  ${slot.label} failed: ${result.error}`);
  } finally {
    await proxy?.stop();
  }
  return result;
}

// ---------------------------------------------------------------------------------------------


async function certgateAlone(definition: ProxyDefinition, pki: BenchPki, dir: string, port: number, upstreamPort: number, proxyCpus: string | undefined): Promise<CertgateAlone> {
  const out: CertgateAlone = {};
  let proxy: RunningProxy | undefined;
  try {
    log('certgate alone: mode changes and PATCH rate');
    proxy = await definition.start({ pki, dir, port, upstreamPort, cpus: proxyCpus, workers: 1, log });
    const api = proxy.extra!['api'] as CertgateApi;
    out.modeChange = await modeChangeLatency(api, port, settings.modeChanges);
    log(`  mode change enforced after the PATCH returned: p50 ${out.modeChange.enforcedMs.p50} ms, p99 ${out.modeChange.enforcedMs.p99} ms (${out.modeChange.changes} changes; max attempts ${out.modeChange.attempts.max})`);
    out.patch = [];
    for (const concurrency of [1, 4]) {
      const patch = await patchRate(api, proxy.service.pid, settings.patchSeconds, concurrency);
      out.patch.push(patch);
      log(`  PATCH rate (concurrency ${concurrency}): ${patch.patchesPerSecond}/s, ${patch.cpuMsPerPatch} ms certgate CPU each`);
    }
  } catch (error) {
    out.error = (error as Error).message;
    log(`  certgate alone failed: ${out.error}`);
  } finally {
    await proxy?.stop();
  }
  try {
    const script = new URL('./xfcc.ts', import.meta.url).pathname;
    const [command, args] = proxyCpus === undefined ? [process.execPath, [script]] : ['taskset', ['-c', proxyCpus, process.execPath, script]];
    const result = await run(command, [...args, '--json', `--seconds=${settings.xfccSeconds}`], { timeoutMs: 300_000 });
    out.xfcc = JSON.parse(result.stdout);
    log(`  XFCC library: ${JSON.stringify((out.xfcc as { results: { name: string; opsPerSecond: number }[] }).results.map((r) => `${r.name} ${r.opsPerSecond}/s`))}`);
  } catch (error) {
    log(`  bench/xfcc.ts failed: ${(error as Error).message}`);
  }
  try {
    // Scale-out (issue 15): 3 replicas on a PostgreSQL it starts, write rates, 10,000 apps on both stores.
    const script = new URL('./replicas.ts', import.meta.url).pathname;
    const result = await run(process.execPath, ['--expose-gc', script, '--json', `--changes=${settings.modeChanges}`, `--apps=${quick ? 2_000 : 10_000}`], { timeoutMs: 900_000 });
    out.replicas = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    log(`  replicas: ${JSON.stringify(out.replicas)}`);
  } catch (error) {
    log(`  bench/replicas.ts failed: ${(error as Error).message}`);
  }
  // Issues 13 to 15, each its own script printing Markdown: verification at the handshake, the
  // cost of observing (and the inventory flood), several ticket keys per TLS context.
  out.sections = {};
  for (const [name, script, args] of [
    ['Client-certificate verification (bench/verification.ts)', 'verification.ts', quick ? ['--handshakes=200', '--seconds=1'] : []],
    ['Observability cost (bench/observe.ts)', 'observe.ts', quick ? ['--seconds=2', '--rounds=6', '--certs=1000', '--instructions=off'] : ['--seconds=2', '--rounds=20', '--certs=10000']],
    ['Ticket keys (bench/ticket-keys.ts)', 'ticket-keys.ts', quick ? ['--handshakes=300', '--rounds=2'] : []],
  ] as const) {
    try {
      const result = await run(process.execPath, [new URL(`./${script}`, import.meta.url).pathname, ...args], { timeoutMs: 1_800_000 });
      if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr.slice(-2_000)}`);
      out.sections[name] = result.stdout;
      log(`  ${name}: done`);
    } catch (error) {
      log(`  bench/${script} failed: ${(error as Error).message}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  await initClockTicks();
  const cpuCount = os.cpus().length;
  const pinning = cpuCount >= 2 ? { proxy: '0', load: '1' } : { proxy: undefined, load: undefined };
  if (cpuCount < 2) log('one CPU only: nothing is pinned, and proxy and load generator share it');
  const wantedDefinitions = ALL_DEFINITIONS.filter((definition) => settings.proxies.includes(definition.name));
  const loadBefore = loadAverage();
  const { skipped } = await ensureTools(wantedDefinitions);
  const definitions = wantedDefinitions.filter((definition) => !(definition.name in skipped));
  const versions = await toolVersions(definitions);
  log(`versions: ${JSON.stringify(versions)}`);

  for (let port = settings.basePort; port < settings.basePort + 60; port++) {
    if (!(await portIsFree(port))) throw new Error(`port ${port} is in use: choose another base with --port=N`);
  }
  // The bench's own process (the idle-connection holder and the mode-change probes) stays off the proxy's CPU.
  if (pinning.load !== undefined) await run('taskset', ['-a', '-pc', pinning.load, String(process.pid)]);

  const dir = mkdtempSync(join(tmpdir(), 'certgate-bench-'));
  const restoreHosts = addHostsEntries(BENCH_HOSTS);
  const stopEverything = () => {
    killAllServices();
    restoreHosts();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      stopEverything();
      process.exit(130);
    });
  }
  let upstream: Service | undefined;
  try {
    const pki = await makeBenchPki(dir, BENCH_HOSTS);
    const preload = await buildPreload(new URL('./clientcert-preload.c', import.meta.url).pathname, dir);
    const upstreamPort = settings.basePort;
    upstream = await startUpstream(join(dir, 'upstream'), upstreamPort, pinning.load);
    const portOf = (index: number) => settings.basePort + 10 + index * 5;
    const scenarios = new Set(settings.scenarios);
    const rounds: ProxyRound[] = [];
    for (let round = 1; round <= (attackOnly ? 0 : settings.rounds); round++) {
      for (const [index, definition] of definitions.entries()) {
        // Half of nginx's maximum from this round (nginx goes first); without nginx, half of the first proxy's.
        const fixedRate = (current: ProxyRound) => {
          const reference = rounds.find((r) => r.round === round && r.proxy === 'nginx' && r.ok) ?? rounds.find((r) => r.round === round && r.ok) ?? current;
          return reference.h1 ? Math.round(reference.h1.rate / 2) : undefined;
        };
        rounds.push(await measureProxy({
          definition, round, pki, dir, port: portOf(index), upstream, upstreamPort, preload,
          proxyCpus: pinning.proxy, loadCpus: pinning.load, workers: 1, fixedRate, scenarios, label: definition.name,
          connections: settings.keepAliveConnections, handshakeConcurrency: settings.handshakeConcurrency,
        }));
      }
    }
    const names = definitions.map((definition) => definition.name);
    const certgateDefinition = definitions.find((definition) => definition.name === 'certgate');
    const alone = certgateDefinition && settings.certgateAlone && !attackOnly ? await certgateAlone(certgateDefinition, pki, dir, portOf(definitions.length), upstreamPort, pinning.proxy) : undefined;

    // All cores: one process (or thread) per core, nothing pinned, for certgate (serve --workers) and nginx.
    let multicore: ProxyRound[] = [];
    const multicoreNames: string[] = [];
    if (settings.multicore && !attackOnly && cpuCount >= 2 && certgateDefinition && (await certgateSupportsWorkers())) {
      for (const definition of definitions.filter((d) => d.name === 'nginx' || d.name === 'certgate')) {
        const label = `${definition.name} ×${cpuCount}`;
        multicoreNames.push(label);
        multicore.push(await measureProxy({
          definition, round: 1, pki, dir, port: portOf(definitions.length + 1 + multicoreNames.length), upstream, upstreamPort, preload,
          proxyCpus: undefined, loadCpus: undefined, workers: cpuCount, fixedRate: () => undefined, scenarios: new Set(['h1', 'handshakes']), label,
          // As many as on one core: more connections only deepen the queues on the CPU the upstream
          // and the load generator also use (tried: 4× the connections halved nginx's rate).
          connections: settings.keepAliveConnections, handshakeConcurrency: settings.handshakeConcurrency,
        }));
      }
    } else if (settings.multicore && !attackOnly) {
      log('all-cores figure skipped: needs 2+ CPUs and certgate serve --workers');
    }

    let attackFigures: AttackFigures[] | undefined;
    if (scenarios.has('attack') && certgateDefinition) {
      log(`under attack: ${settings.attack.attacks.join(', ')} (${settings.attack.attackSeconds} s each, ${settings.attack.afterSeconds} s after)`);
      attackFigures = await underAttack({
        definition: certgateDefinition, pki, dir, port: portOf(definitions.length + 4), proxyCpus: pinning.proxy, loadCpus: pinning.load,
        quietSeconds: settings.attack.quietSeconds, attackSeconds: settings.attack.attackSeconds, afterSeconds: settings.attack.afterSeconds,
        attacks: settings.attack.attacks, log,
      });
    } else if (scenarios.has('attack')) {
      log('under attack: skipped (it measures certgate: add it to --proxies)');
    }

    const loadAfter = loadAverage();
    const summary = summarize(rounds, names);
    const others = [...rounds, ...multicore].flatMap((r) => [r.h1, r.h2, r.fixed, r.handshakes, r.resumed, r.stime])
      .filter((x): x is NonNullable<typeof x> => x !== undefined)
      .map((x) => (x as unknown as { otherCpuPercent: number }).otherCpuPercent);
    const otherSpread = spread(others);
    const report = {
      benchmark: 'certgate ingress vs nginx, HAProxy, Caddy (issue 6)',
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      // Paths relative to the repository, not this machine's (bench/lib/paths.ts).
      settings: repoRelativePaths(settings),
      pinning,
      machine: await machineFacts(),
      load: { before: loadBefore, after: loadAfter, otherCpuPercentMedian: round(otherSpread?.median ?? 0, 1), otherCpuPercentMax: round(otherSpread?.max ?? 0, 1) },
      versions,
      skipped,
      proxies: names,
      rounds,
      summary,
      targets: evaluateTargets(rounds, alone, summary),
      certgateAlone: alone,
      multicore: multicore.length ? { proxies: multicoreNames, rounds: multicore, summary: summarize(multicore, multicoreNames, `nginx ×${cpuCount}`) } : undefined,
      underAttack: attackFigures,
    };
    mkdirSync(settings.out, { recursive: true });
    const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
    const base = join(settings.out, `${stamp}${quick ? '-quick' : ''}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    if (attackOnly) {
      const markdown = [`# certgate under attack (${report.startedAt.slice(0, 16)}Z${quick ? ', --quick' : ''})`, ...renderUnderAttack(attackFigures ?? [])].join('\n');
      writeFileSync(`${base}.md`, `${markdown}\n`);
      process.stdout.write(`\n${markdown}\n`);
      log(`wrote ${base}.json and .md`);
    } else {
      const { markdown, svg } = renderReport(report);
      writeFileSync(`${base}.md`, markdown);
      writeFileSync(`${base}.svg`, svg);
      process.stdout.write(`\n${markdown}\n`);
      log(`wrote ${base}.json, .md and .svg`);
    }
  } finally {
    await upstream?.stop();
    stopEverything();
    if (!settings.keep) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
}

main().catch((error: unknown) => {
  log(`failed: ${(error as Error).stack ?? String(error)}`);
  killAllServices();
  process.exit(1);
});
