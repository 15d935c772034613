// The client-certificate inventory's contract: for each app, every distinct client certificate seen
// on its connections. Written in batches (src/observe/inventory-collector.ts bounds their rate),
// read by the management API (a certgate extension), pruned by age. Async, so that a backend over
// the network implements the same contract.

/** One certificate as an app saw it. Times are ISO 8601. */
export interface SeenCertificate {
  /** The app's resource id, lower case. */
  readonly app: string;
  /** SHA-256 of the DER, hex, lower case. */
  readonly thumbprint: string;
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly subjectAlternativeNames: readonly string[];
  readonly notBefore: string;
  readonly notAfter: string;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly connectionCount: number;
  readonly lastVerdict: string;
}

export interface InventoryQuery {
  /** The app's resource id, lower case. */
  readonly app: string;
  /** Page size. */
  readonly top: number;
  /** Thumbprints after this one (keyset paging, in thumbprint order). */
  readonly after?: string | undefined;
  /** Only certificates whose notAfter is before this (ISO). */
  readonly expiringBefore?: string | undefined;
  /** Thumbprint prefix, or a substring of the subject or a SAN, case-insensitive. */
  readonly search?: string | undefined;
}

export interface InventoryPage {
  readonly items: SeenCertificate[];
  /** The last thumbprint of this page when more follow. */
  readonly next: string | undefined;
}

export interface ClientCertificateInventory {
  /** Adds the connections of a batch (counts summed, first/last seen widened, last verdict replaced), in one transaction. */
  recordBatch(batch: readonly SeenCertificate[]): Promise<void>;
  list(query: InventoryQuery): Promise<InventoryPage>;
  get(app: string, thumbprint: string): Promise<SeenCertificate | undefined>;
  /** Removes certificates last seen before `before`; returns how many. */
  prune(before: Date): Promise<number>;
  /** Every app's certificates whose notAfter is before `before`, soonest first, at most `limit` (expiry warnings). */
  expiring(before: string, limit: number): Promise<SeenCertificate[]>;
}

/** Two sightings of one certificate as one (counts summed, first/last seen widened, the later verdict kept). */
export function combineSeen(earlier: SeenCertificate, later: SeenCertificate): SeenCertificate {
  const laterWins = later.lastSeen >= earlier.lastSeen;
  return {
    ...earlier,
    connectionCount: earlier.connectionCount + later.connectionCount,
    firstSeen: later.firstSeen < earlier.firstSeen ? later.firstSeen : earlier.firstSeen,
    lastSeen: laterWins ? later.lastSeen : earlier.lastSeen,
    lastVerdict: laterWins ? later.lastVerdict : earlier.lastVerdict,
  };
}
