// The verdict on a connection's client certificate: the shape observe reads (TEAM.md).

/** TEAM.md's shared shape: `code` is `OK`, `NONE`, `UNVERIFIED` or an app library code (app-auth/codes.ts). */
export interface ConnectionVerdict {
  readonly code: string;
  /** SHA-256 hex, lower case. */
  readonly thumbprint?: string;
  readonly subject?: string;
  readonly issuer?: string;
  readonly serial?: string;
  /** `dns:…`, `uri:…`, `email:…`, `ip:…`. */
  readonly sans?: readonly string[];
  readonly notBefore?: string;
  readonly notAfter?: string;
  /** Online revocation status (clientCertificateOnlineRevocation): `good`, or `unknown` when SoftFail served it anyway. */
  readonly revocation?: 'good' | 'unknown';
}
