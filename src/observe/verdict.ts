// The connection's verdict, as the access log, the metrics and the inventory read it. The verify
// work (issue 13) computes it after the handshake from the app's verification policy; until that is
// wired, this one function fills it from the peer certificate alone: `NONE` without a certificate,
// `UNVERIFIED` with one (the app has no verification policy). The lead replaces its body with
// verify's field; its callers stay as they are.
import type { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';

/** TEAM.md "The connection's verdict": codes are the app library's (src/app-auth/codes.ts), or OK, NONE, UNVERIFIED. */
export interface ConnectionVerdict {
  readonly code: string;
  /** SHA-256 of the leaf's DER, hex, lower case. */
  readonly thumbprint?: string;
  readonly subject?: string;
  readonly issuer?: string;
  readonly serial?: string;
  readonly sans?: readonly string[];
  /** ISO 8601. */
  readonly notBefore?: string;
  readonly notAfter?: string;
}

export const NO_CERTIFICATE: ConnectionVerdict = Object.freeze({ code: 'NONE' });

/** At most this many SAN entries are kept (a certificate may carry thousands). */
const MAX_SANS = 32;

/** The verdict for a finished handshake. Reads the leaf once; undefined fields are left out. */
export function connectionVerdict(socket: tls.TLSSocket): ConnectionVerdict {
  const leaf = socket.getPeerX509Certificate();
  if (!leaf) return NO_CERTIFICATE;
  return certificateVerdict(leaf, 'UNVERIFIED');
}

export function certificateVerdict(leaf: X509Certificate, code: string): ConnectionVerdict {
  return Object.freeze({
    code,
    thumbprint: leaf.fingerprint256.replaceAll(':', '').toLowerCase(),
    subject: oneLine(leaf.subject),
    issuer: oneLine(leaf.issuer),
    serial: leaf.serialNumber.toLowerCase(),
    sans: Object.freeze(subjectAltNames(leaf.subjectAltName)),
    notBefore: leaf.validFromDate.toISOString(),
    notAfter: leaf.validToDate.toISOString(),
  });
}

/** Node's multi-line `C=..\nCN=..` as `C=.., CN=..`. */
function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

/** `DNS:a, IP Address:1.2.3.4` → `['DNS:a', 'IP:1.2.3.4']` (bounded). */
function subjectAltNames(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(', ')
    .slice(0, MAX_SANS)
    .map((entry) => entry.replace(/^IP Address:/, 'IP:'));
}
