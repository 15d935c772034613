// Reads the client certificate a proxy forwarded, from whichever header formats the app chose to
// trust. Pure: no server imports, no I/O, never throws on request data.
//
// Only configured formats are ever looked at. A proxy strips the headers it sets itself, but not
// necessarily every other format's header, so an app that read any format it found would let a
// client supply one the proxy passes through untouched.

import { X509Certificate } from 'node:crypto';
import { sha256Hex, splitPemBundle } from './certificates.ts';
import { parseXfcc } from './parse.ts';
import { percentDecode } from './percent.ts';

/**
 * - `xfcc`: `X-Forwarded-Client-Cert` (Envoy, Azure Container Apps, certgate): Cert, Chain, Hash.
 * - `arr`: `X-ARR-ClientCert` (Azure App Service): base64 DER of the leaf.
 * - `rfc9440`: `Client-Cert: :<base64 DER>:` and `Client-Cert-Chain: :<b64>:, :<b64>:`.
 * - `nginx`: `$ssl_client_escaped_cert`, the leaf as percent-encoded PEM (header `X-SSL-Client-Cert`
 *   unless configured otherwise).
 * - `aws-alb`: `X-Amzn-Mtls-Clientcert` (AWS ALB passthrough): percent-encoded PEM chain, leaf first.
 */
export type CertificateFormat = 'xfcc' | 'arr' | 'rfc9440' | 'nginx' | 'aws-alb';

/** A format, or a format read from a header name of the app's choosing. */
export type FormatSpec = CertificateFormat | { format: Exclude<CertificateFormat, 'rfc9440'>; header: string };

export interface ReaderOptions {
  /** The formats this app trusts its proxy to set (and strip from clients). Default `['xfcc']`. */
  formats?: readonly FormatSpec[];
  /**
   * Which `X-Forwarded-Client-Cert` element to use when proxies appended several: `last` (the
   * default) is the one the nearest proxy, the one the app trusts, wrote; `only` refuses a header
   * with more than one element, as with a single SANITIZE_SET ingress (certgate, ACA).
   */
  xfccElement?: 'last' | 'only';
  /** Most certificates accepted in a forwarded chain, leaf included. Default 10. */
  maxChainLength?: number;
}

export interface ForwardedCertificate {
  format: CertificateFormat;
  /** Lower-case name of the header it was read from (`client-cert` for RFC 9440). */
  header: string;
  leaf: X509Certificate;
  /** Every certificate forwarded, leaf first, in the order sent. */
  chain: X509Certificate[];
  /** Lower-case hex SHA-256 of the leaf's DER (what XFCC calls Hash). */
  hash: string;
}

export type ReadErrorCode =
  | 'CERT_MISSING'
  | 'HEADER_MALFORMED'
  | 'HEADER_AMBIGUOUS'
  | 'CERT_MALFORMED'
  | 'HASH_MISMATCH'
  | 'CHAIN_MISMATCH'
  | 'CHAIN_TOO_LONG';

export type ReadResult =
  | { ok: true; certificate: ForwardedCertificate }
  | { ok: false; code: ReadErrorCode; message: string };

/** Node's `req.headers`, any record of header values, or a Fetch `Headers`. */
export type HeaderBag =
  | Readonly<Record<string, string | readonly string[] | number | undefined>>
  | { get(name: string): string | null };

/** The raw header values of one format, found in a request: the input of decoding and of cache keys. */
export type CollectResult =
  | { kind: 'absent' }
  | { kind: 'present'; format: CertificateFormat; header: string; values: readonly (string | undefined)[] }
  | { kind: 'error'; code: 'HEADER_AMBIGUOUS'; message: string };

export interface ClientCertificateReader {
  /** Lower-case names of every header the configured formats read. */
  readonly headerNames: readonly string[];
  /** Finds the configured header without decoding it. */
  collect(headers: HeaderBag): CollectResult;
  /** Decodes what collect found. */
  decode(collected: CollectResult): ReadResult;
  read(headers: HeaderBag): ReadResult;
}

const DEFAULT_MAX_CHAIN_LENGTH = 10;
const FORMATS: readonly CertificateFormat[] = ['xfcc', 'arr', 'rfc9440', 'nginx', 'aws-alb'];
const DEFAULT_HEADERS: Record<Exclude<CertificateFormat, 'rfc9440'>, string> = {
  xfcc: 'x-forwarded-client-cert',
  arr: 'x-arr-clientcert',
  nginx: 'x-ssl-client-cert',
  'aws-alb': 'x-amzn-mtls-clientcert',
};
const RFC9440_CERT = 'client-cert';
const RFC9440_CHAIN = 'client-cert-chain';
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SF_BINARY = /^:([A-Za-z0-9+/=]*):$/;

interface Source {
  format: CertificateFormat;
  /** The header whose presence means the format was sent; RFC 9440 also reads its chain header. */
  header: string;
}

/** Validates the options once; a bad format or header name throws here, not per request. */
export function createClientCertificateReader(options: ReaderOptions = {}): ClientCertificateReader {
  const sources = compileSources(options.formats ?? ['xfcc']);
  const element = options.xfccElement ?? 'last';
  if (element !== 'last' && element !== 'only') throw new TypeError(`xfccElement: expected "last" or "only", got ${String(element)}`);
  const maxChainLength = options.maxChainLength ?? DEFAULT_MAX_CHAIN_LENGTH;
  if (!Number.isInteger(maxChainLength) || maxChainLength < 1) {
    throw new TypeError(`maxChainLength: expected a positive integer, got ${String(maxChainLength)}`);
  }
  const headerNames = Object.freeze(
    sources.flatMap((source) => (source.format === 'rfc9440' ? [RFC9440_CERT, RFC9440_CHAIN] : [source.header])),
  );

  const collect = (headers: HeaderBag): CollectResult => {
    let found: CollectResult = { kind: 'absent' };
    for (const source of sources) {
      const values = headerValues(headers, source.header);
      const chainValues = source.format === 'rfc9440' ? headerValues(headers, RFC9440_CHAIN) : [];
      if (values.length === 0 && chainValues.length === 0) continue;
      if (found.kind === 'present') {
        return { kind: 'error', code: 'HEADER_AMBIGUOUS', message: `both ${found.header} and ${source.header} are present` };
      }
      if (values.length > 1 && source.format !== 'xfcc') {
        return { kind: 'error', code: 'HEADER_AMBIGUOUS', message: `${source.header} appears ${values.length} times` };
      }
      if (chainValues.length > 1) {
        // Repeated field lines of a structured list are one list (RFC 9110 5.3).
        chainValues.splice(0, chainValues.length, chainValues.join(', '));
      }
      // Elements of repeated XFCC lines are one list too, nearest proxy last, as Node joins them.
      const value = values.length > 1 ? values.join(', ') : values[0];
      found = { kind: 'present', format: source.format, header: source.header, values: source.format === 'rfc9440' ? [value, chainValues[0]] : [value] };
    }
    return found;
  };

  const decode = (collected: CollectResult): ReadResult => {
    if (collected.kind === 'absent') return fail('CERT_MISSING', 'no client certificate header');
    if (collected.kind === 'error') return fail(collected.code, collected.message);
    const [value, chainValue] = collected.values;
    const context: DecodeContext = { header: collected.header, maxChainLength };
    switch (collected.format) {
      case 'xfcc':
        return decodeXfcc(value ?? '', element, context);
      case 'arr':
        return decodeBase64Leaf(value ?? '', context);
      case 'rfc9440':
        return decodeRfc9440(value, chainValue, context);
      case 'nginx':
        return decodeEscapedPem(value ?? '', 'nginx', false, context);
      case 'aws-alb':
        return decodeEscapedPem(value ?? '', 'aws-alb', true, context);
    }
  };

  return { headerNames, collect, decode, read: (headers) => decode(collect(headers)) };
}

/** One-off read; build the reader once with createClientCertificateReader on a hot path. */
export function readClientCertificate(headers: HeaderBag, options: ReaderOptions = {}): ReadResult {
  return createClientCertificateReader(options).read(headers);
}

function compileSources(formats: readonly FormatSpec[]): Source[] {
  if (!Array.isArray(formats) || formats.length === 0) throw new TypeError('formats: expected a non-empty array');
  const sources: Source[] = [];
  const seen = new Set<string>();
  for (const [index, spec] of formats.entries()) {
    const format = typeof spec === 'string' ? spec : spec?.format;
    if (!FORMATS.includes(format as CertificateFormat)) throw new TypeError(`formats[${index}]: unknown format ${JSON.stringify(format)}`);
    let header: string;
    if (typeof spec === 'string') {
      header = spec === 'rfc9440' ? RFC9440_CERT : DEFAULT_HEADERS[spec as Exclude<CertificateFormat, 'rfc9440'>];
    } else {
      if (spec.format === ('rfc9440' as string)) throw new TypeError(`formats[${index}]: RFC 9440 header names are fixed`);
      header = String(spec.header).toLowerCase();
      if (!HEADER_NAME.test(header)) throw new TypeError(`formats[${index}]: invalid header name ${JSON.stringify(spec.header)}`);
    }
    const names = format === 'rfc9440' ? [RFC9440_CERT, RFC9440_CHAIN] : [header];
    for (const name of names) {
      if (seen.has(name)) throw new TypeError(`formats[${index}]: header ${name} is configured twice`);
      seen.add(name);
    }
    sources.push({ format: format as CertificateFormat, header });
  }
  return sources;
}

function headerValues(headers: HeaderBag, name: string): string[] {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const value = (headers as { get(name: string): string | null }).get(name);
    return value === null || value === undefined ? [] : [String(value)];
  }
  const values: string[] = [];
  // Node lower-cases names, but records from elsewhere may not; every casing counts.
  for (const key of Object.keys(headers)) {
    if (key.length !== name.length || key.toLowerCase() !== name) continue;
    const value = (headers as Record<string, unknown>)[key];
    if (Array.isArray(value)) values.push(...value.map(String));
    else if (value !== undefined && value !== null) values.push(String(value));
  }
  return values;
}

interface DecodeContext {
  header: string;
  maxChainLength: number;
}

function fail(code: ReadErrorCode, message: string): ReadResult {
  return { ok: false, code, message };
}

function decodeXfcc(value: string, element: 'last' | 'only', context: DecodeContext): ReadResult {
  const parsed = parseXfcc(value);
  if (!parsed.ok) return fail('HEADER_MALFORMED', `${context.header}: ${parsed.code}: ${parsed.message}`);
  if (element === 'only' && parsed.elements.length > 1) {
    return fail('HEADER_AMBIGUOUS', `${context.header} has ${parsed.elements.length} elements; one was expected`);
  }
  const { cert, chain, hash } = parsed.elements.at(-1)!;
  if (cert === undefined && chain === undefined) {
    return fail('HEADER_MALFORMED', `${context.header}: the element has neither Cert nor Chain`);
  }
  let leaf: X509Certificate | undefined;
  if (cert !== undefined) {
    const decoded = decodePem(cert, 1, context);
    if (!decoded.ok) return decoded;
    if (decoded.certificates.length !== 1) return fail('CERT_MALFORMED', `${context.header}: Cert holds ${decoded.certificates.length} certificates`);
    leaf = decoded.certificates[0]!;
  }
  let certificates: X509Certificate[] = [];
  if (chain !== undefined) {
    const decoded = decodePem(chain, context.maxChainLength, context);
    if (!decoded.ok) return decoded;
    certificates = decoded.certificates;
    // Envoy's Chain starts with the leaf; one that does not was not made from the same connection.
    if (leaf !== undefined && !certificates[0]!.raw.equals(leaf.raw)) {
      return fail('CHAIN_MISMATCH', `${context.header}: Chain does not start with the Cert certificate`);
    }
  }
  leaf ??= certificates[0]!;
  if (certificates.length === 0) certificates = [leaf];
  const leafHash = sha256Hex(leaf.raw);
  if (hash !== undefined && hash !== leafHash) {
    return fail('HASH_MISMATCH', `${context.header}: Hash ${hash} is not the SHA-256 of the certificate (${leafHash})`);
  }
  return { ok: true, certificate: { format: 'xfcc', header: context.header, leaf, chain: certificates, hash: leafHash } };
}

function decodeBase64Leaf(value: string, context: DecodeContext): ReadResult {
  const der = base64Der(value.trim());
  if (der === undefined) return fail('HEADER_MALFORMED', `${context.header}: not base64`);
  const leaf = derCertificate(der);
  if (leaf === undefined) return fail('CERT_MALFORMED', `${context.header}: not a DER certificate`);
  return { ok: true, certificate: { format: 'arr', header: context.header, leaf, chain: [leaf], hash: sha256Hex(leaf.raw) } };
}

function decodeRfc9440(value: string | undefined, chainValue: string | undefined, context: DecodeContext): ReadResult {
  if (value === undefined) return fail('HEADER_MALFORMED', `${RFC9440_CHAIN} without ${RFC9440_CERT}`);
  const leafDer = sfBinary(value);
  if (leafDer === undefined) return fail('HEADER_MALFORMED', `${RFC9440_CERT}: not a structured-field byte sequence`);
  const leaf = derCertificate(leafDer);
  if (leaf === undefined) return fail('CERT_MALFORMED', `${RFC9440_CERT}: not a DER certificate`);
  const chain = [leaf];
  if (chainValue !== undefined) {
    const members = chainValue.split(',');
    if (members.length + 1 > context.maxChainLength) {
      return fail('CHAIN_TOO_LONG', `${RFC9440_CHAIN}: more than ${context.maxChainLength} certificates`);
    }
    for (const [index, member] of members.entries()) {
      const der = sfBinary(member);
      if (der === undefined) return fail('HEADER_MALFORMED', `${RFC9440_CHAIN}: member ${index} is not a byte sequence`);
      const certificate = derCertificate(der);
      if (certificate === undefined) return fail('CERT_MALFORMED', `${RFC9440_CHAIN}: member ${index} is not a DER certificate`);
      chain.push(certificate);
    }
  }
  return { ok: true, certificate: { format: 'rfc9440', header: RFC9440_CERT, leaf, chain, hash: sha256Hex(leaf.raw) } };
}

function decodeEscapedPem(value: string, format: 'nginx' | 'aws-alb', isChain: boolean, context: DecodeContext): ReadResult {
  // Strict percent-decoding keeps `+`: ALB leaves `+ = /` unescaped.
  const pem = percentDecode(value.trim());
  if (pem === undefined) return fail('HEADER_MALFORMED', `${context.header}: invalid percent-encoding`);
  const decoded = decodePem(pem, isChain ? context.maxChainLength : 1, context);
  if (!decoded.ok) return decoded;
  const [leaf] = decoded.certificates;
  return { ok: true, certificate: { format, header: context.header, leaf: leaf!, chain: decoded.certificates, hash: sha256Hex(leaf!.raw) } };
}

function decodePem(
  pem: string,
  maxCertificates: number,
  context: DecodeContext,
): { ok: true; certificates: X509Certificate[] } | { ok: false; code: ReadErrorCode; message: string } {
  const blocks = splitPemBundle(pem);
  if (blocks === undefined) return { ok: false, code: 'CERT_MALFORMED', message: `${context.header}: not a sequence of CERTIFICATE PEM blocks` };
  if (blocks.length > maxCertificates) {
    const code = maxCertificates === 1 ? 'CERT_MALFORMED' : 'CHAIN_TOO_LONG';
    return { ok: false, code, message: `${context.header}: ${blocks.length} certificates, at most ${maxCertificates} accepted` };
  }
  const certificates: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch (error) {
      return { ok: false, code: 'CERT_MALFORMED', message: `${context.header}: certificate ${index}: ${(error as Error).message}` };
    }
  }
  return { ok: true, certificates };
}

function base64Der(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

function sfBinary(member: string): Buffer | undefined {
  const match = SF_BINARY.exec(member.trim());
  // RFC 8941 byte sequences are padded base64; parsers may accept them unpadded.
  if (match === null) return undefined;
  const text = match[1]!;
  const padded = text.length % 4 === 0 ? text : text + '='.repeat(4 - (text.length % 4));
  return base64Der(padded);
}

/** A DER certificate with nothing after it, or undefined. */
function derCertificate(der: Buffer): X509Certificate | undefined {
  try {
    const certificate = new X509Certificate(der);
    return certificate.raw.length === der.length ? certificate : undefined;
  } catch {
    return undefined;
  }
}
