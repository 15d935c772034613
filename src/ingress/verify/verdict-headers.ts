// The verdict headers a verifying app receives (pure), modelled on nginx's $ssl_client_verify and
// Google Cloud load balancers' mTLS headers. Set on every request of a verifying app, after every
// client-sent header of the `x-certgate-client-` family was removed (identity-headers.ts), so an
// app can trust them as it trusts X-Forwarded-Client-Cert. Values are visible ASCII: names with
// other bytes are percent-encoded (RFC 3986), never passed raw into a header.
import type { ConnectionVerdict } from './verdict.ts';

export const VERDICT_HEADER_PREFIX = 'x-certgate-client-';

export const VERDICT_HEADERS = Object.freeze({
  present: 'x-certgate-client-cert-present',
  verified: 'x-certgate-client-cert-verified',
  verdict: 'x-certgate-client-verdict',
  thumbprint: 'x-certgate-client-cert-sha256',
  subject: 'x-certgate-client-cert-subject',
  issuer: 'x-certgate-client-cert-issuer',
  serial: 'x-certgate-client-cert-serial',
  sans: 'x-certgate-client-cert-sans',
  notBefore: 'x-certgate-client-cert-not-before',
  notAfter: 'x-certgate-client-cert-not-after',
  revocation: 'x-certgate-client-cert-revocation',
});

const percent = (char: string): string => (encodeURIComponent(char) === char ? `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` : encodeURIComponent(char));

/** `%` and anything outside visible ASCII and space, as %XX of its UTF-8. */
export function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x24\x26-\x7e]/gu, percent);
}

/** As headerSafe, and `,` too: it separates the SANs. */
function listItemSafe(value: string): string {
  return value.replace(/[^\x20-\x24\x26-\x2b\x2d-\x7e]/gu, percent);
}

export function verdictHeaders(verdict: ConnectionVerdict): readonly string[] {
  const out: string[] = [
    VERDICT_HEADERS.present,
    verdict.code === 'NONE' ? 'false' : 'true',
    VERDICT_HEADERS.verified,
    verdict.code === 'OK' ? 'true' : 'false',
    VERDICT_HEADERS.verdict,
    verdict.code,
  ];
  if (verdict.thumbprint !== undefined) out.push(VERDICT_HEADERS.thumbprint, verdict.thumbprint);
  if (verdict.subject !== undefined) out.push(VERDICT_HEADERS.subject, headerSafe(verdict.subject));
  if (verdict.issuer !== undefined) out.push(VERDICT_HEADERS.issuer, headerSafe(verdict.issuer));
  if (verdict.serial !== undefined) out.push(VERDICT_HEADERS.serial, verdict.serial);
  if (verdict.sans !== undefined && verdict.sans.length > 0) out.push(VERDICT_HEADERS.sans, verdict.sans.map(listItemSafe).join(','));
  if (verdict.notBefore !== undefined) out.push(VERDICT_HEADERS.notBefore, verdict.notBefore);
  if (verdict.notAfter !== undefined) out.push(VERDICT_HEADERS.notAfter, verdict.notAfter);
  if (verdict.revocation !== undefined) out.push(VERDICT_HEADERS.revocation, verdict.revocation);
  return Object.freeze(out);
}
