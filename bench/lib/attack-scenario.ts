// The "under attack" scenario (issue 10, Benchmarks): a normal client's latency and success rate
// against a certgate app while one attacker runs each attack of attacks.ts, against the same figure
// with no attack, and certgate's RSS before, during and after. Each attack gets a fresh certgate
// (an attack that leaves the app down must not spoil the next figure) and a body-reading app.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AttackName, AttackResult } from './attacks.ts';
import type { BenchPki } from './pki.ts';
import { percentile } from './certgate-scenarios.ts';
import { APP_HOST, waitForPort, type ProxyDefinition, type RunningProxy } from './proxies.ts';
import { round, run, sleep, startService, treeCpuSeconds, treeMemory, type Service } from './system.ts';

export const ATTACK_NAMES: readonly AttackName[] = ['h2-stream-flood', 'h2-rapid-reset', 'slow-uploads', 'slow-headers'];

export interface ProbeFigures {
  requests: number;
  ok: number;
  /** ok / requests, in %. */
  successPercent: number;
  /** Of every request, a failed one counted as the 5 s timeout (an error answer is no service), ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface AttackFigures {
  attack: AttackName;
  quiet: ProbeFigures;
  during: ProbeFigures;
  /** The normal client in the window after the attack stopped (does the app recover by itself?). */
  after: ProbeFigures;
  /** during.p99 / quiet.p99 (target ≤ 2). */
  p99Ratio: number;
  /** certgate's CPU while under attack, % of one core (it is pinned to one). */
  cpuPercentDuring: number;
  rssMiB: { before: number; duringMax: number; after: number };
  afterSeconds: number;
  attacker: AttackResult | { error: string };
  error?: string;
}

export interface AttackScenarioOptions {
  definition: ProxyDefinition;
  pki: BenchPki;
  dir: string;
  /** certgate's ports start here (HTTPS, HTTP, management = +2); the app listens at port + 4. */
  port: number;
  proxyCpus: string | undefined;
  loadCpus: string | undefined;
  quietSeconds: number;
  attackSeconds: number;
  afterSeconds: number;
  attacks: readonly AttackName[];
  log: (line: string) => void;
}

const PROBE_WORKERS = 4;
/** Each probe worker sends one request every 50 ms: 80 requests/s, far below what certgate serves. */
const PROBE_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 5_000;

/**
 * A normal client: PROBE_WORKERS keep-alive HTTP/1.1 connections with a client certificate, each
 * sending GET / at a fixed pace until `until` resolves. A request that fails or takes over 5 s is
 * not ok, and counts as 5 s in the percentiles.
 */
async function probe(port: number, pki: BenchPki, until: Promise<void>): Promise<ProbeFigures> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: PROBE_WORKERS, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey), rejectUnauthorized: false });
  let stopped = false;
  void until.then(() => (stopped = true));
  const latencies: number[] = [];
  let requests = 0;
  let succeeded = 0;
  const one = () =>
    new Promise<boolean>((resolve) => {
      const request = https.request(
        { host: '127.0.0.1', port, servername: APP_HOST, path: '/', headers: { host: APP_HOST }, agent, timeout: PROBE_TIMEOUT_MS },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode === 200));
          response.on('error', () => resolve(false));
        },
      );
      request.on('error', () => resolve(false));
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.end();
    });
  const worker = async (index: number) => {
    await sleep((index * PROBE_INTERVAL_MS) / PROBE_WORKERS);
    while (!stopped) {
      const started = performance.now();
      requests++;
      const ok = await one();
      if (ok) succeeded++;
      latencies.push(ok ? performance.now() - started : Math.max(PROBE_TIMEOUT_MS, performance.now() - started));
      await sleep(Math.max(0, PROBE_INTERVAL_MS - (performance.now() - started)));
    }
  };
  await Promise.all(Array.from({ length: PROBE_WORKERS }, (_, index) => worker(index)));
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  return {
    requests,
    ok: succeeded,
    successPercent: round((succeeded / Math.max(requests, 1)) * 100, 1),
    p50Ms: round(percentile(sorted, 50), 2),
    p99Ms: round(percentile(sorted, 99), 2),
    maxMs: round(sorted.at(-1) ?? Number.NaN, 1),
  };
}

async function runAttacker(attack: AttackName, port: number, seconds: number, loadCpus: string | undefined): Promise<AttackResult | { error: string }> {
  const script = new URL('../attack.ts', import.meta.url).pathname;
  const args = [script, `--attack=${attack}`, `--port=${port}`, `--servername=${APP_HOST}`, `--seconds=${seconds}`];
  const [command, fullArgs] = loadCpus === undefined ? [process.execPath, args] : ['taskset', ['-c', loadCpus, process.execPath, ...args]];
  const outcome = await run(command, fullArgs, { timeoutMs: (seconds + 30) * 1000 });
  const line = outcome.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as AttackResult;
  } catch {
    return { error: `attacker exited ${outcome.code}${outcome.timedOut ? ' (timed out)' : ''}: ${outcome.stderr.slice(-300)}` };
  }
}

async function startApp(port: number, cpus: string | undefined): Promise<Service> {
  const script = new URL('../attack-upstream.ts', import.meta.url).pathname;
  const service = startService('attack-upstream', process.execPath, [script, `--port=${port}`], { cpus });
  await waitForPort(port, 10_000, service);
  return service;
}

export async function underAttack(options: AttackScenarioOptions): Promise<AttackFigures[]> {
  const out: AttackFigures[] = [];
  const appPort = options.port + 4;
  const app = await startApp(appPort, options.loadCpus);
  try {
    for (const attack of options.attacks) {
      let proxy: RunningProxy | undefined;
      try {
        proxy = await options.definition.start({ pki: options.pki, dir: join(options.dir, `attack-${attack}`), port: options.port, upstreamPort: appPort, cpus: options.proxyCpus, workers: 1, log: options.log });
        const pid = proxy.service.pid;
        // Warm-up (JIT, the upstream pool), then the quiet figure.
        await probe(options.port, options.pki, sleep(1_000));
        const quiet = await probe(options.port, options.pki, sleep(options.quietSeconds * 1000));
        const before = treeMemory(pid).rssMiB;
        let duringMax = before;
        const sampler = setInterval(() => (duringMax = Math.max(duringMax, treeMemory(pid).rssMiB)), 250);
        const cpuBefore = treeCpuSeconds(pid);
        const attackStarted = performance.now();
        const attacker = runAttacker(attack, options.port, options.attackSeconds, options.loadCpus);
        const during = await probe(options.port, options.pki, attacker.then(() => undefined));
        clearInterval(sampler);
        const cpuPercentDuring = round(((treeCpuSeconds(pid) - cpuBefore) / ((performance.now() - attackStarted) / 1000)) * 100, 1);
        duringMax = Math.max(duringMax, treeMemory(pid).rssMiB);
        const after = await probe(options.port, options.pki, sleep(options.afterSeconds * 1000));
        const rssAfter = treeMemory(pid).rssMiB;
        const figures: AttackFigures = {
          attack,
          quiet,
          during,
          after,
          p99Ratio: round(during.p99Ms / quiet.p99Ms, 2),
          cpuPercentDuring,
          rssMiB: { before: round(before, 1), duringMax: round(duringMax, 1), after: round(rssAfter, 1) },
          afterSeconds: options.afterSeconds,
          attacker: await attacker,
        };
        out.push(figures);
        const a = figures.attacker as Partial<AttackResult> & { error?: string };
        options.log(
          `  ${attack}: normal client p99 ${quiet.p99Ms} ms quiet, ${during.p99Ms} ms under attack (${figures.p99Ratio}×), ok ${during.successPercent}% during, ${after.successPercent}% in the ${options.afterSeconds} s after; certgate CPU ${cpuPercentDuring}%; ` +
            `RSS ${figures.rssMiB.before} → ${figures.rssMiB.duringMax} → ${figures.rssMiB.after} MiB; attacker: ${a.error ?? `${a.connections} connections, ${a.requests} requests/streams, ${a.closedByServer} closed by certgate`}`,
        );
      } catch (error) {
        options.log(`  ${attack} failed: ${(error as Error).message}`);
        out.push({ attack, error: (error as Error).message } as AttackFigures);
      } finally {
        await proxy?.stop();
      }
    }
  } finally {
    await app.stop();
  }
  return out;
}

/** The markdown section of the report. */
export function renderUnderAttack(figures: readonly AttackFigures[]): string[] {
  if (figures.length === 0) return [];
  const afterSeconds = figures.find((f) => f.afterSeconds !== undefined)?.afterSeconds ?? 0;
  const lines = [
    '',
    '## Under attack (certgate, one core)',
    '',
    `A normal client (${PROBE_WORKERS} keep-alive HTTP/1.1 connections with a client certificate, ${(PROBE_WORKERS * 1000) / PROBE_INTERVAL_MS} requests/s, 5 s timeout; a failed request counts as 5 s) while one attacker runs each attack; a fresh certgate per attack. Target: p99 under attack ≤ 2× quiet, the app available throughout and after.`,
    '',
    `| attack | p99 quiet (ms) | p99 under attack (ms) | ratio | ok during | ok in the ${afterSeconds} s after | certgate CPU during | RSS before → max during → ${afterSeconds} s after (MiB) | attacker |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const f of figures) {
    if (f.error) {
      lines.push(`| ${f.attack} | failed: ${f.error} | | | | | | | |`);
      continue;
    }
    const a = f.attacker as Partial<AttackResult> & { error?: string };
    const attacker = a.error ?? `${a.connections} conn., ${a.requests} req./streams, ${a.closedByServer} closed by certgate`;
    lines.push(`| ${f.attack} | ${f.quiet.p99Ms} | ${f.during.p99Ms} | ${f.p99Ratio}× | ${f.during.successPercent}% | ${f.after.successPercent}% | ${f.cpuPercentDuring}% | ${f.rssMiB.before} → ${f.rssMiB.duringMax} → ${f.rssMiB.after} | ${attacker} |`);
  }
  return lines;
}
