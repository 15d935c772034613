// The report from a run's results: targets, the Markdown tables and the SVG chart. Used by
// bench/run.ts after measuring, and by bench/render.ts to redraw a saved run.
import { renderUnderAttack } from './attack-scenario.ts';
import type { ModeChangeResult, PatchRateResult } from './certgate-scenarios.ts';
import { METRICS, formatNumber, formatRatio, formatSpread, markdownTable, pairRatio, summarize, svgChart, type ChartPanel, type ProxyRound, type Spread, type Summary } from './report.ts';
import { round } from './system.ts';

export interface CertgateAlone {
  modeChange?: ModeChangeResult;
  patch?: PatchRateResult[];
  xfcc?: unknown;
  /** bench/replicas.ts: enforcement across 3 replicas, write rates, many apps (issue 15). */
  replicas?: unknown;
  /** The Markdown summaries of bench/verification.ts, bench/observe.ts and bench/ticket-keys.ts (issues 13 to 15). */
  sections?: Record<string, string>;
  error?: string;
}

/** What the report needs of the run's settings. */
export interface ReportSettings {
  rounds: number;
  seconds: number;
  idleConnections: number;
}

// ---------------------------------------------------------------------------------------------
// Targets (issue 6), from the same rounds.

export interface TargetResult {
  name: string;
  target: string;
  measured: string;
  met: boolean | undefined;
  /** How far from the target: measured ÷ required (≥ 1 met for "at least"; ≤ 1 met for "at most"). */
  ofTarget?: number;
  spread?: Spread;
}

export function evaluateTargets(rounds: readonly ProxyRound[], alone: CertgateAlone | undefined, summary: Summary): TargetResult[] {
  const metric = (key: string) => METRICS.find((m) => m.key === key)!;
  const targets: TargetResult[] = [];
  const atLeast = (name: string, required: number, value: Spread | undefined, unit: string, format: (s: Spread) => string) => {
    targets.push({ name, target: `≥ ${required}${unit}`, measured: value ? format(value) : 'not measured', met: value ? value.median >= required : undefined, ofTarget: value ? round(value.median / required, 2) : undefined, spread: value });
  };
  const atMost = (name: string, required: number, value: Spread | undefined, unit: string, format: (s: Spread) => string) => {
    targets.push({ name, target: `≤ ${required}${unit}`, measured: value ? format(value) : 'not measured', met: value ? value.median <= required : undefined, ofTarget: value ? round(value.median / required, 2) : undefined, spread: value });
  };
  const ratio = (s: Spread) => formatRatio(s);
  atLeast('keep-alive requests/s vs nginx', 0.6, summary['h1.rate']?.['certgate']?.ratioToNginx, '× nginx', ratio);
  atLeast('keep-alive requests/s vs Caddy', 1.5, pairRatio(rounds, metric('h1.rate'), 'certgate', 'caddy'), '× Caddy', ratio);
  atLeast('full mTLS handshakes/s vs nginx', 1.2, summary['hs.rate']?.['certgate']?.ratioToNginx, '× nginx', ratio);
  atMost('memory with idle mTLS connections vs nginx (PSS)', 1.5, summary['mem.held']?.['certgate']?.ratioToNginx, '× nginx', ratio);
  atMost('p99 latency at the fixed rate', 2, summary['fx.p99']?.['certgate']?.value, ' ms', (s) => `${formatSpread(s)} ms`);
  const mode = alone?.modeChange;
  atMost('mode change enforced after the PATCH returns, p99', 50, mode ? { median: mode.enforcedMs.p99, min: mode.enforcedMs.p99, max: mode.enforcedMs.p99, n: 1 } : undefined, ' ms', (s) => `${formatNumber(s.median)} ms (p50 ${formatNumber(mode!.enforcedMs.p50)} ms)`);
  return targets;
}

// ---------------------------------------------------------------------------------------------

export function chartPanels(summary: Summary, proxies: readonly string[], rounds: readonly ProxyRound[], settings: ReportSettings): ChartPanel[] {
  const panel = (key: string, title: string, unit: string, better: 'higher' | 'lower', transform = (v: number) => v, target?: { value: number; label: string }): ChartPanel | undefined => {
    const row = summary[key];
    if (!row) return undefined;
    const bars = proxies
      .filter((proxy) => row[proxy])
      .map((proxy) => {
        const cell = row[proxy]!;
        const t = (s: Spread): Spread => ({ median: transform(s.median), min: transform(Math.min(s.min, s.max)), max: transform(Math.max(s.min, s.max)), n: s.n });
        return { label: proxy, spread: t(cell.value), ratio: cell.ratioToNginx, highlight: proxy === 'certgate' };
      });
    return bars.length ? { title, unit, better, bars, target } : undefined;
  };
  const nginx = (key: string) => summary[key]?.['nginx']?.value.median;
  const times = (key: string, factor: number, label: string) => {
    const value = nginx(key);
    return value === undefined ? undefined : { value: value * factor, label };
  };
  const fixedPanel = panel('fx.p99', 'p99 latency at half nginx’s maximum rate', 'ms', 'lower', (v) => v, { value: 2, label: 'target 2 ms' });
  for (const bar of fixedPanel?.bars ?? []) {
    const achieved = summary['fx.rate']?.[bar.label]?.value.median;
    const wanted = rounds.filter((r) => r.proxy === bar.label && r.fixed).map((r) => r.fixed!.targetRate);
    if (achieved !== undefined && wanted.length && achieved < 0.95 * Math.min(...wanted)) bar.note = `(saturated: ${formatNumber(achieved)}/s)`;
  }
  return [
    panel('h1.rate', 'HTTP/1.1 keep-alive requests/s (mTLS)', 'req/s', 'higher', (v) => v, times('h1.rate', 0.6, 'target 0.6× nginx')),
    panel('h1.cpu', 'CPU per keep-alive request', 'µs', 'lower'),
    panel('hs.rate', 'Full mTLS handshakes/s (ab, one request each)', '/s', 'higher', (v) => v, times('hs.rate', 1.2, 'target 1.2× nginx')),
    panel('hs.cpu', 'CPU per full mTLS handshake (+ 1 request)', 'ms', 'lower'),
    panel('h2.rate', 'HTTP/2 requests/s (mTLS)', 'req/s', 'higher'),
    panel('mem.held', `Memory holding ${settings.idleConnections.toLocaleString('en-US')} idle mTLS connections (PSS)`, 'MiB', 'lower', (v) => v, times('mem.held', 1.5, 'target 1.5× nginx')),
    fixedPanel,
    panel('rs.rate', 'Resumed TLS connections/s', '/s', 'higher'),
  ].filter((p): p is ChartPanel => p !== undefined);
}

export function markdownReport(report: Record<string, any>, summary: Summary, proxies: readonly string[], targets: TargetResult[], multicoreSummary: Summary | undefined, multicoreProxies: string[]): string {
  const lines: string[] = [];
  const s = report['settings'];
  lines.push(`# certgate bench, ${report['startedAt']}`);
  lines.push('');
  lines.push(`${s.rounds} round(s), proxies in turn (${proxies.join(', ')}), ${s.seconds} s per scenario; each proxy one worker pinned to CPU ${report['pinning'].proxy ?? '(not pinned)'}, load generator and upstream on CPU ${report['pinning'].load ?? '(not pinned)'}. `
    + 'Cells: median (min–max) over rounds; under it, the ratio to nginx from the same round, median (min–max).'
    + (proxies.includes('node-floor') ? ' node-floor is not a proxy: Node\'s HTTPS server answering by itself with certgate\'s TLS settings, the floor under certgate (bench/node-floor-server.ts).' : ''));
  lines.push('');
  lines.push(`Machine: ${report['machine'].cpuModel}, ${report['machine'].cpus} CPUs, ${report['machine'].memoryGiB} GiB, ${report['machine'].kernel}. `
    + `Load average before ${report['load'].before.join(' ')}, after ${report['load'].after.join(' ')}; other processes used ${report['load'].otherCpuPercentMedian}% of a core (median over scenarios, max ${report['load'].otherCpuPercentMax}%).`);
  if (report['load'].otherCpuPercentMedian > 20) {
    lines.push('', `**Warning: the machine was busy.** Other processes used ${report['load'].otherCpuPercentMedian}% of a core during the median scenario: the proxies did not have their CPU to themselves, and these figures (rates above all) are not a fair comparison. Run again on a quiet machine.`);
  }
  lines.push('');
  lines.push(`Versions: ${Object.entries(report['versions']).map(([k, v]) => `${k} ${v}`).join('; ')}.`);
  if (Object.keys(report['skipped']).length) lines.push('', `Skipped: ${Object.entries(report['skipped']).map(([k, v]) => `${k} (${v})`).join('; ')}.`);
  lines.push('', '## Targets (certgate, one core)', '', '| target | required | measured | met |', '|---|---|---|---|');
  for (const target of targets) lines.push(`| ${target.name} | ${target.target} | ${target.measured} | ${target.met === undefined ? 'not measured' : target.met ? 'yes' : `no (${target.ofTarget}× of the target)`} |`);
  const own = summary['fo.p99']?.['certgate'];
  if (own) lines.push('', `At half of its own maximum (${formatSpread(summary['fo.rate']?.['certgate']?.value)} req/s) certgate's p99 is ${formatSpread(own.value)} ms.`);
  const notes: string[] = [];
  for (const proxy of proxies) {
    for (const [scenario, generator, proxyKey, genKey] of [['HTTP/1.1', 'wrk', 'h1.proxy', 'h1.gen'], ['full handshakes', 'ab', 'hs.proxy', 'hs.gen']] as const) {
      const gen = summary[genKey]?.[proxy]?.value.median;
      const busy = summary[proxyKey]?.[proxy]?.value.median;
      if (gen !== undefined && gen > 85) notes.push(`${proxy}, ${scenario}: ${generator} used ${formatNumber(gen)}% of its core and the proxy ${formatNumber(busy ?? 0)}% of its own: the load generator, not the proxy, set the rate; the CPU per request or handshake is the figure to compare.`);
    }
  }
  if (notes.length) lines.push('', ...notes.map((note) => `- ${note}`));
  lines.push('', '## All figures', '', markdownTable(summary, proxies));
  const resumption = proxies.map((proxy) => `${proxy} ${report['rounds'].find((r: ProxyRound) => r.proxy === proxy && r.ok)?.resumes ? 'yes' : 'no'}`).join(', ');
  lines.push('', `TLS session resumption (openssl s_client -sess_in): ${resumption}.`);
  const alone = report['certgateAlone'] as CertgateAlone | undefined;
  if (alone) {
    lines.push('', '## certgate alone', '');
    if (alone.modeChange) {
      const m = alone.modeChange;
      lines.push(`- Mode change (accept ⇄ require, ${m.changes} PATCHes): the first new connection after the PATCH returned had the new mode ${m.attempts.max === 1 ? 'every time' : `within ${m.attempts.max} attempts`}; enforced after p50 ${m.enforcedMs.p50} ms, p99 ${m.enforcedMs.p99} ms, max ${m.enforcedMs.max} ms (the time of that connection's handshake and request). The PATCH itself took p50 ${m.patchMs.p50} ms, p99 ${m.patchMs.p99} ms.`);
    }
    for (const patch of alone.patch ?? []) lines.push(`- Control-plane PATCHes (mode toggles), concurrency ${patch.concurrency}: ${patch.patchesPerSecond}/s, ${patch.cpuMsPerPatch} ms certgate CPU per PATCH${patch.failed ? `, ${patch.failed} failed` : ''}.`);
    const xfcc = alone.xfcc as { results?: { name: string; opsPerSecond: number; microsecondsPerOp: number }[] } | undefined;
    if (xfcc?.results) lines.push(`- XFCC library (bench/xfcc.ts, one core): ${xfcc.results.map((r) => `${r.name} ${r.opsPerSecond.toLocaleString('en-US')}/s (${r.microsecondsPerOp} µs)`).join(', ')}.`);
    if (alone.error) lines.push(`- Failed: ${alone.error}`);
    for (const [name, section] of Object.entries(alone.sections ?? {})) {
      const text = section.trim();
      lines.push('', `#### ${name}`, '', /^[#|]/.test(text) ? text : `\`\`\`text\n${text}\n\`\`\``);
    }
  }
  if (multicoreSummary) {
    lines.push('', `## All cores (${report['machine'].cpus}): nothing pinned; proxies, upstream and load generator share the cores`, '');
    lines.push('One process (nginx: worker) per core; certgate `serve --workers`; the upstream stays on CPU 1. On a machine whose cores the load generator and the upstream also need, this shows what sharing them costs, not what spare cores would give.', '');
    lines.push(markdownTable(multicoreSummary, multicoreProxies, METRICS.filter((m) => ['h1.rate', 'h1.cpu', 'h1.proxy', 'h1.gen', 'hs.rate', 'hs.cpu', 'hs.proxy', 'hs.gen'].includes(m.key))));
  }
  const failures = (report['rounds'] as ProxyRound[]).filter((r) => !r.ok);
  if (failures.length) lines.push('', '## Failures', '', ...failures.map((f) => `- round ${f.round} ${f.proxy}: ${f.error}`));
  lines.push('');
  return lines.join('\n');
}


/** The Markdown report and the SVG chart of a run's JSON (as bench/run.ts writes it). */
export function renderReport(report: Record<string, any>): { markdown: string; svg: string } {
  const rounds = report['rounds'] as ProxyRound[];
  const names: string[] = report['proxies'] ?? [...new Set(rounds.map((r) => r.proxy))];
  const summary = summarize(rounds, names);
  const targets = evaluateTargets(rounds, report['certgateAlone'], summary);
  const multicoreRounds = (report['multicore']?.rounds ?? []) as ProxyRound[];
  const multicoreNames: string[] = report['multicore']?.proxies ?? [...new Set(multicoreRounds.map((r) => r.proxy))];
  const multicoreSummary = multicoreRounds.length ? summarize(multicoreRounds, multicoreNames, multicoreNames.find((name) => name.startsWith('nginx')) ?? 'nginx') : undefined;
  const markdown = [markdownReport(report, summary, names, targets, multicoreSummary, multicoreNames), ...renderUnderAttack(report['underAttack'] ?? [])].join('\n');
  const settings = report['settings'] as ReportSettings;
  const subtitle = `${settings.rounds} round(s) × ${settings.seconds} s · one worker on CPU 0, load + upstream on CPU 1 · bar: median, whiskers: min–max, ×: ratio to nginx (same round)`;
  const title = `certgate vs nginx, HAProxy, Caddy: mutual TLS on one core (${String(report['startedAt']).slice(0, 16)}Z)`;
  return { markdown, svg: svgChart(title, subtitle, chartPanels(summary, names, rounds, settings)) };
}
