// The verdict of a connection to an app that verifies nothing (no verification policy): `UNVERIFIED`
// with the certificate's facts, for the access log, the metrics and the inventory. Apps that verify
// get theirs from src/ingress/verify/verdicts.ts, in the same shape (SANs as `dns:…`, `ip:…`).
import type { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';

import type { ConnectionVerdict } from '../ingress/verify/verdict.ts';
import { NONE } from '../ingress/verify/verdicts.ts';

export type { ConnectionVerdict };


/** At most this many SAN entries are kept (a certificate may carry thousands). */
const MAX_SANS = 32;

/** The verdict for a finished handshake. Reads the leaf once; undefined fields are left out. */
export function connectionVerdict(socket: tls.TLSSocket): ConnectionVerdict {
  const leaf = socket.getPeerX509Certificate();
  if (!leaf) return NONE;
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

/** `DNS:a, IP Address:1.2.3.4` → `['dns:a', 'ip:1.2.3.4']` (bounded), as verify/verdicts.ts writes them. */
function subjectAltNames(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(', ')
    .slice(0, MAX_SANS)
    .map((entry) => entry.replace(/^IP Address:/, 'ip:').replace(/^(DNS|URI|email):/i, (prefix) => prefix.toLowerCase()));
}
