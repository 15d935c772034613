// X-Forwarded-Client-Cert for a connection: decided once, when its TLS handshake completes, from
// the app's mode and the certificates the client sent; written by the upstream request writer
// (http1-client.ts `requestHead`) into every request the connection carries.
import type tls from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { ClientCertificatePolicy } from '../../model/ingress.ts';
import { formatXfcc } from '../../xfcc/format.ts';

/** How many chains' headers one ingress keeps (a 3-certificate chain's header is ~7 KB). */
export const XFCC_CACHE_ENTRIES = 256;

/** At most this many certificates of a client's chain are read (a client may send any number). */
const MAX_CHAIN = 16;

/** What the client sent, leaf first (none: empty), and its DER concatenated (a cache key). */
export interface PeerChain {
  readonly certificates: readonly X509Certificate[];
  readonly key: string;
}

const NO_PEER: PeerChain = Object.freeze({ certificates: Object.freeze([]), key: '' });

/**
 * `getPeerX509Certificate().issuerCertificate` walks exactly what the client sent, leaf first, in
 * order (unlike `getPeerCertificate(true)`, which mixes in the server's CA store). After a resumed
 * handshake OpenSSL keeps only the leaf, so the chain then holds the leaf alone. Read once per
 * connection: for X-Forwarded-Client-Cert and for verification (verify/verdicts.ts).
 */
export function peerChain(socket: tls.TLSSocket): PeerChain {
  const leaf = socket.getPeerX509Certificate();
  if (!leaf) return NO_PEER;
  const certificates: X509Certificate[] = [];
  let key = '';
  for (let cert: X509Certificate | undefined = leaf; cert && certificates.length < MAX_CHAIN; cert = cert.issuerCertificate) {
    const raw = cert.raw;
    // A self-signed certificate is its own issuer: stop at the first repeat.
    if (certificates.some((seen) => seen.raw.equals(raw))) break;
    certificates.push(cert);
    key += raw.toString('latin1');
  }
  return { certificates, key };
}

/**
 * The headers made so far, by the DER of the chain they were made from: a client reconnecting with
 * the same certificates gets the header made the first time (formatting is ~60 µs). One per
 * ingress, bounded: once full, the oldest entry is dropped, so a client sending a new certificate on
 * every connection costs one format each and never grows memory.
 */
export class ClientCertificateHeaders {
  readonly #cache = new Map<string, string>();
  readonly #capacity: number;

  constructor(capacity = XFCC_CACHE_ENTRIES) {
    this.#capacity = Math.max(1, capacity);
  }

  get size(): number {
    return this.#cache.size;
  }

  /**
   * The value for a connection that finished its handshake under the app's policy: undefined when
   * the app does not forward certificates (`ignore`) or the client sent none. Requests admitted on
   * the connection are under the same mode (admission.ts refuses a connection whose TLS policy, keyed by mode, changed), so the
   * request path never looks at the mode again.
   */
  decide(socket: tls.TLSSocket, policy: Pick<ClientCertificatePolicy, 'forwardCertificate'>, peer: PeerChain = peerChain(socket)): string | undefined {
    return policy.forwardCertificate && peer.certificates.length > 0 ? this.forChain(peer.certificates.map((certificate) => certificate.raw), peer.key) : undefined;
  }

  /** The header for a chain (leaf first), made once per distinct chain while it stays cached. */
  forChain(chain: readonly Buffer[], key = chain.map((der) => der.toString('latin1')).join('')): string {
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const header = formatXfcc(chain);
    if (this.#cache.size >= this.#capacity) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, header);
    return header;
  }
}

/** RFC 9440: `Client-Cert` (the leaf) and `Client-Cert-Chain` (the rest as sent), as structured-field byte sequences. */
export function rfc9440Headers(certificates: readonly X509Certificate[]): string[] {
  const [leaf, ...rest] = certificates;
  if (leaf === undefined) return [];
  const out = ['client-cert', `:${leaf.raw.toString('base64')}:`];
  if (rest.length > 0) out.push('client-cert-chain', rest.map((certificate) => `:${certificate.raw.toString('base64')}:`).join(', '));
  return out;
}
