// Medians, min–max and ratios to nginx from the same round; the Markdown report and the SVG chart.
import type { LoadResult } from './load.ts';
import type { Memory } from './system.ts';

export interface ScenarioResult extends LoadResult {
  /** The proxy's CPU time (every process and thread) over the scenario. */
  proxyCpuSeconds: number;
  /** The proxy's CPU use, percent of one core: near 100 × workers means the proxy was the limit. */
  proxyCpuPercent: number;
  /** Proxy CPU per request (keep-alive) or per connection (handshake scenarios), microseconds. */
  cpuPerUnitUs: number;
}

export interface MemoryResult {
  idle: Memory;
  held: Memory;
  connections: number;
  open: number;
  failed: number;
  perConnectionKiB: number;
  openSeconds: number;
}

export interface ProxyRound {
  proxy: string;
  round: number;
  ok: boolean;
  error?: string;
  resumes?: boolean;
  memory?: MemoryResult;
  h1?: ScenarioResult;
  h2?: ScenarioResult;
  fixed?: ScenarioResult & { targetRate: number };
  /** The same at half of this proxy's own maximum: its latency when not saturated. */
  fixedOwn?: ScenarioResult & { targetRate: number };
  handshakes?: ScenarioResult & { tls: string };
  resumed?: ScenarioResult;
  stime?: ScenarioResult;
}

export interface Metric {
  readonly key: string;
  readonly label: string;
  readonly better: 'higher' | 'lower' | 'none';
  readonly get: (round: ProxyRound) => number | undefined;
}

export const METRICS: readonly Metric[] = [
  { key: 'h1.rate', label: 'HTTP/1.1 keep-alive: requests/s', better: 'higher', get: (r) => r.h1?.rate },
  { key: 'h1.p50', label: 'HTTP/1.1 keep-alive: p50 latency, ms', better: 'lower', get: (r) => r.h1?.latencyMs?.p50 },
  { key: 'h1.p99', label: 'HTTP/1.1 keep-alive: p99 latency, ms', better: 'lower', get: (r) => r.h1?.latencyMs?.p99 },
  { key: 'h1.cpu', label: 'HTTP/1.1: proxy CPU per request, µs', better: 'lower', get: (r) => r.h1?.cpuPerUnitUs },
  { key: 'h1.proxy', label: 'HTTP/1.1: proxy CPU, % of a core', better: 'none', get: (r) => r.h1?.proxyCpuPercent },
  { key: 'h1.gen', label: 'HTTP/1.1: wrk CPU, % of a core', better: 'none', get: (r) => r.h1?.generatorCpuPercent },
  { key: 'h2.rate', label: 'HTTP/2: requests/s', better: 'higher', get: (r) => r.h2?.rate },
  { key: 'h2.mean', label: 'HTTP/2: mean latency, ms', better: 'lower', get: (r) => r.h2?.latencyMs?.mean },
  { key: 'h2.cpu', label: 'HTTP/2: proxy CPU per request, µs', better: 'lower', get: (r) => r.h2?.cpuPerUnitUs },
  { key: 'h2.gen', label: 'HTTP/2: h2load CPU, % of a core', better: 'none', get: (r) => r.h2?.generatorCpuPercent },
  { key: 'hs.rate', label: 'full mTLS handshakes/s (ab, one request each)', better: 'higher', get: (r) => r.handshakes?.rate },
  { key: 'hs.cpu', label: 'proxy CPU per full handshake + request, ms', better: 'lower', get: (r) => usToMs(r.handshakes?.cpuPerUnitUs) },
  { key: 'hs.capacity', label: 'handshakes/s per CPU-second (1 / CPU per handshake)', better: 'higher', get: (r) => (r.handshakes ? 1e6 / r.handshakes.cpuPerUnitUs : undefined) },
  { key: 'hs.p50', label: 'full handshake + request: p50, ms (ab, whole ms)', better: 'lower', get: (r) => r.handshakes?.latencyMs?.p50 },
  { key: 'hs.p99', label: 'full handshake + request: p99, ms (ab, whole ms)', better: 'lower', get: (r) => r.handshakes?.latencyMs?.p99 },
  { key: 'hs.proxy', label: 'handshakes: proxy CPU, % of a core', better: 'none', get: (r) => r.handshakes?.proxyCpuPercent },
  { key: 'hs.gen', label: 'handshakes: ab CPU, % of a core', better: 'none', get: (r) => r.handshakes?.generatorCpuPercent },
  { key: 'st.rate', label: 'one handshake at a time (s_time -new): connections/s', better: 'higher', get: (r) => r.stime?.rate },
  { key: 'st.mean', label: 'one handshake at a time: mean, ms', better: 'lower', get: (r) => r.stime?.latencyMs?.mean },
  { key: 'rs.rate', label: 'resumed TLS connections/s (wrk, Connection: close)', better: 'higher', get: (r) => r.resumed?.rate },
  { key: 'rs.cpu', label: 'proxy CPU per resumed connection + request, ms', better: 'lower', get: (r) => usToMs(r.resumed?.cpuPerUnitUs) },
  { key: 'mem.idle', label: 'memory idle: PSS, MiB', better: 'lower', get: (r) => r.memory?.idle.pssMiB },
  { key: 'mem.idleRss', label: 'memory idle: RSS (sum of processes), MiB', better: 'lower', get: (r) => r.memory?.idle.rssMiB },
  { key: 'mem.held', label: 'memory with the idle mTLS connections: PSS, MiB', better: 'lower', get: (r) => r.memory?.held.pssMiB },
  { key: 'mem.heldRss', label: 'memory with the idle mTLS connections: RSS, MiB', better: 'lower', get: (r) => r.memory?.held.rssMiB },
  { key: 'mem.perConn', label: 'memory per idle mTLS connection, KiB', better: 'lower', get: (r) => r.memory?.perConnectionKiB },
  { key: 'fx.rate', label: 'fixed rate: achieved requests/s', better: 'none', get: (r) => r.fixed?.rate },
  { key: 'fx.p50', label: 'fixed rate: p50 latency, ms', better: 'lower', get: (r) => r.fixed?.latencyMs?.p50 },
  { key: 'fx.p99', label: 'fixed rate: p99 latency, ms', better: 'lower', get: (r) => r.fixed?.latencyMs?.p99 },
  { key: 'fx.p999', label: 'fixed rate: p99.9 latency, ms', better: 'lower', get: (r) => r.fixed?.latencyMs?.p999 },
  { key: 'fx.cpu', label: 'fixed rate: proxy CPU per request, µs', better: 'lower', get: (r) => r.fixed?.cpuPerUnitUs },
  { key: 'fo.rate', label: 'half its own maximum: requests/s', better: 'none', get: (r) => r.fixedOwn?.rate },
  { key: 'fo.p50', label: 'half its own maximum: p50 latency, ms', better: 'lower', get: (r) => r.fixedOwn?.latencyMs?.p50 },
  { key: 'fo.p99', label: 'half its own maximum: p99 latency, ms', better: 'lower', get: (r) => r.fixedOwn?.latencyMs?.p99 },
  { key: 'fo.p999', label: 'half its own maximum: p99.9 latency, ms', better: 'lower', get: (r) => r.fixedOwn?.latencyMs?.p999 },
];

function usToMs(value: number | undefined): number | undefined {
  return value === undefined ? undefined : value / 1000;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: readonly number[]): Spread | undefined {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (finite.length === 0) return undefined;
  const middle = Math.floor(finite.length / 2);
  const median = finite.length % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2;
  return { median, min: finite[0]!, max: finite.at(-1)!, n: finite.length };
}

export interface MetricSummary {
  value: Spread;
  /** value / nginx's value in the same round. */
  ratioToNginx?: Spread;
}

export type Summary = Record<string, Record<string, MetricSummary>>;

/** For each metric and proxy: the spread over rounds, and of the ratio to nginx's figure of the same round. */
export function summarize(rounds: readonly ProxyRound[], proxies: readonly string[], reference = 'nginx'): Summary {
  const summary: Summary = {};
  for (const metric of METRICS) {
    const byProxy: Record<string, MetricSummary> = {};
    for (const proxy of proxies) {
      const mine = rounds.filter((r) => r.proxy === proxy && r.ok);
      const value = spread(mine.map((r) => metric.get(r) ?? Number.NaN));
      if (!value) continue;
      const ratios = mine.map((r) => {
        const ref = rounds.find((other) => other.proxy === reference && other.round === r.round && other.ok);
        const a = metric.get(r);
        const b = ref ? metric.get(ref) : undefined;
        return a !== undefined && b !== undefined && b !== 0 ? a / b : Number.NaN;
      });
      byProxy[proxy] = { value, ratioToNginx: spread(ratios) };
    }
    summary[metric.key] = byProxy;
  }
  return summary;
}

/** Ratio of two proxies' figures from the same rounds (certgate ÷ caddy, say). */
export function pairRatio(rounds: readonly ProxyRound[], metric: Metric, a: string, b: string): Spread | undefined {
  const ratios: number[] = [];
  for (const mine of rounds.filter((r) => r.proxy === a && r.ok)) {
    const other = rounds.find((r) => r.proxy === b && r.round === mine.round && r.ok);
    const x = metric.get(mine);
    const y = other ? metric.get(other) : undefined;
    if (x !== undefined && y !== undefined && y !== 0) ratios.push(x / y);
  }
  return spread(ratios);
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatSpread(spread: Spread | undefined): string {
  if (!spread) return '–';
  if (spread.n === 1) return formatNumber(spread.median);
  return `${formatNumber(spread.median)} (${formatNumber(spread.min)}–${formatNumber(spread.max)})`;
}

export function formatRatio(spread: Spread | undefined): string {
  if (!spread) return '';
  if (spread.n === 1) return `×${spread.median.toFixed(2)}`;
  return `×${spread.median.toFixed(2)} (${spread.min.toFixed(2)}–${spread.max.toFixed(2)})`;
}

export function markdownTable(summary: Summary, proxies: readonly string[], metrics: readonly Metric[] = METRICS): string {
  const lines = [`| figure | ${proxies.join(' | ')} |`, `|---|${proxies.map(() => '---:').join('|')}|`];
  for (const metric of metrics) {
    const row = summary[metric.key];
    if (!row || Object.keys(row).length === 0) continue;
    const cells = proxies.map((proxy) => {
      const cell = row[proxy];
      if (!cell) return '–';
      const ratio = proxy.startsWith('nginx') || metric.better === 'none' ? '' : `<br>${formatRatio(cell.ratioToNginx)}`;
      return `${formatSpread(cell.value)}${ratio}`;
    });
    lines.push(`| ${metric.label} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The chart: one panel per headline figure, a bar per proxy (median) with its min–max, the ratio
// to nginx printed beside it, and the target where there is one.

export interface ChartPanel {
  title: string;
  better: 'higher' | 'lower';
  unit: string;
  bars: { label: string; spread: Spread; ratio?: Spread; highlight?: boolean; note?: string }[];
  /** A target drawn as a dashed line. */
  target?: { value: number; label: string };
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function svgChart(title: string, subtitle: string, panels: readonly ChartPanel[]): string {
  const columns = 2;
  const panelWidth = 520;
  const barHeight = 22;
  const gap = 8;
  const labelWidth = 80;
  const valueWidth = 150;
  const heights = panels.map((panel) => 40 + panel.bars.length * (barHeight + gap) + 24);
  const rows: number[] = [];
  for (let i = 0; i < panels.length; i += columns) rows.push(Math.max(...heights.slice(i, i + columns)));
  const top = 64;
  const width = columns * panelWidth + 20;
  const height = top + rows.reduce((sum, h) => sum + h, 0) + 10;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, Helvetica, sans-serif">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="14" y="26" font-size="18" font-weight="bold">${escape(title)}</text>`);
  out.push(`<text x="14" y="48" font-size="12" fill="#555">${escape(subtitle)}</text>`);
  let y = top;
  panels.forEach((panel, index) => {
    const column = index % columns;
    if (index > 0 && column === 0) y += rows[Math.floor(index / columns) - 1]!;
    const x = 10 + column * panelWidth;
    const plotX = x + labelWidth;
    const plotWidth = panelWidth - labelWidth - valueWidth - 20;
    const maxValue = Math.max(...panel.bars.map((bar) => bar.spread.max), panel.target?.value ?? 0) * 1.05 || 1;
    const scale = (value: number) => (value / maxValue) * plotWidth;
    out.push(`<g>`);
    out.push(`<text x="${x + 4}" y="${y + 18}" font-size="13" font-weight="bold">${escape(panel.title)}</text>`);
    out.push(`<text x="${x + panelWidth - 24}" y="${y + 18}" font-size="11" fill="#777" text-anchor="end">${panel.better === 'higher' ? 'higher is better' : 'lower is better'}</text>`);
    panel.bars.forEach((bar, i) => {
      const by = y + 30 + i * (barHeight + gap);
      const fill = bar.highlight ? '#d9480f' : '#4263eb';
      out.push(`<text x="${plotX - 6}" y="${by + barHeight / 2 + 4}" font-size="12" text-anchor="end"${bar.highlight ? ' font-weight="bold"' : ''}>${escape(bar.label)}</text>`);
      out.push(`<rect x="${plotX}" y="${by}" width="${Math.max(1, scale(bar.spread.median)).toFixed(1)}" height="${barHeight}" fill="${fill}" opacity="0.85"/>`);
      if (bar.spread.n > 1) {
        const x1 = plotX + scale(bar.spread.min);
        const x2 = plotX + scale(bar.spread.max);
        const cy = by + barHeight / 2;
        out.push(`<path d="M${x1.toFixed(1)} ${cy} H${x2.toFixed(1)} M${x1.toFixed(1)} ${cy - 5} V${cy + 5} M${x2.toFixed(1)} ${cy - 5} V${cy + 5}" stroke="#222" stroke-width="1.2" fill="none"/>`);
      }
      const ratio = bar.ratio && bar.label !== 'nginx' ? `  ×${bar.ratio.median.toFixed(2)}` : '';
      const textY = bar.note ? by + 9 : by + barHeight / 2 + 4;
      out.push(`<text x="${plotX + plotWidth + 8}" y="${textY}" font-size="12">${escape(`${formatNumber(bar.spread.median)} ${panel.unit}${ratio}`)}</text>`);
      if (bar.note) out.push(`<text x="${plotX + plotWidth + 8}" y="${by + 21}" font-size="10" fill="#c92a2a">${escape(bar.note)}</text>`);
    });
    if (panel.target) {
      const tx = plotX + scale(panel.target.value);
      const y1 = y + 24;
      const y2 = y + 30 + panel.bars.length * (barHeight + gap);
      out.push(`<line x1="${tx.toFixed(1)}" y1="${y1}" x2="${tx.toFixed(1)}" y2="${y2}" stroke="#2b8a3e" stroke-width="2" stroke-dasharray="5 3"/>`);
      out.push(`<text x="${tx.toFixed(1)}" y="${y2 + 14}" font-size="11" fill="#2b8a3e" text-anchor="middle">${escape(panel.target.label)}</text>`);
    }
    out.push(`</g>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
