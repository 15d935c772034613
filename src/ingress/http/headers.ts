// Request and response header rewriting between the client and the app (pure but for new trace ids).
import { randomFillSync, randomUUID } from 'node:crypto';
import { foldHeaderName, isIdentityHeader } from './identity-headers.ts';

/** W3C Trace Context `traceparent`, version 00: trace id and parent id not all zeros. */
const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A new trace for a request that came without a valid traceparent: the trace id is the request id's 128 bits. */
export function newTraceparent(requestId: string): string {
  const traceId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(requestId) ? requestId.replaceAll('-', '') : randomUUID().replaceAll('-', '');
  // One flat string (join), not a rope: the access log cuts the trace id out of it (traceIdOf),
  // and a slice of a rope first copies the whole rope into a new string (~1,000 instructions).
  return ['00-', traceId, '-', newSpanId(), '-01'].join('');
}

/** Random bytes for span ids, 8 each, refilled once used up (one call to the system's generator per 512 ids). */
const SPAN_BYTES = Buffer.alloc(8 * 512);
let spanAt = SPAN_BYTES.length;
/** 16 hex digits, never all zeros (W3C Trace Context: an invalid parent-id). */
function newSpanId(): string {
  for (;;) {
    if (spanAt === SPAN_BYTES.length) {
      randomFillSync(SPAN_BYTES);
      spanAt = 0;
    }
    const id = SPAN_BYTES.toString('hex', spanAt, spanAt + 8);
    spanAt += 8;
    if (id !== '0000000000000000') return id;
  }
}

/** The trace id of the traceparent in a flat header list; empty when none. */
export function traceIdOf(headers: readonly string[]): string {
  for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i] === 'traceparent') return headers[i + 1]!.slice(3, 35);
  return '';
}

/** Hop-by-hop headers (RFC 9110 7.6.1) and HTTP/2-forbidden connection headers: never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  // Node answers `100 Continue` to the client itself; the app gets the body as it streams.
  'expect',
]);

/** Headers the ingress sets itself: whatever the client sent under these names is replaced. */
const SET_BY_INGRESS = new Set(['x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'host']);

/**
 * Names the ingress sets or appends to, compared after folding `_` into `-`: a client's
 * `X_Forwarded_For` or `x-request_id` would reach a CGI/WSGI app as the ingress's own header.
 */
const OWNED_WHEN_FOLDED = new Set([...SET_BY_INGRESS, 'x-forwarded-for']);

/**
 * Whether a client header is never forwarded (hop-by-hop, set by the ingress, an identity header),
 * remembered for each lower-case name seen so far, so that a request's
 * headers cost one map lookup each (folding and the prefix families run once per name). Bounded:
 * once full (a client inventing names), further names are judged without being remembered.
 */
const strippedByName = new Map<string, boolean>();
const MAX_REMEMBERED_NAMES = 4_096;

function isStripped(lower: string): boolean {
  const known = strippedByName.get(lower);
  if (known !== undefined) return known;
  const folded = foldHeaderName(lower);
  const stripped =
    HOP_BY_HOP.has(lower) || SET_BY_INGRESS.has(lower) || isIdentityHeader(folded) || (folded !== lower && OWNED_WHEN_FOLDED.has(folded));
  if (strippedByName.size < MAX_REMEMBERED_NAMES) strippedByName.set(lower, stripped);
  return stripped;
}

export interface ForwardingContext {
  /** The client's address, appended to X-Forwarded-For. */
  readonly clientAddress: string;
  readonly proto: 'http' | 'https';
  /** The host the request named (Host or :authority), forwarded as Host and X-Forwarded-Host. */
  readonly host: string;
  readonly requestId: string;
  /** More names to remove (the environment's `stripHeaders`), lower-case and folded. */
  readonly stripHeaders?: ReadonlySet<string> | undefined;
}

/**
 * The headers for the app, as a flat [name, value, ...] list, built from the
 * client's raw header list (HTTP/1.1 `rawHeaders`, or HTTP/2 headers without pseudo-headers).
 * For a WebSocket upgrade websocket.ts adds Connection and Upgrade. X-Forwarded-Client-Cert is not
 * among them: any the client sent is dropped here, and the connection's own is written by the
 * upstream request writer (http1-client.ts `requestHead`), for requests and upgrades alike.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], context: ForwardingContext): string[] {
  const named = connectionOptions(rawHeaders);
  const out: string[] = ['host', context.host];
  let forwardedFor: string | undefined;
  let traceparent: string | undefined;
  let tracestate: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (lower.charCodeAt(0) === 58 /* ':' */) continue;
    // Hop-by-hop, set by the ingress, or an identity header compared as apps read it
    // (`x_forwarded_client_cert` is HTTP_X_FORWARDED_CLIENT_CERT to WSGI).
    if (isStripped(lower)) continue;
    if (named !== undefined && named.has(lower)) continue;
    if (context.stripHeaders !== undefined && context.stripHeaders.has(foldHeaderName(lower))) continue;
    const value = rawHeaders[i + 1]!;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    // W3C Trace Context: a valid traceparent is passed on as it is (with its tracestate, RFC 9110
    // list members joined); a second, or an invalid one, restarts the trace (tracestate dropped).
    if (lower === 'traceparent') {
      traceparent = traceparent === undefined && TRACEPARENT.test(value) ? value : '';
      continue;
    }
    if (lower === 'tracestate') {
      tracestate = tracestate === undefined ? value : `${tracestate},${value}`;
      continue;
    }
    out.push(name, value);
  }
  if (traceparent) {
    out.push('traceparent', traceparent);
    if (tracestate !== undefined) out.push('tracestate', tracestate);
  } else {
    out.push('traceparent', newTraceparent(context.requestId));
  }
  out.push(
    'x-forwarded-for',
    forwardedFor === undefined ? context.clientAddress : `${forwardedFor}, ${context.clientAddress}`,
    'x-forwarded-proto',
    context.proto,
    'x-forwarded-host',
    context.host,
    'x-request-id',
    context.requestId,
  );
  return out;
}

/**
 * The app's response headers for the client as a flat [name, value, ...] list (what
 * `writeHead` takes for HTTP/1.1 and HTTP/2 alike), from the app's raw [name, value, ...] list,
 * hop-by-hop headers removed. Repeated headers (Set-Cookie) stay separate entries.
 */
export function clientResponseRawHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  let named: Set<string> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === 'connection') {
      const value = raw[i + 1]!;
      // The usual values name no header that would not be dropped anyway.
      if (value === 'keep-alive' || value === 'close') continue;
      for (const token of tokenSet(value)) (named ??= new Set()).add(token);
      continue;
    }
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(lower, raw[i + 1]!);
  }
  if (named === undefined) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!named.has(out[i]!)) kept.push(out[i]!, out[i + 1]!);
  return kept;
}

/** Header names listed in Connection are hop-by-hop too (RFC 9110 7.6.1). */
function connectionOptions(rawHeaders: readonly string[]): Set<string> | undefined {
  let set: Set<string> | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'connection') continue;
    for (const token of tokenSet(rawHeaders[i + 1]!)) (set ??= new Set()).add(token);
  }
  // Never let Connection strip what the ingress itself sets or relies on.
  set?.delete('host');
  return set;
}

function tokenSet(value: string): Set<string> {
  const set = new Set<string>();
  for (const token of value.split(',')) {
    const trimmed = token.trim().toLowerCase();
    if (trimmed) set.add(trimmed);
  }
  return set;
}
