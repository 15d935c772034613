// The one catalog of failure codes. Codes are stable: apps and logs match on them, and
// docs/app-library.md documents each one (a test checks it).

import type { ReadErrorCode } from '../xfcc/sources.ts';

export type VerifyErrorCode =
  | ReadErrorCode
  | 'UNSUPPORTED_CRITICAL_EXTENSION'
  | 'CERT_NOT_YET_VALID'
  | 'CERT_EXPIRED'
  | 'KEY_USAGE_INVALID'
  | 'EKU_NOT_CLIENT_AUTH'
  | 'THUMBPRINT_NOT_ALLOWED'
  | 'SPKI_NOT_ALLOWED'
  | 'SUBJECT_NOT_ALLOWED'
  | 'SAN_NOT_ALLOWED'
  | 'UNTRUSTED_ISSUER'
  | 'BAD_SIGNATURE'
  | 'NOT_A_CA'
  | 'PATH_LENGTH_EXCEEDED'
  | 'PATH_SEARCH_LIMIT'
  | 'REVOKED'
  | 'CRL_EXPIRED'
  | 'CRL_MISSING'
  | 'CRL_INVALID'
  | 'REVOCATION_UNKNOWN'
  | 'INTERNAL_ERROR';

export type AuthErrorCode = VerifyErrorCode | 'UNTRUSTED_PROXY';

/** Every code with the HTTP status the middleware answers with. */
export const ERROR_CODES: Readonly<Record<AuthErrorCode, 401 | 403 | 500>> = Object.freeze({
  CERT_MISSING: 401,
  HEADER_MALFORMED: 403,
  HEADER_AMBIGUOUS: 403,
  CERT_MALFORMED: 403,
  HASH_MISMATCH: 403,
  CHAIN_MISMATCH: 403,
  CHAIN_TOO_LONG: 403,
  UNSUPPORTED_CRITICAL_EXTENSION: 403,
  CERT_NOT_YET_VALID: 403,
  CERT_EXPIRED: 403,
  KEY_USAGE_INVALID: 403,
  EKU_NOT_CLIENT_AUTH: 403,
  THUMBPRINT_NOT_ALLOWED: 403,
  SPKI_NOT_ALLOWED: 403,
  SUBJECT_NOT_ALLOWED: 403,
  SAN_NOT_ALLOWED: 403,
  UNTRUSTED_ISSUER: 403,
  BAD_SIGNATURE: 403,
  NOT_A_CA: 403,
  PATH_LENGTH_EXCEEDED: 403,
  PATH_SEARCH_LIMIT: 403,
  REVOKED: 403,
  CRL_EXPIRED: 403,
  CRL_MISSING: 403,
  CRL_INVALID: 403,
  // The ingress's online check (CRL distribution point, OCSP) could not learn the status (HardFail).
  REVOCATION_UNKNOWN: 403,
  // A bug in this library, never the client's doing; the request is refused all the same.
  INTERNAL_ERROR: 500,
  UNTRUSTED_PROXY: 403,
});
