// What the ingress tells about itself: one object per ingress, holding the metrics (optional), the
// access log (optional) and the ring of recent refusals. The listener and the HTTP stage call it at
// three points: a finished handshake, a refusal (a closed connection or a refused request, with its
// reason code), and the end of a request. Everything per connection is worked out once, at the
// handshake; per request only counters are incremented and, when the access log is on, one line is
// handed to pino's asynchronous writer.
import type { ConnectionState } from '../ingress/listener/connection.ts';
import type { CompiledApp, RouteSnapshot } from '../ingress/snapshot.ts';
import type { AccessLog, ConnectionLog, RequestPrefix } from './access-log.ts';
import type { InventoryCollector } from './inventory-collector.ts';
import { appLabel, type AppMetrics, type IngressMetrics } from './metrics.ts';
import { RefusalRing } from './refusals.ts';
import type { RequestRecord } from './request-record.ts';
import type { ConnectionVerdict } from './verdict.ts';

export interface RefusalEvent {
  readonly reason: string;
  readonly clientAddress: string;
  readonly app?: CompiledApp | undefined;
  /** The app by resource id, when the stage has no compiled app (TCP ports). */
  readonly appId?: string | undefined;
  readonly servername?: string | undefined;
  readonly verdict?: ConnectionVerdict | undefined;
  readonly tlsVersion?: string | undefined;
  /** The lower layer's own code (OpenSSL's, the system's). */
  readonly cause?: string | undefined;
  readonly listener?: string | undefined;
}

export interface ObserverOptions {
  readonly metrics?: IngressMetrics | undefined;
  readonly accessLog?: AccessLog | undefined;
  /** The client certificates seen, pending their write to the store's inventory. */
  readonly inventory?: InventoryCollector | undefined;
  /** Where the inventory is written (one process, or the primary): certificates not seen for this long are pruned. */
  readonly inventoryRetentionMs?: number | undefined;
}

export class IngressObserver {
  readonly metrics: IngressMetrics | undefined;
  readonly accessLog: AccessLog | undefined;
  readonly inventory: InventoryCollector | undefined;
  readonly refusals = new RefusalRing();
  /** Whether requests are followed at all (metrics or access log on). */
  readonly followsRequests: boolean;
  /** Each connection's observed part (its app's metrics, its access-log fields), made on its first request. */
  readonly #connections = new WeakMap<ConnectionState, ObservedConnection>();
  /** Counts the snapshots prepared: a connection's cached metric children are from one of them. */
  #generation = 0;

  constructor(options: ObserverOptions = {}) {
    this.metrics = options.metrics;
    this.accessLog = options.accessLog;
    this.inventory = options.inventory;
    this.followsRequests = this.metrics !== undefined || this.accessLog !== undefined;
  }

  /** Before a snapshot serves: the per-app metric children. */
  prepare(snapshot: RouteSnapshot): void {
    this.metrics?.prepare(snapshot);
    // The connections' cached children are looked up again (an app removed took its series along).
    this.#generation++;
  }

  handshake(state: ConnectionState, tlsVersion: string | null, resumed: boolean, handshakeMs: number): void {
    const verdict = state.verdict;
    if (this.inventory !== undefined && state.route !== undefined && verdict?.thumbprint !== undefined) this.inventory.add(state.route.app.key, verdict, Date.now());
    const metrics = this.metrics;
    if (!metrics) return;
    const app = metrics.forApp(state.route?.app);
    app.connection(tlsVersion, resumed);
    app.handshake.observe(handshakeMs / 1000);
    const notAfter = state.verdict?.notAfter;
    if (notAfter !== undefined && state.route) app.clientCertificateSeen(Date.parse(notAfter));
  }

  /** `logLine` false: the request's own access-log line carries the reason (no second line). */
  refusal(event: RefusalEvent, logLine = true): void {
    const metrics = this.metrics;
    const appMetrics = metrics === undefined ? undefined : event.app === undefined && event.appId !== undefined ? metrics.forId(event.appId) : metrics.forApp(event.app);
    appMetrics?.refusal(event.reason);
    const app =
      appMetrics !== undefined && appMetrics !== metrics?.none ? appMetrics.label : event.app ? appLabel(event.app) : event.appId ? appLabel({ id: event.appId, name: event.appId }) : undefined;
    const verdict = event.verdict;
    this.refusals.push({
      time: new Date().toISOString(),
      ...(app ? { app } : {}),
      ...(event.servername ? { host: event.servername } : {}),
      reason: event.reason,
      ...(verdict ? { verdict: verdict.code } : {}),
      ...(verdict?.thumbprint ? { thumbprint: verdict.thumbprint, subject: verdict.subject } : {}),
      clientAddress: event.clientAddress,
    });
    if (logLine) this.accessLog?.refusal({ ...event, app });
  }

  /** At the end of a request (its answer complete, or the exchange abandoned). */
  requestDone(record: RequestRecord, connection: ConnectionState, now: number): void {
    const durationMs = now - record.start;
    const app = record.app;
    const observed = this.#observedConnection(connection, app);
    const appMetrics = observed.metrics;
    if (appMetrics !== undefined) {
      appMetrics.request(record.method, record.status, durationMs / 1000);
      if (record.upstreamMs >= 0) appMetrics.upstreamDuration.observe(record.upstreamMs / 1000);
      else if (record.forwarded && record.reason !== '') appMetrics.upstreamFailure(record.reason);
    }
    if (record.reason !== '') this.refusal({ reason: record.reason, clientAddress: connection.clientAddress, app, servername: connection.servername, verdict: connection.verdict }, false);
    const accessLog = this.accessLog;
    if (accessLog !== undefined && accessLog.sampled()) accessLog.request(observed.prefix!, record, durationMs);
  }

  /**
   * What every request of a connection shares, looked up once per request: the app's metric
   * children, its access-log field and the connection's fields (serialized at its first request).
   * Made again only when the app changes (a request refused, or admitted under another snapshot's
   * app) or a snapshot was prepared since.
   */
  #observedConnection(connection: ConnectionState, app: CompiledApp | undefined): ObservedConnection {
    const known = this.#connections.get(connection);
    if (known !== undefined && known.app === app && known.generation === this.#generation) return known;
    const metrics = this.metrics?.forApp(app);
    const accessLog = this.accessLog;
    const log = known?.log ?? accessLog?.forConnection(connection);
    const observed: ObservedConnection = {
      app,
      generation: this.#generation,
      metrics,
      log,
      prefix: accessLog === undefined ? undefined : accessLog.requestPrefix(log!, app === undefined ? '' : metrics !== undefined ? metrics.label : appLabel(app)),
    };
    this.#connections.set(connection, observed);
    return observed;
  }
}

/** Per connection, for its requests (IngressObserver.requestDone). */
interface ObservedConnection {
  readonly app: CompiledApp | undefined;
  readonly generation: number;
  readonly metrics: AppMetrics | undefined;
  /** The connection's access-log fields; undefined when the access log is off. */
  readonly log: ConnectionLog | undefined;
  /** The connection's and the app's access-log fields, serialized; undefined when the access log is off. */
  readonly prefix: RequestPrefix | undefined;
}
