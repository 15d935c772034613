// The ingress's limits as `certgate serve` flags (each with a CERTGATE_* variable): one table, the
// flag, the IngressOptions member it sets, its unit and its default as --help and the README show
// it (serve-limits.test.ts checks each default against the ingress's own). Unset flags leave the
// ingress's defaults. The workers parse the same command line and environment, so they get the same.
import { InvalidArgumentError, Option } from 'commander';

type Section = 'http' | 'upstream' | 'http2' | 'tls';
/** duration: seconds, or a number with ms/s/m/h; count: a whole number ≥ 1; rate: bytes per second ≥ 0. */
type Unit = 'duration' | 'count' | 'rate';

export interface LimitFlag {
  readonly flag: string;
  readonly section: Section;
  /** The member of the section's options (HttpTimeouts, UpstreamOptions, Http2Limits, TlsListenerLimits). */
  readonly key: string;
  readonly unit: Unit;
  /** As --help shows it; parsed by the unit's parser, it is the ingress's default. */
  readonly defaultText: string;
  readonly description: string;
}

export const LIMIT_FLAGS: readonly LimitFlag[] = [
  { flag: 'headers-timeout', section: 'http', key: 'headersTimeoutMs', unit: 'duration', defaultText: '20s', description: 'a request head must be complete within this time (slowloris); then 408' },
  { flag: 'keep-alive-timeout', section: 'http', key: 'keepAliveTimeoutMs', unit: 'duration', defaultText: '60s', description: 'idle client connections (HTTP/1.1 and HTTP/2) are closed after this time' },
  { flag: 'tls-client-hello-timeout', section: 'tls', key: 'clientHelloTimeoutMs', unit: 'duration', defaultText: '10s', description: "a connection's ClientHello must arrive within this time; then it is closed" },
  { flag: 'tls-handshake-timeout', section: 'tls', key: 'handshakeTimeoutMs', unit: 'duration', defaultText: '10s', description: 'from the ClientHello to a finished TLS handshake; then the connection is closed' },
  { flag: 'request-body-timeout', section: 'upstream', key: 'requestBodyTimeoutMs', unit: 'duration', defaultText: '300s', description: 'a whole request body must arrive within this time; then 408' },
  { flag: 'request-body-idle-timeout', section: 'upstream', key: 'requestBodyIdleTimeoutMs', unit: 'duration', defaultText: '10s', description: 'longest pause in a request body; then 408' },
  { flag: 'request-body-min-rate', section: 'upstream', key: 'requestBodyMinBytesPerSecond', unit: 'rate', defaultText: '1024', description: 'bytes/s a request body must average after its idle timeout (slow uploads); 0: no minimum' },
  { flag: 'upstream-connect-timeout', section: 'upstream', key: 'connectTimeoutMs', unit: 'duration', defaultText: '5s', description: 'connecting to an app; then 503' },
  { flag: 'upstream-response-timeout', section: 'upstream', key: 'responseTimeoutMs', unit: 'duration', defaultText: '60s', description: "an app's response head must come within this time after the request; then 504" },
  { flag: 'upstream-body-timeout', section: 'upstream', key: 'bodyTimeoutMs', unit: 'duration', defaultText: '300s', description: "longest pause in an app's response body; then the response is aborted" },
  { flag: 'upstream-max-connections', section: 'upstream', key: 'maxConnectionsPerApp', unit: 'count', defaultText: '256', description: 'connections to one app, per ingress process' },
  { flag: 'upstream-max-connections-per-client', section: 'upstream', key: 'maxConnectionsPerClient', unit: 'count', defaultText: 'max(8, 1/8 of --upstream-max-connections), at most half', description: "of an app's connections one client connection may hold at once" },
  { flag: 'upstream-queue-limit', section: 'upstream', key: 'maxQueuedPerApp', unit: 'count', defaultText: '1024', description: 'requests waiting for a connection to one app; beyond: 503 queue_full' },
  { flag: 'upstream-queue-limit-per-client', section: 'upstream', key: 'maxQueuedPerClient', unit: 'count', defaultText: '128', description: 'requests of one client connection waiting for one app; beyond: 503 queue_full' },
  { flag: 'upstream-queue-timeout', section: 'upstream', key: 'queueTimeoutMs', unit: 'duration', defaultText: '10s', description: 'how long a request may wait for a connection to its app; then 503 queue_timeout' },
  { flag: 'h2-max-concurrent-streams', section: 'http2', key: 'maxConcurrentStreams', unit: 'count', defaultText: '100', description: 'streams one HTTP/2 connection may have open (SETTINGS_MAX_CONCURRENT_STREAMS)' },
  { flag: 'h2-max-resets', section: 'http2', key: 'maxPrematureResets', unit: 'count', defaultText: '100', description: 'streams an HTTP/2 connection may reset before their answer per --h2-reset-window (rapid reset); more: GOAWAY' },
  { flag: 'h2-reset-window', section: 'http2', key: 'resetWindowMs', unit: 'duration', defaultText: '10s', description: 'the window --h2-max-resets counts in' },
  { flag: 'websocket-max-tunnels', section: 'upstream', key: 'websocketMaxTunnelsPerApp', unit: 'count', defaultText: '1024', description: 'WebSocket tunnels to one app, per ingress process; beyond: 503 websocket_tunnels_full' },
  { flag: 'websocket-max-tunnels-per-client', section: 'upstream', key: 'websocketMaxTunnelsPerClient', unit: 'count', defaultText: '64', description: 'WebSocket tunnels to one app from one client address; beyond: 503 websocket_client_tunnels_full' },
  { flag: 'websocket-handshake-timeout', section: 'upstream', key: 'websocketHandshakeTimeoutMs', unit: 'duration', defaultText: '10s', description: "an app's 101 must come within this time; then 504" },
  { flag: 'websocket-idle-timeout', section: 'upstream', key: 'websocketIdleTimeoutMs', unit: 'duration', defaultText: '300s', description: 'a WebSocket tunnel with no byte either way for this long is closed' },
];

/** Timers beyond this are not kept by Node (2^31-1 ms), and no limit needs more than a day. */
const MAX_DURATION_MS = 86_400_000;
const MAX_COUNT = 1_000_000;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** `20`, `20s`, `500ms`, `1.5m`, `1h` to milliseconds (a bare number is seconds); from 1 ms to 24 h. */
export function parseDuration(value: string): number {
  const match = DURATION.exec(value.trim());
  const ms = match ? Math.round(Number(match[1]) * UNIT_MS[(match[2] ?? 's') as keyof typeof UNIT_MS]) : Number.NaN;
  if (!(ms >= 1 && ms <= MAX_DURATION_MS)) throw new InvalidArgumentError('expected a duration from 1ms to 24h: seconds, or a number with ms, s, m or h (20, 20s, 500ms)');
  return ms;
}

export function parseCount(value: string): number {
  const count = Number(value);
  if (!/^\d+$/.test(value.trim()) || count < 1 || count > MAX_COUNT) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_COUNT}`);
  return count;
}

export function parseRate(value: string): number {
  const rate = Number(value);
  if (!/^\d+$/.test(value.trim()) || rate > 1_000_000_000) throw new InvalidArgumentError('expected bytes per second, a whole number from 0 (no minimum rate)');
  return rate;
}

const PARSERS: Readonly<Record<Unit, (value: string) => number>> = { duration: parseDuration, count: parseCount, rate: parseRate };
const ARGUMENT: Readonly<Record<Unit, string>> = { duration: '<duration>', count: '<n>', rate: '<bytes/s>' };

export function envVariable(flag: LimitFlag): string {
  return `CERTGATE_${flag.flag.toUpperCase().replaceAll('-', '_')}`;
}

/** commander's attribute name for a flag (`headers-timeout` → `headersTimeout`). */
function attribute(flag: LimitFlag): string {
  return flag.flag.replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

export function limitOptions(): Option[] {
  return LIMIT_FLAGS.map((flag) =>
    // The default in the text: commander shows none for an option whose default is left unset.
    new Option(`--${flag.flag} ${ARGUMENT[flag.unit]}`, `${flag.description} (default: ${flag.defaultText})`).env(envVariable(flag)).argParser(PARSERS[flag.unit]),
  );
}

export type LimitSettings = Partial<Record<Section, Record<string, number>>>;

/** The flags given, as IngressOptions sections (`{ http: { headersTimeoutMs: 500 } }`). */
export function limitSettings(options: Readonly<Record<string, unknown>>): LimitSettings {
  const settings: LimitSettings = {};
  for (const flag of LIMIT_FLAGS) {
    const value = options[attribute(flag)];
    if (typeof value === 'number') (settings[flag.section] ??= {})[flag.key] = value;
  }
  return settings;
}

/** Bounds that only make sense together; a message naming both flags, or undefined. */
export function limitConflict(settings: LimitSettings): string | undefined {
  const upstream = settings.upstream ?? {};
  const pairs: [part: string, whole: string, partFlag: string, wholeFlag: string][] = [
    ['maxConnectionsPerClient', 'maxConnectionsPerApp', 'upstream-max-connections-per-client', 'upstream-max-connections'],
    ['maxQueuedPerClient', 'maxQueuedPerApp', 'upstream-queue-limit-per-client', 'upstream-queue-limit'],
    ['websocketMaxTunnelsPerClient', 'websocketMaxTunnelsPerApp', 'websocket-max-tunnels-per-client', 'websocket-max-tunnels'],
  ];
  for (const [part, whole, partFlag, wholeFlag] of pairs) {
    const wholeValue = upstream[whole] ?? Number(LIMIT_FLAGS.find((flag) => flag.key === whole)!.defaultText);
    const partValue = upstream[part];
    if (partValue !== undefined && partValue > wholeValue) return `option '--${partFlag}' (${partValue}) cannot exceed '--${wholeFlag}' (${wholeValue})`;
  }
  return undefined;
}
