// `certgate serve`'s observability flags: the admin listener (metrics, health), the access log.
// Each has a CERTGATE_* variable; the workers parse the same command line and environment.
import { InvalidArgumentError, Option } from 'commander';
import { parsePort } from './options.ts';

/** The port Prometheus exporters commonly take for an app's own metrics; clear of 8443, 8080, 9443. */
export const DEFAULT_ADMIN_PORT = 9464;

export interface ObserveSettings {
  /** Unset: the default port, or 0 (any free port) when --https-port is 0 (tests, several instances). */
  adminPort: number | undefined;
  adminBind: string;
  /** --no-metrics: no metrics are kept (the admin listener still answers the health probes). */
  metrics: boolean;
  /** `stdout`, `off`, or a file path (reopened on SIGHUP). */
  accessLog: string;
  accessLogSample: number;
  accessLogQuery: boolean;
  /** Milliseconds: client certificates not seen for this long leave the inventory. */
  clientCertificateRetention: number;
}

const DAY_MS = 86_400_000;

/** `90d`, `12h`, or a bare number of days; from 1 hour to 10 years. */
export function parseRetention(value: string): number {
  const match = /^(\d+)(d|h)?$/.exec(value.trim());
  const ms = match ? Number(match[1]) * (match[2] === 'h' ? 3_600_000 : DAY_MS) : Number.NaN;
  if (!(ms >= 3_600_000 && ms <= 3_650 * DAY_MS)) throw new InvalidArgumentError('expected days (90, 90d) or hours (12h), from 1 hour to 10 years');
  return ms;
}

export function parseSampleRate(value: string): number {
  const rate = Number(value);
  if (!/^(0|1|0?\.\d+|1\.0*)$/.test(value.trim()) || !(rate > 0 && rate <= 1)) throw new InvalidArgumentError('expected a share of requests above 0 and at most 1 (1: every request, 0.1: one in ten)');
  return rate;
}

export function observeOptions(): Option[] {
  return [
    new Option('--admin-port <port>', 'port of the admin listener: /metrics (Prometheus), /healthz, /readyz').env('CERTGATE_ADMIN_PORT').default(undefined, `${DEFAULT_ADMIN_PORT}; 0 when --https-port is 0`).argParser(parsePort),
    new Option('--admin-bind <address>', 'address the admin listener listens on (loopback by default: metrics name apps and reasons)').env('CERTGATE_ADMIN_BIND').default('127.0.0.1'),
    new Option('--no-metrics', 'keep no metrics (/metrics answers empty; the health probes stay)').env('CERTGATE_NO_METRICS'),
    new Option('--access-log <destination>', "one JSON line per request and per refusal: 'stdout', a file (reopened on SIGHUP), or 'off'").env('CERTGATE_ACCESS_LOG').default('stdout'),
    new Option('--access-log-sample <share>', 'share of requests logged, above 0 and at most 1 (refusals are always logged)').env('CERTGATE_ACCESS_LOG_SAMPLE').default(1).argParser(parseSampleRate),
    new Option('--client-certificate-retention <days>', 'client certificates not seen for this long leave the inventory (90d, 12h)').env('CERTGATE_CLIENT_CERTIFICATE_RETENTION').default(90 * DAY_MS, '90d').argParser(parseRetention),
    new Option('--access-log-query', 'log request paths with their query string (left out by default: queries carry tokens)').env('CERTGATE_ACCESS_LOG_QUERY'),
  ];
}

/** The port the admin listener takes: the flag, else the default (0 when the ingress asks for free ports). */
export function adminPort(settings: Pick<ObserveSettings, 'adminPort'>, httpsPort: number): number {
  return settings.adminPort ?? (httpsPort === 0 ? 0 : DEFAULT_ADMIN_PORT);
}

/** The ports the admin listener must not share (the ingress's and the management API's), as flags. */
export function adminPortConflict(adminPort: number, others: readonly [flag: string, port: number | undefined][]): string | undefined {
  if (adminPort === 0) return undefined;
  const taken = others.find(([, port]) => port === adminPort);
  return taken ? `option '--admin-port' (${adminPort}) cannot be the port of '${taken[0]}': the admin listener never shares a port with the ingress or the management API` : undefined;
}
