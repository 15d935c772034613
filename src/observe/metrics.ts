// The ingress's Prometheus metrics (prom-client), one registry per ingress process. Labels are
// bounded: an app (`<resource group>/<name>`, or `none` for connections under no app), a reason from
// the catalog (src/ingress/reasons.ts), a TLS version, a method from a fixed list, a status class.
// Never a certificate or a client address: a client cannot grow the label sets. The per-app label
// children are made when a snapshot is prepared (or once, on first use, for the few combinations
// that depend on traffic), so the hot path increments an object it already holds: no label string
// is built per request. docs/observability.md lists every metric.
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { CounterFamily, HistogramFamily, type CounterSeries, type HistogramSeries } from './series.ts';
import { X509Certificate } from 'node:crypto';
import { METHODS, methodIndex } from './methods.ts';
import type { CompiledApp, RouteSnapshot, TlsPolicy } from '../ingress/snapshot.ts';

/** `none`: the client went away before any answer. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'] as const;
export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3', 'other'] as const;

/** The label `app` of connections and requests under no app (no SNI, an unknown name, plain HTTP without a route). */
export const NO_APP = 'none';

/** Seconds; the request and upstream buckets span a fast local app to a slow upload. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const HANDSHAKE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

/** The label value for an app: short, stable, and bounded by the apps configured. */
export function appLabel(app: Pick<CompiledApp, 'id' | 'name'>): string {
  const match = /\/resourcegroups\/([^/]+)\/.*\/containerapps\/([^/]+)$/i.exec(app.id);
  return (match ? `${match[1]}/${match[2]}` : app.name).toLowerCase();
}

/** notAfter (ms) of the certificate a policy serves, read once per policy (policies are reused across snapshots). */
const policyExpiry = new WeakMap<TlsPolicy, number | undefined>();

function serverCertificateNotAfter(policy: TlsPolicy): number | undefined {
  if (policyExpiry.has(policy)) return policyExpiry.get(policy);
  let notAfter: number | undefined;
  try {
    const der = (policy.secureContext as unknown as { context: { getCertificate(): Buffer | null } }).context.getCertificate();
    notAfter = der ? new X509Certificate(der).validToDate.getTime() : undefined;
  } catch {
    notAfter = undefined;
  }
  policyExpiry.set(policy, notAfter);
  return notAfter;
}

/** One app's label children, made once: the hot path only calls inc/observe on them. */
export class AppMetrics {
  readonly label: string;
  mode: string;
  /** The app as the last prepared snapshot holds it (for the pool gauges). */
  compiled: CompiledApp | undefined;
  readonly #metrics: IngressMetrics;
  /** Every series made for this app, to remove them with the app. */
  readonly series: [family: CounterFamily | HistogramFamily, series: CounterSeries | HistogramSeries][] = [];
  /** connections by TLS version × resumed; requests by method × status class: made on first use. */
  readonly #connections: (CounterSeries | undefined)[] = [];
  readonly #requests: (CounterSeries | undefined)[] = [];
  readonly #refusals = new Map<string, CounterSeries>();
  readonly #upstreamFailures = new Map<string, CounterSeries>();
  readonly #limits = new Map<string, CounterSeries>();
  readonly handshake: HistogramSeries;
  readonly requestDuration: HistogramSeries;
  readonly upstreamDuration: HistogramSeries;
  /** The soonest notAfter (ms since the epoch) among the client certificates seen; Infinity: none yet. */
  clientCertificateExpiry = Number.POSITIVE_INFINITY;
  /** The soonest notAfter among the app's server certificates; undefined: not known. */
  serverCertificateExpiry: number | undefined;

  constructor(metrics: IngressMetrics, label: string, mode: string) {
    this.#metrics = metrics;
    this.label = label;
    this.mode = mode;
    this.handshake = this.#histogram(metrics.handshakeDuration);
    this.requestDuration = this.#histogram(metrics.requestDuration);
    this.upstreamDuration = this.#histogram(metrics.upstreamDuration);
  }

  connection(tlsVersion: string | null, resumed: boolean): void {
    const version = tlsVersion === 'TLSv1.3' ? 1 : tlsVersion === 'TLSv1.2' ? 0 : 2;
    const index = version * 2 + (resumed ? 1 : 0);
    let child = this.#connections[index];
    if (child === undefined) {
      child = this.#child(this.#metrics.connections, { app: this.label, mode: this.mode, tls_version: TLS_VERSIONS[version]!, resumed: resumed ? 'true' : 'false' });
      this.#connections[index] = child;
    }
    child.inc();
  }

  request(method: string, status: number, durationSeconds: number): void {
    const methodAt = methodIndex(method);
    const statusIndex = status >= 100 && status < 600 ? Math.floor(status / 100) - 1 : 5;
    const index = methodAt * STATUS_CLASSES.length + statusIndex;
    let child = this.#requests[index];
    if (child === undefined) {
      child = this.#child(this.#metrics.requests, { app: this.label, method: METHODS[methodAt]!, status_class: STATUS_CLASSES[statusIndex]! });
      this.#requests[index] = child;
    }
    child.inc();
    this.requestDuration.observe(durationSeconds);
  }

  /** `reason` is a catalog code: the maps hold at most one child per code. */
  refusal(reason: string): void {
    this.#byReason(this.#refusals, this.#metrics.refusals, 'reason', reason).inc();
    if (LIMIT_REASONS.has(reason)) this.#byReason(this.#limits, this.#metrics.limitsHit, 'limit', reason).inc();
  }

  upstreamFailure(reason: string): void {
    this.#byReason(this.#upstreamFailures, this.#metrics.upstreamFailures, 'reason', reason).inc();
  }

  #byReason(children: Map<string, CounterSeries>, metric: CounterFamily, label: 'reason' | 'limit', reason: string): CounterSeries {
    let child = children.get(reason);
    if (child === undefined) {
      child = this.#child(metric, { app: this.label, [label]: reason });
      children.set(reason, child);
    }
    return child;
  }

  /** A mode change: the next connections are counted under the new mode (the old series stay). */
  setMode(mode: string): void {
    if (mode === this.mode) return;
    this.mode = mode;
    this.#connections.length = 0;
  }

  /** The soonest notAfter of the app's server certificates in the snapshot just prepared (undefined: none known). */
  setServerCertificateExpiry(notAfterMs: number | undefined): void {
    if (notAfterMs === this.serverCertificateExpiry) return;
    this.serverCertificateExpiry = notAfterMs;
    if (notAfterMs === undefined) this.#metrics.serverCertificateExpiry.remove({ app: this.label });
    else this.#metrics.serverCertificateExpiry.labels(this.label).set(notAfterMs / 1000);
  }

  #child(family: CounterFamily, labels: Record<string, string>): CounterSeries {
    const series = family.series(Object.freeze(labels));
    this.series.push([family, series]);
    return series;
  }

  #histogram(family: HistogramFamily): HistogramSeries {
    const series = family.series(Object.freeze({ app: this.label }));
    this.series.push([family, series]);
    return series;
  }

  clientCertificateSeen(notAfterMs: number): void {
    if (notAfterMs < this.clientCertificateExpiry) {
      this.clientCertificateExpiry = notAfterMs;
      this.#metrics.clientCertificateExpiry.labels(this.label).set(notAfterMs / 1000);
    }
  }
}

/** The reasons that are a limit of the hardening work being hit (counted again in certgate_limits_hit_total). */
export const LIMIT_REASONS: ReadonlySet<string> = new Set([
  'clienthello_timeout',
  'clienthello_too_large',
  'handshake_timeout',
  'request_head_timeout',
  'request_head_too_large',
  'request_body_timeout',
  'too_many_headers',
  'queue_full',
  'queue_timeout',
  'client_write_timeout',
  'tcp_connection_limit',
  'tcp_client_limit',
  'websocket_tunnels_full',
  'websocket_client_tunnels_full',
  'websocket_handshake_timeout',
  'websocket_idle_timeout',
  'h2_rapid_reset',
  'h2_control_flood',
]);

/** What the pool gauges read at scrape time (the ingress's upstream pools). */
export interface PoolReader {
  /** Open connections and waiting requests of the app's pool; undefined: no pool yet. */
  stats(app: CompiledApp): { connections: number; queued: number } | undefined;
}

export class IngressMetrics {
  readonly registry: Registry;
  // Counted on the hot path: plain series (series.ts), labels app, mode, tls_version, resumed / reason / limit / method, status_class.
  readonly connections: CounterFamily;
  readonly handshakeDuration: HistogramFamily;
  readonly refusals: CounterFamily;
  readonly limitsHit: CounterFamily;
  readonly requests: CounterFamily;
  readonly requestDuration: HistogramFamily;
  readonly upstreamDuration: HistogramFamily;
  readonly upstreamFailures: CounterFamily;
  readonly clientCertificateExpiry: Gauge<'app'>;
  readonly serverCertificateExpiry: Gauge<'app'>;
  readonly revision: Gauge;
  readonly snapshotFailures: Counter;
  readonly workers: Gauge;
  /** Per-app children, by the compiled app (a new snapshot's unchanged apps keep theirs by key). */
  #apps = new WeakMap<CompiledApp, AppMetrics>();
  #byKey = new Map<string, AppMetrics>();
  #snapshot: RouteSnapshot | undefined;
  readonly none: AppMetrics;

  /** `registry`: an AggregatorRegistry in a worker (the primary collects it over IPC), else a plain one. */
  #pools: PoolReader | undefined;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const reader = () => this.#pools;
    const registers = [registry];
    this.connections = new CounterFamily(registry, 'certgate_connections_total', 'TLS connections whose handshake finished, by app, client-certificate mode, TLS version and session resumption');
    this.handshakeDuration = new HistogramFamily(registry, 'certgate_tls_handshake_duration_seconds', 'From the ClientHello to a finished TLS handshake', HANDSHAKE_BUCKETS);
    this.refusals = new CounterFamily(registry, 'certgate_refusals_total', 'Connections closed and requests refused, by app and reason code (docs/observability.md)');
    this.limitsHit = new CounterFamily(registry, 'certgate_limits_hit_total', 'Refusals because a limit was reached (slow clients, floods, full queues), by app and limit');
    this.requests = new CounterFamily(registry, 'certgate_requests_total', 'Requests answered, by app, method and status class');
    this.requestDuration = new HistogramFamily(registry, 'certgate_request_duration_seconds', 'From the request head to the end of the answer', REQUEST_BUCKETS);
    this.upstreamDuration = new HistogramFamily(registry, 'certgate_upstream_duration_seconds', "From forwarding the request (queue included) to the app's response head", REQUEST_BUCKETS);
    this.upstreamFailures = new CounterFamily(registry, 'certgate_upstream_failures_total', 'Requests the app could not answer, by app and reason code');
    this.clientCertificateExpiry = new Gauge({ name: 'certgate_client_certificate_expiry_timestamp_seconds', help: 'The soonest notAfter among the client certificates seen, per app (Unix time)', labelNames: ['app'], aggregator: 'min', registers });
    this.serverCertificateExpiry = new Gauge({ name: 'certgate_server_certificate_expiry_timestamp_seconds', help: "The soonest notAfter among the app's server certificates (Unix time)", labelNames: ['app'], aggregator: 'min', registers });
    this.revision = new Gauge({ name: 'certgate_config_revision', help: 'The store revision the ingress enforces (across workers: the lowest)', aggregator: 'min', registers });
    this.snapshotFailures = new Counter({ name: 'certgate_snapshot_build_failures_total', help: 'Route snapshots that could not be built (the previous one kept serving)', registers });
    this.workers = new Gauge({ name: 'certgate_ingress_workers', help: 'Ingress processes that answered this scrape', registers });
    this.workers.set(1);
    const snapshotApps = () => this.#byKey.values();
    const poolGauge = (name: string, help: string, read: (stats: { connections: number; queued: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['app'],
        registers,
        collect() {
          // Read at scrape time: the pools count anyway, the hot path does nothing for these.
          this.reset();
          const pools = reader();
          if (!pools) return;
          for (const app of snapshotApps()) {
            const stats = app.compiled ? pools.stats(app.compiled) : undefined;
            if (stats) this.labels(app.label).set(read(stats));
          }
        },
      });
    poolGauge('certgate_upstream_connections', "Open connections to the app (the pool's saturation against --upstream-max-connections)", (stats) => stats.connections);
    poolGauge('certgate_upstream_queue_length', 'Requests waiting for a connection to the app', (stats) => stats.queued);
    this.none = new AppMetrics(this, NO_APP, 'none');
  }

  /** The ingress's pools, read by the pool gauges at scrape time. */
  attachPools(pools: PoolReader): void {
    this.#pools = pools;
  }

  /** Made at each swap, before the snapshot serves: the per-app children of every app it holds. */
  prepare(snapshot: RouteSnapshot): void {
    const expiries = new Map<string, number>();
    const apps = new WeakMap<CompiledApp, AppMetrics>();
    const byKey = new Map<string, AppMetrics>();
    for (const route of snapshot.internalRoutes.values()) {
      const app = route.app;
      const notAfter = serverCertificateNotAfter(route.tls);
      if (notAfter !== undefined) {
        const soonest = expiries.get(app.key);
        if (soonest === undefined || notAfter < soonest) expiries.set(app.key, notAfter);
      }
      if (apps.has(app)) continue;
      const label = appLabel(app);
      const previous = byKey.get(app.key) ?? this.#byKey.get(app.key);
      const metrics = previous && previous.label === label ? previous : new AppMetrics(this, label, app.mode);
      metrics.setMode(app.mode);
      metrics.compiled = app;
      apps.set(app, metrics);
      byKey.set(app.key, metrics);
    }
    // Apps removed take their series with them (bounded by the apps configured, not by history).
    for (const [key, metrics] of this.#byKey) if (byKey.get(key) !== metrics) this.#remove(metrics);
    for (const [key, metrics] of byKey) metrics.setServerCertificateExpiry(expiries.get(key));
    this.#apps = apps;
    this.#byKey = byKey;
    this.#snapshot = snapshot;
    this.revision.set(snapshot.revision);
  }

  /** The app's children (prepared at the swap); `none` for no app. */
  forApp(app: CompiledApp | undefined): AppMetrics {
    if (app === undefined) return this.none;
    return this.#apps.get(app) ?? this.#late(app);
  }

  /** The app with this resource id (TCP routes name their app by id); `none` when it is not served. */
  forId(id: string): AppMetrics {
    return this.#byKey.get(id.toLowerCase()) ?? this.none;
  }

  /** An app of a snapshot not prepared (a request admitted under the previous one): made once. */
  #late(app: CompiledApp): AppMetrics {
    const metrics = this.#byKey.get(app.key) ?? new AppMetrics(this, appLabel(app), app.mode);
    this.#apps.set(app, metrics);
    return metrics;
  }

  #remove(metrics: AppMetrics): void {
    for (const metric of [this.clientCertificateExpiry, this.serverCertificateExpiry]) metric.remove({ app: metrics.label });
    for (const [family, series] of metrics.series) family.remove(series as never);
  }


  get snapshot(): RouteSnapshot | undefined {
    return this.#snapshot;
  }
}

/** In a worker: the registry the primary's AggregatorRegistry collects over IPC (prom-client's cluster protocol). */
export function workerRegistry(): Registry {
  const registry = new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  return registry as unknown as Registry;
}

export { AggregatorRegistry };
