// A certificate's revocation status as learned from a fetched CRL or an OCSP responder.

export interface RevocationStatus {
  readonly state: 'good' | 'revoked' | 'unknown';
  /** Until when it may be reused (ms): the CRL's or OCSP response's nextUpdate; a short retry delay for unknown. */
  readonly until: number;
  /** For logs: where it came from, or why it is unknown. */
  readonly detail: string;
}
