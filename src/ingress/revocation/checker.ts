// Online revocation status for the ingress (issue 13): CRLs fetched from a certificate's
// distribution points and OCSP responses from its AIA responder. The I/O lives here, apart from
// the verdict (verify/verdicts.ts): a cached status is returned synchronously (a map lookup), a
// missing one as a Promise that only the connection waiting for it awaits. Everything is bounded:
// cache entries, one fetch in flight per URL (concurrent misses share it), fetches in flight
// overall, response size and time (http-get.ts). A fetched CRL's signature is checked against the
// issuer as an uploaded one is (app-auth/crl.ts); an OCSP response's in ocsp.ts.
import type { X509Certificate } from 'node:crypto';
import { LruCache } from '../../app-auth/cache.ts';
import { Worker } from 'node:worker_threads';
import { describeCertificate, type CertificateInfo } from '../../pki/facts.ts';
import type { CrlParseRequest, CrlParseResult } from './crl-parse-worker.ts';
import { httpExchange } from './http-get.ts';
import { ocspRequest, ocspStatus } from './ocsp.ts';
import { revocationSources, type RevocationSources } from './sources.ts';
import type { RevocationStatus } from './status.ts';

export type { RevocationStatus } from './status.ts';
export type OnlineRevocation = 'Crl' | 'Ocsp';

/** An OCSP response is a few KiB (one status, a responder certificate); it is parsed on the event loop, so it stays small. */
export const MAX_OCSP_RESPONSE_BYTES = 64 * 1024;
/** Distinct CRL URLs kept (each CRL up to 1 MiB parsed: the memory bound). */
export const MAX_CACHED_CRLS = 64;
/** OCSP answers kept (one per certificate). */
export const MAX_CACHED_OCSP = 4096;
/** Fetches in flight at once, over all URLs: a flood of new certificates cannot open unbounded sockets. */
export const MAX_FETCHES_IN_FLIGHT = 32;
/** Parsed certificates (their URLs and facts) kept: parsing costs milliseconds, a lookup microseconds. */
export const MAX_CACHED_CERTIFICATES = 4096;
/** After a failure the URL is not asked again for this long (an unreachable responder is not hammered). */
export const FAILURE_RETRY_MS = 10_000;
/** A CRL without nextUpdate is fetched again after this long. */
const CRL_NO_NEXT_UPDATE_TTL_MS = 3_600_000;
const SKEW_MS = 5 * 60_000;

/** A fetched CRL, parsed and its signature checked (crl-parse-worker.ts) against `issuer` (SHA-256 of the issuer's DER). */
interface FetchedCrl {
  readonly issuer: string;
  readonly thisUpdate: number;
  readonly nextUpdate: number | undefined;
  readonly revoked: ReadonlyMap<string, { date: number; reason: string | undefined }>;
}
type CrlEntry = { readonly crl: FetchedCrl } | { readonly error: string };
/** CRLs parsed at once (each in a worker thread of its own, up to 128 MB heap); more wait their turn. */
export const MAX_CRL_PARSES = 2;
/** The worker's module: `.ts` from the source tree, `.js` in the packed build (tsconfig.pack.json rewrites imports, not URLs). */
const PARSE_WORKER = new URL(`./crl-parse-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
/** A parse taking longer is abandoned (status unknown). */
const CRL_PARSE_TIMEOUT_MS = 30_000;
interface Facts {
  readonly sources: RevocationSources;
  readonly info: CertificateInfo | string;
}

export class RevocationChecker {
  readonly #crls = new LruCache<CrlEntry>(MAX_CACHED_CRLS, Infinity);
  readonly #ocsp = new LruCache<RevocationStatus>(MAX_CACHED_OCSP, Infinity);
  readonly #inflight = new Map<string, Promise<unknown>>();
  readonly #facts = new LruCache<Facts>(MAX_CACHED_CERTIFICATES, Infinity);
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** `certificate`'s status as `issuer` publishes it (the pair comes from a verified path). */
  status(certificate: X509Certificate, issuer: X509Certificate, method: OnlineRevocation): RevocationStatus | Promise<RevocationStatus> {
    const sources = this.#factsOf(certificate).sources;
    if (method === 'Ocsp' && sources.ocsp.length > 0) {
      const viaOcsp = this.#ocspStatus(certificate, issuer, sources.ocsp);
      if (sources.crl.length === 0) return viaOcsp;
      // A responder that gives no answer: the CRL, when the certificate names one, may still.
      const orCrl = (status: RevocationStatus) => (status.state === 'unknown' ? this.#crlStatus(certificate, issuer, sources.crl) : status);
      return viaOcsp instanceof Promise ? viaOcsp.then(orCrl) : orCrl(viaOcsp);
    }
    if (sources.crl.length > 0) return this.#crlStatus(certificate, issuer, sources.crl);
    return unknown(method === 'Ocsp' ? 'the certificate names no OCSP responder nor CRL distribution point' : 'the certificate names no http CRL distribution point', this.#now());
  }

  #crlStatus(certificate: X509Certificate, issuer: X509Certificate, urls: readonly string[]): RevocationStatus | Promise<RevocationStatus> {
    const now = this.#now();
    const first = urls[0]!;
    const cached = this.#crls.get(first, now);
    if (cached !== undefined) return fromCrl(cached, this.#factsOf(certificate).info, issuer, now);
    return this.#once(`crl ${first}`, async () => {
      let entry: CrlEntry = { error: 'no distribution point answered' };
      for (const url of urls) {
        entry = await fetchCrl(url, issuer, (request) => this.#parse(request));
        const at = this.#now();
        const until = 'crl' in entry ? Math.min(entry.crl.nextUpdate ?? at + CRL_NO_NEXT_UPDATE_TTL_MS, at + CRL_NO_NEXT_UPDATE_TTL_MS * 24) : at + FAILURE_RETRY_MS;
        // A CRL already past its nextUpdate (a CA that stopped publishing) is asked for again only
        // after the failure delay, as an error is: not on every connection, not one worker each.
        this.#crls.set(first, entry, at, until > at ? until : at + FAILURE_RETRY_MS);
        if ('crl' in entry) break;
      }
      return entry;
    }).then((entry) => (entry instanceof Error ? unknown(entry.message, this.#now()) : fromCrl(entry, this.#factsOf(certificate).info, issuer, this.#now())));
  }

  #ocspStatus(certificate: X509Certificate, issuer: X509Certificate, urls: readonly string[]): RevocationStatus | Promise<RevocationStatus> {
    const now = this.#now();
    const key = `${issuer.fingerprint256}\n${certificate.serialNumber}`;
    const cached = this.#ocsp.get(key, now);
    if (cached !== undefined) return cached;
    return this.#once(`ocsp ${key}`, async () => {
      let status: RevocationStatus = unknown('no OCSP responder answered', now);
      const request = await ocspRequest(certificate, issuer);
      for (const url of urls) {
        try {
          const der = await httpExchange(url, { body: request, contentType: 'application/ocsp-request', accept: 'application/ocsp-response', maxBytes: MAX_OCSP_RESPONSE_BYTES });
          status = await ocspStatus(der, certificate, issuer, this.#now());
        } catch (error) {
          status = unknown(`OCSP ${url}: ${(error as Error).message}`, now);
        }
        if (status.state !== 'unknown') break;
      }
      const at = this.#now();
      const until = status.state === 'unknown' ? at + FAILURE_RETRY_MS : status.until;
      this.#ocsp.set(key, { ...status, until }, at, until);
      return { ...status, until };
    }).then((status) => (status instanceof Error ? unknown(status.message, this.#now()) : status));
  }

  /** What a certificate names and its parsed facts, parsed once (time-independent). */
  #factsOf(certificate: X509Certificate): Facts {
    const key = certificate.fingerprint256;
    let facts = this.#facts.get(key, 0);
    if (facts === undefined) {
      facts = { sources: revocationSources(certificate), info: describeCertificate(certificate) };
      this.#facts.set(key, facts, 0);
    }
    return facts;
  }

  #parsing = 0;
  readonly #parseQueue: (() => void)[] = [];

  /** Parses in a worker thread, at most MAX_CRL_PARSES at a time (the queue is bounded by the fetches in flight). */
  async #parse(request: CrlParseRequest): Promise<CrlParseResult> {
    if (this.#parsing >= MAX_CRL_PARSES) await new Promise<void>((resolve) => this.#parseQueue.push(resolve));
    this.#parsing++;
    try {
      return await new Promise<CrlParseResult>((resolve) => {
        const worker = new Worker(PARSE_WORKER, { workerData: request, resourceLimits: { maxOldGenerationSizeMb: 128 } });
        worker.unref();
        const timer = setTimeout(() => {
          resolve({ ok: false, error: `parsing took more than ${CRL_PARSE_TIMEOUT_MS} ms` });
          void worker.terminate();
        }, CRL_PARSE_TIMEOUT_MS);
        timer.unref();
        worker.once('message', (result: CrlParseResult) => {
          clearTimeout(timer);
          resolve(result);
        });
        worker.once('error', (error) => {
          clearTimeout(timer);
          resolve({ ok: false, error: `the parser failed: ${error.message}` });
        });
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve({ ok: false, error: 'the parser stopped without an answer' });
        });
      });
    } finally {
      this.#parsing--;
      this.#parseQueue.shift()?.();
    }
  }

  /** One fetch per key at a time; past MAX_FETCHES_IN_FLIGHT the status is unknown at once. */
  #once<T>(key: string, work: () => Promise<T>): Promise<T | Error> {
    const running = this.#inflight.get(key) as Promise<T> | undefined;
    if (running !== undefined) return running;
    if (this.#inflight.size >= MAX_FETCHES_IN_FLIGHT) return Promise.resolve(new Error(`more than ${MAX_FETCHES_IN_FLIGHT} revocation fetches in flight`));
    const promise = work()
      .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, promise);
    return promise;
  }

  /** For tests and metrics: cache sizes and fetches in flight. */
  stats(): { crls: number; ocsp: number; inflight: number } {
    return { crls: this.#crls.stats().size, ocsp: this.#ocsp.stats().size, inflight: this.#inflight.size };
  }
}

/** `until` is only advisory here: the caches set their own expiry (FAILURE_RETRY_MS) for failures. */
function unknown(detail: string, now = 0): RevocationStatus {
  return { state: 'unknown', until: now + FAILURE_RETRY_MS, detail };
}

async function fetchCrl(url: string, issuer: X509Certificate, parse: (request: CrlParseRequest) => Promise<CrlParseResult>): Promise<CrlEntry> {
  let bytes: Buffer;
  try {
    bytes = await httpExchange(url, { accept: 'application/pkix-crl' });
  } catch (error) {
    return { error: `CRL ${url}: ${(error as Error).message}` };
  }
  // DER (RFC 5280 4.2.1.13), though some servers publish PEM.
  const pem = bytes.subarray(0, 64).toString('latin1').includes('-----BEGIN');
  const result = await parse({ crl: pem ? bytes.toString('latin1') : new Uint8Array(bytes), issuer: new Uint8Array(issuer.raw) });
  if (!result.ok) return { error: `CRL ${url}: ${result.error}` };
  return { crl: { issuer: issuer.fingerprint256, thisUpdate: result.thisUpdate, nextUpdate: result.nextUpdate, revoked: result.revoked } };
}

function fromCrl(entry: CrlEntry, child: CertificateInfo | string, issuer: X509Certificate, now: number): RevocationStatus {
  const unknown = (detail: string) => ({ state: 'unknown' as const, until: now + FAILURE_RETRY_MS, detail });
  if ('error' in entry) return unknown(entry.error);
  const { crl } = entry;
  if (typeof child === 'string') return unknown('unreadable certificate');
  // The signature was checked for the issuer that first needed this URL; another issuer naming the same URL is not covered.
  if (crl.issuer !== issuer.fingerprint256) return unknown('the CRL at this distribution point was verified for another issuer');
  if (crl.thisUpdate > now + SKEW_MS) return unknown('the CRL is not valid yet (thisUpdate in the future)');
  if (crl.nextUpdate !== undefined && crl.nextUpdate < now) return unknown(`the CRL is stale: nextUpdate ${new Date(crl.nextUpdate).toISOString()} has passed`);
  const until = crl.nextUpdate ?? now + FAILURE_RETRY_MS;
  const entryOf = crl.revoked.get(child.serialKey);
  if (entryOf !== undefined) return { state: 'revoked', until, detail: `CRL: revoked at ${new Date(entryOf.date).toISOString()}${entryOf.reason ? ` (${entryOf.reason})` : ''}` };
  return { state: 'good', until, detail: 'CRL: not listed' };
}
