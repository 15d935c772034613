// The core every framework adapter shares: decides, for one request, whether the forwarded
// certificate header may be read at all (only from the trusted proxy), then verifies it.
//
// Threat: the header is a claim the proxy makes. An app that can be reached without the proxy
// (another port, a sidecar, a misrouted load balancer) would accept the same claim from anyone,
// who can copy a real certificate's PEM into it; no private key is needed to write a header. So the
// header is read only from a peer the app was told to trust, and a request carrying it from
// anywhere else is refused outright (403) rather than silently treated as anonymous, so the
// misconfiguration shows.

import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { HeaderBag } from '../xfcc/sources.ts';
import { ERROR_CODES } from './codes.ts';
import type { AuthErrorCode } from './codes.ts';
import { createVerifier } from './verifier.ts';
import type { VerifierOptions } from './options.ts';
import type { ClientIdentity, Verifier } from './verifier.ts';

/** The parts of a request the core reads: Node's IncomingMessage (also Express's), or Fastify's `request.raw`. */
export interface PeerRequest {
  readonly headers: HeaderBag;
  readonly socket: { readonly remoteAddress?: string | undefined };
}

export interface ClientCertificateAuthOptions {
  /** A verifier from createVerifier, or its options. */
  verifier: Verifier | VerifierOptions;
  /**
   * Addresses (`10.0.0.7`, `::1`) and CIDR blocks (`10.0.0.0/24`) the proxy connects from. The TCP
   * peer address is what is checked, never X-Forwarded-For.
   */
  trustedProxies?: readonly string[];
  /** Another proof that a request came through the proxy (e.g. a Unix socket, mTLS to the app); instead of trustedProxies. */
  isTrustedProxy?: (request: PeerRequest) => boolean;
  /** A request without a certificate gets 401 (`true`, the default) or continues anonymously (`false`). */
  required?: boolean;
}

export type AuthDecision =
  | { action: 'allow'; identity: ClientIdentity }
  | { action: 'anonymous' }
  | { action: 'reject'; status: 401 | 403 | 500; code: AuthErrorCode; message: string };

export interface ClientCertificateAuth {
  authenticate(request: PeerRequest): AuthDecision;
  readonly verifier: Verifier;
}

const AUTH_OPTIONS = new Set(['verifier', 'trustedProxies', 'isTrustedProxy', 'required']);

export function createClientCertificateAuth(options: ClientCertificateAuthOptions): ClientCertificateAuth {
  if (options === null || typeof options !== 'object') throw new TypeError('options: expected an object');
  for (const key of Object.keys(options)) if (!AUTH_OPTIONS.has(key)) throw new TypeError(`unknown option ${JSON.stringify(key)}`);
  const verifier = isVerifier(options.verifier) ? options.verifier : createVerifier(options.verifier);
  const isTrusted = compileTrust(options);
  const required = options.required ?? true;
  if (typeof required !== 'boolean') throw new TypeError('required: expected a boolean');
  const headerNames = verifier.reader.headerNames;

  const missing = (): AuthDecision =>
    required ? reject('CERT_MISSING', 'a client certificate is required') : { action: 'anonymous' };

  return {
    verifier,
    authenticate(request) {
      let trusted: boolean;
      try {
        trusted = isTrusted(request);
      } catch {
        trusted = false;
      }
      if (!trusted) {
        // Only the names are looked at: nothing from an untrusted peer's header is parsed.
        const sent = headerNames.find((name) => hasHeader(request.headers, name));
        if (sent !== undefined) {
          return reject('UNTRUSTED_PROXY', `${sent} sent by ${request.socket.remoteAddress ?? 'an unknown peer'}, which is not a trusted proxy`);
        }
        return missing();
      }
      const result = verifier.verifyHeaders(request.headers);
      if (result.ok) return { action: 'allow', identity: result.identity };
      if (result.code === 'CERT_MISSING') return missing();
      return reject(result.code, result.message);
    },
  };
}

function reject(code: AuthErrorCode, message: string): AuthDecision {
  return { action: 'reject', status: ERROR_CODES[code], code, message };
}

function isVerifier(value: Verifier | VerifierOptions): value is Verifier {
  return typeof (value as Verifier)?.verifyHeaders === 'function';
}

function compileTrust(options: ClientCertificateAuthOptions): (request: PeerRequest) => boolean {
  const { trustedProxies, isTrustedProxy } = options;
  if ((trustedProxies === undefined) === (isTrustedProxy === undefined)) {
    throw new TypeError('configure exactly one of trustedProxies (the proxy\'s addresses) and isTrustedProxy');
  }
  if (isTrustedProxy !== undefined) {
    if (typeof isTrustedProxy !== 'function') throw new TypeError('isTrustedProxy: expected a function');
    return isTrustedProxy;
  }
  const blockList = compileAddresses(trustedProxies!);
  return (request) => {
    const address = request.socket.remoteAddress;
    if (address === undefined) return false; // a closed socket, or not a network socket
    if (isIPv4(address)) return blockList.check(address, 'ipv4');
    if (isIPv6(address)) return blockList.check(address, 'ipv6');
    return false;
  };
}

/** `net.BlockList` of addresses and CIDRs; an invalid entry throws, naming it. */
export function compileAddresses(entries: readonly string[]): BlockList {
  if (!Array.isArray(entries) || entries.length === 0) throw new TypeError('trustedProxies: expected a non-empty array');
  const blockList = new BlockList();
  for (const [index, entry] of entries.entries()) {
    const where = `trustedProxies[${index}]`;
    if (typeof entry !== 'string') throw new TypeError(`${where}: expected a string`);
    const [address = '', prefix, ...rest] = entry.trim().split('/');
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    if (family === undefined || rest.length > 0) throw new TypeError(`${where}: not an IP address or CIDR block: ${JSON.stringify(entry)}`);
    if (prefix === undefined) {
      blockList.addAddress(address, family);
      continue;
    }
    const bits = Number(prefix);
    if (!/^\d+$/.test(prefix) || bits > (family === 'ipv4' ? 32 : 128)) throw new TypeError(`${where}: invalid prefix length in ${JSON.stringify(entry)}`);
    blockList.addSubnet(address, bits, family);
  }
  return blockList;
}

function hasHeader(headers: HeaderBag, name: string): boolean {
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(name: string): string | null }).get(name) !== null;
  for (const key of Object.keys(headers)) {
    if (key.length === name.length && key.toLowerCase() === name && (headers as Record<string, unknown>)[key] !== undefined) return true;
  }
  return false;
}
