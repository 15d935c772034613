// Profiles certgate under the bench's loads, reproducibly:
//
//   node bench/profile.ts [--scenario=keepalive,handshake,h2,fixed] [--rate=N] [--seconds=N] [--proxy=NAME]
//                         [--measure] [--no-perf] [--folded] [--out=DIR]
//
// For each scenario: certgate (`serve`, one worker, pinned to CPU 0) runs with `--cpu-prof`, is
// warmed up, then loaded (wrk keep-alive, ab full handshakes, or h2load) while `perf record -g`
// samples the whole process (native frames: OpenSSL, kernel, libuv; JIT frames via
// --perf-basic-prof). Writes, per scenario, into DIR (default bench/results/profile-<UTC time>/):
//   <scenario>.cpuprofile      open in Chrome DevTools (Performance) or speedscope
//   <scenario>.js.svg          flame graph of the V8 profile (with --folded, also the folded stacks)
//   <scenario>.perf.svg        the same from perf (when perf is installed)
//   summary.md                 self time by category and the top functions
// With --measure, no profiler is attached: only the figures (req/s, CPU per request or handshake).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abHandshakes, buildPreload, h2load, wrk, type LoadContext } from './lib/load.ts';
import { makeBenchPki } from './lib/pki.ts';
import { ALL_DEFINITIONS, APP_HOST, BENCH_HOSTS, startUpstream } from './lib/proxies.ts';
import {
  categorize, flameGraph, foldCpuProfile, foldPerfScript, foldedText, inclusiveTime, jsCategory, nativeCategory, selfTime, topTable, type Folded,
} from './lib/profiles.ts';
import { addHostsEntries, aptInstall, initClockTicks, killAllServices, run, sleep, startService, treeCpuSeconds, which } from './lib/system.ts';

const argv = process.argv.slice(2);
const option = (name: string) => argv.find((value) => value.startsWith(`--${name}=`))?.slice(name.length + 3);
const seconds = Number(option('seconds') ?? 10);
const scenarios = (option('scenario') ?? 'keepalive,handshake').split(',');
const usePerf = !argv.includes('--no-perf') && !argv.includes('--measure');
// --measure: the figures alone, without any profiler attached (for before/after comparisons).
// --proxy=NAME: profile (with perf) or measure another proxy the same way (nginx, haproxy, caddy).
const proxyName = option('proxy') ?? 'certgate';
// --folded: also write the folded stacks (for flamegraph.pl, speedscope; a few MB each).
const keepFolded = argv.includes('--folded');
const useCpuProf = !argv.includes('--measure') && proxyName === 'certgate';
const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
const out = option('out') ?? new URL(`./results/profile-${stamp}/`, import.meta.url).pathname;
const REPO = new URL('../', import.meta.url).pathname;
const log = (line: string) => process.stderr.write(`[profile] ${line}\n`);

const BASE_PORT = Number(option('port') ?? 18700);
const profiledPids: number[] = [];

async function main(): Promise<void> {
  await initClockTicks();
  const missing: string[] = [];
  for (const [command, pkg] of Object.entries({ wrk: 'wrk', ab: 'apache2-utils', h2load: 'nghttp2-client', nginx: 'nginx-light', cc: 'gcc' })) {
    if (!(await which(command))) missing.push(pkg);
  }
  const perfAvailable = usePerf && (await which('perf')) !== undefined;
  if (missing.length) await aptInstall(missing, log);
  mkdirSync(out, { recursive: true });
  const pin = os.cpus().length >= 2;
  const proxyCpus = pin ? '0' : undefined;
  const loadCpus = pin ? '1' : undefined;
  if (loadCpus) await run('taskset', ['-a', '-pc', loadCpus, String(process.pid)]);
  const dir = mkdtempSync(join(tmpdir(), 'certgate-profile-'));
  const restoreHosts = addHostsEntries(BENCH_HOSTS);
  process.once('SIGINT', () => {
    killAllServices();
    restoreHosts();
    process.exit(130);
  });
  const summary: string[] = [`# ${proxyName} profiles, ${new Date().toISOString()}`, '', `${proxyName === 'certgate' ? 'certgate `serve`' : proxyName}, one worker on CPU ${proxyCpus ?? '(any)'}; load on CPU ${loadCpus ?? '(any)'}; ${seconds} s of load per scenario after a warm-up. Node ${process.version}.`, ''];
  try {
    const pki = await makeBenchPki(dir, BENCH_HOSTS);
    const preload = await buildPreload(new URL('./clientcert-preload.c', import.meta.url).pathname, dir);
    const upstream = await startUpstream(join(dir, 'upstream'), BASE_PORT, loadCpus);
    const certgate = ALL_DEFINITIONS.find((proxy) => proxy.name === proxyName);
    if (!certgate) throw new Error(`no proxy named ${proxyName}`);
    for (const [index, scenario] of scenarios.entries()) {
      const port = BASE_PORT + 10 + index * 5;
      const profileName = `${scenario}.cpuprofile`;
      const nodeArgs = [
        ...(useCpuProf ? ['--cpu-prof', `--cpu-prof-dir=${out}`, `--cpu-prof-name=${profileName}`] : []),
        ...(perfAvailable ? ['--perf-basic-prof-only-functions'] : []),
      ];
      log(`${scenario}: starting ${proxyName}${proxyName === 'certgate' ? ` with ${nodeArgs.join(' ')}` : ''}`);
      const proxy = await certgate.start({ pki, dir, port, upstreamPort: BASE_PORT, cpus: proxyCpus, workers: 1, log, nodeArgs });
      const load: LoadContext = { pki, dir, preload, host: APP_HOST, port, cpus: loadCpus };
      await wrk(load, { connections: 32, seconds: 2 });
      const pid = proxy.service.pid;
      profiledPids.push(pid);
      const perfData = join(dir, `${scenario}.perf.data`);
      const perf = perfAvailable
        ? startService('perf', 'perf', ['record', '-F', '497', '-g', '-p', String(pid), '-o', perfData, '--', 'sleep', String(seconds)], { cpus: loadCpus })
        : undefined;
      const cpuBefore = treeCpuSeconds(pid);
      let figure = '';
      if (scenario === 'keepalive') {
        const result = await wrk(load, { connections: 32, seconds });
        figure = `${result.rate.toFixed(0)} req/s, ${(((treeCpuSeconds(pid) - cpuBefore) * 1e6) / result.count).toFixed(1)} µs CPU per request`;
      } else if (scenario === 'handshake') {
        const result = await abHandshakes(load, { concurrency: 16, seconds });
        figure = `${result.rate.toFixed(0)} handshakes/s, ${(((treeCpuSeconds(pid) - cpuBefore) * 1e3) / result.count).toFixed(2)} ms CPU per handshake + request`;
      } else if (scenario === 'fixed') {
        // A fixed rate below saturation: the CPU per request is then less sensitive to batching.
        const rate = Number(option('rate') ?? 3000);
        const result = await wrk(load, { connections: 32, seconds, rate });
        figure = `${result.rate.toFixed(0)} req/s (fixed), ${(((treeCpuSeconds(pid) - cpuBefore) * 1e6) / result.count).toFixed(1)} µs CPU per request, p99 ${result.latencyMs?.p99} ms`;
      } else if (scenario === 'h2') {
        const result = await h2load(load, { clients: 4, streams: 32, seconds });
        figure = `${result.rate.toFixed(0)} req/s, ${(((treeCpuSeconds(pid) - cpuBefore) * 1e6) / result.count).toFixed(1)} µs CPU per request`;
      } else {
        throw new Error(`unknown scenario ${scenario}`);
      }
      log(`${scenario}: ${figure}`);
      if (perf) await new Promise<void>((resolve) => (perf.child.exitCode !== null ? resolve() : perf.child.once('exit', () => resolve())));
      await proxy.stop();
      summary.push(`## ${scenario}: ${figure}`, '');

      if (useCpuProf) {
        // V8 profile (written when certgate exits).
        for (let waited = 0; !existsSync(join(out, profileName)) && waited < 10_000; waited += 100) await sleep(100);
        const profile = JSON.parse(readFileSync(join(out, profileName), 'utf8'));
        const js = foldCpuProfile(profile, REPO);
        if (keepFolded) writeFileSync(join(out, `${scenario}.js.folded`), foldedText(js));
        writeFileSync(join(out, `${scenario}.js.svg`), flameGraph(js, `certgate ${scenario}: V8 CPU profile (--cpu-prof, whole run), ${figure}`, jsCategory));
        summary.push(...describe(js, jsCategory, 'V8 profile (`--cpu-prof`; whole run including start-up and warm-up)'));
      }

      if (perf && existsSync(perfData)) {
        const script = await run('perf', ['script', '-i', perfData, '-F', 'comm,tid,time,event,ip,sym,dso'], { timeoutMs: 300_000 });
        const native = foldPerfScript(script.stdout);
        if (keepFolded) writeFileSync(join(out, `${scenario}.perf.folded`), foldedText(native));
        writeFileSync(join(out, `${scenario}.perf.svg`), flameGraph(native, `${proxyName} ${scenario}: perf record -g (native + JIT frames, load only), ${figure}`, nativeCategory));
        summary.push(...describe(native, nativeCategory, '`perf record -g` (every thread, load only)'));
        // Per thread: the main thread does the work; the others are GC helpers and libuv's pool.
        const threads = new Map<string, number>();
        for (const block of script.stdout.split(/\n\s*\n/)) {
          const comm = block.trim().split(/\s+/)[0];
          if (comm) threads.set(comm, (threads.get(comm) ?? 0) + 1);
        }
        summary.push(topTable(threads, native.total, 10, ['thread', 'share of samples']), '');
      }
    }
    await upstream.stop();
  } finally {
    killAllServices();
    restoreHosts();
    rmSync(dir, { recursive: true, force: true });
    // --perf-basic-prof leaves /tmp/perf-<pid>.map behind: remove certgate's.
    for (const pid of profiledPids) {
      const map = `/tmp/perf-${pid}.map`;
      if (existsSync(map)) unlinkSync(map);
    }
  }
  writeFileSync(join(out, 'summary.md'), `${summary.join('\n')}\n`);
  process.stdout.write(`${summary.join('\n')}\n`);
  log(`wrote ${out}`);
}

function describe(folded: Folded, category: (frame: string) => string, heading: string): string[] {
  const self = selfTime(folded);
  const inclusive = inclusiveTime(folded);
  return [
    `### ${heading}`,
    '',
    topTable(categorize(self, category), folded.total, 20, ['self time by category', 'share']),
    '',
    topTable(self, folded.total, 30, ['function (self time)', 'share']),
    '',
    topTable(new Map([...inclusive].filter(([frame]) => / src\/| undici\//.test(frame) || frame.startsWith('js '))), folded.total, 25, ['certgate / undici / JS function (inclusive time)', 'share']),
    '',
  ];
}

main().catch((error: unknown) => {
  log(`failed: ${(error as Error).stack ?? String(error)}`);
  killAllServices();
  process.exit(1);
});
