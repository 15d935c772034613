// Counters and histograms whose series are plain objects: the hot path adds to a number (a bucket
// found by a short loop), with no label hashing or string building; prom-client formats and
// aggregates them at scrape time (each family is a metric of the registry: `get()` in prom-client's
// shape, so the AggregatorRegistry sums the workers' series as it does its own).
// prom-client's own children hash their labels on every inc/observe, which costs a string per call.
import type { Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

export class CounterSeries {
  value = 0;
  readonly labels: Labels;
  constructor(labels: Labels) {
    this.labels = labels;
  }
  inc(): void {
    this.value++;
  }
}

export class HistogramSeries {
  readonly labels: Labels;
  readonly #bounds: readonly number[];
  /** Per bucket (not cumulative), the last for +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

interface MetricValue {
  value: number;
  labels: Labels;
  metricName?: string;
}

abstract class Family<S extends { labels: Labels }> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Set<S>();

  constructor(registry: Registry, name: string, help: string) {
    this.name = name;
    this.help = help;
    registry.registerMetric(this as never);
  }

  protected add(series: S): S {
    this.#series.add(series);
    return series;
  }

  remove(series: S): void {
    this.#series.delete(series);
  }

  protected get all(): Iterable<S> {
    return this.#series;
  }

  abstract values(): MetricValue[];

  /** prom-client's metric shape (read by the registry and the cluster aggregator). */
  get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: string } {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }

  reset(): void {
    this.#series.clear();
  }
}

export class CounterFamily extends Family<CounterSeries> {
  readonly type = 'counter';
  series(labels: Labels): CounterSeries {
    return this.add(new CounterSeries(labels));
  }
  values(): MetricValue[] {
    return [...this.all].map((series) => ({ value: series.value, labels: series.labels }));
  }
}

export class HistogramFamily extends Family<HistogramSeries> {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];
  readonly #le: readonly string[];
  constructor(registry: Registry, name: string, help: string, bounds: readonly number[]) {
    super(registry, name, help);
    this.#bounds = bounds;
    this.#le = [...bounds.map(String), '+Inf'];
  }
  series(labels: Labels): HistogramSeries {
    return this.add(new HistogramSeries(labels, this.#bounds));
  }
  values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const series of this.all) {
      let cumulative = 0;
      for (let i = 0; i < this.#le.length; i++) {
        cumulative += series.counts[i]!;
        out.push({ metricName: `${this.name}_bucket`, labels: { le: this.#le[i]!, ...series.labels }, value: cumulative });
      }
      out.push({ metricName: `${this.name}_sum`, labels: series.labels, value: series.sum });
      out.push({ metricName: `${this.name}_count`, labels: series.labels, value: series.count });
    }
    return out;
  }
}
