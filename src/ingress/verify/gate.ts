// Whether a request of a verifying app may reach it (pure): the connection's verdict, decided once
// at the handshake, and the app's per-path rules (compiled into its verification). Enforced at
// HTTP after a handshake that asked for a certificate, so it works on TLS 1.3 and HTTP/2 and never
// renegotiates (App Service's per-path certificates need renegotiation, which both forbid).
import type { VerificationReason } from '../reasons.ts';
import type { ConnectionState } from '../listener/connection.ts';
import type { CompiledVerification } from './policy.ts';
import { matchesAny, normalizeRequestPath } from './path-rules.ts';

export interface CertificateRefusal {
  readonly status: 401 | 403;
  /** Ends with `(reason)`, as plain-text bodies do. */
  readonly message: string;
  readonly reason: VerificationReason;
  /** No request of this connection can pass (no path rule could let one through). */
  readonly closeConnection: boolean;
}

export function certificateGate(verification: CompiledVerification | undefined, connection: Pick<ConnectionState, 'verdict' | 'verificationRefused'>, target: string): CertificateRefusal | undefined {
  if (verification === undefined) return undefined;
  const code = connection.verdict?.code ?? 'NONE';
  const rules = verification.paths;
  if (rules === undefined) return connection.verificationRefused === true ? refusal(code, true) : undefined;
  const path = normalizeRequestPath(target);
  // An ambiguous path (encoded slash or backslash) is never exempt: the app may read it as another path.
  if (path !== undefined && matchesAny(rules.exempt, path)) return undefined;
  if (connection.verificationRefused === true) return refusal(code, false);
  if (code !== 'OK' && rules.verified.length > 0 && (path === undefined || matchesAny(rules.verified, path))) return refusal(code === 'NONE' ? 'CERT_MISSING' : code, false);
  return undefined;
}

function refusal(code: string, closeConnection: boolean): CertificateRefusal {
  const reason = code.toLowerCase() as VerificationReason;
  const missing = code === 'CERT_MISSING';
  return {
    status: missing ? 401 : 403,
    message: missing ? `this path needs a verified client certificate: ${code} (${reason})` : `client certificate refused by the app's verification: ${code} (${reason})`,
    reason,
    closeConnection,
  };
}
