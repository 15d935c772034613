// The store contract. Every backend (the embedded node:sqlite one now, PostgreSQL later) implements
// it and runs the same contract tests. Every call that reads or writes is async, since a networked
// backend answers later; `subscribe` stays synchronous (it only registers a listener). Writes are atomic: a resource is at its old or its new
// version, never in between. Each write bumps `revision`; subscribers hear of it after commit,
// which is the change feed the ingress recompiles its route snapshot from.
import type { ResourceDocument, StoredResource } from '../model/resources.ts';
import type { ReplicaRegistry } from './replicas.ts';
import type { ClientCertificateInventory } from './inventory.ts';
import type { ConsoleSessionStore } from './console-sessions.ts';

export interface WriteOptions {
  /** The write happens only when the stored etag equals this ('*': when the resource exists). */
  readonly ifMatch?: string;
  /** '*': the write happens only when the resource does not exist yet. */
  readonly ifNoneMatch?: '*';
  /** Who writes, for systemData. */
  readonly actor?: string;
  readonly now?: Date;
}

export interface PutOptions extends WriteOptions {
  /** Secret material kept beside the resource (never part of the document). */
  readonly secret?: Uint8Array;
}

/** What an update writes: the document, and the secret kept beside it when that changes too. */
export interface Change {
  readonly doc: ResourceDocument;
  readonly secret?: Uint8Array;
}

export interface PutResult {
  readonly resource: StoredResource;
  readonly created: boolean;
  readonly revision: number;
}

export interface ListQuery {
  /** Resource type, compared case-insensitively. */
  readonly type: string;
  /** Only resources whose id starts with this scope id (e.g. a resource group id). */
  readonly scope?: string;
}

export class StoreError extends Error {
  /** Unavailable: a networked store cannot be reached; nothing was read or written. */
  readonly code: 'PreconditionFailed' | 'NotFound' | 'Conflict' | 'Unavailable';
  constructor(code: StoreError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export type ChangeListener = (revision: number) => void;

/** How many revisions back a store's change log answers `changesSince` (older: read everything). */
export const CHANGE_LOG_REVISIONS = 10_000;

/** What changed after a revision (`Store.changesSince`). */
export interface ChangeSet {
  /** The revision the set runs up to: the store's revision when it was read. */
  readonly revision: number;
  /** Each resource key (lower-cased id) written or deleted after the asked revision, once; a deleted one reads back as absent. */
  readonly keys: readonly string[];
}

export interface Store {
  get(id: string): Promise<StoredResource | undefined>;
  list(query: ListQuery): Promise<StoredResource[]>;
  /** Create or replace. */
  put(doc: ResourceDocument, options?: PutOptions): Promise<PutResult>;
  /**
   * Read-modify-write in one transaction: `change` gets the current resource (undefined when absent)
   * and returns the new document, with its secret when that changes too. Throwing from `change`
   * aborts with nothing written. Writes are serialised around `change`: what it reads through this
   * store is what the write is based on (uniqueness checks hold), so it should only read the store.
   */
  update(id: string, change: (current: StoredResource | undefined) => Change | Promise<Change>, options?: WriteOptions): Promise<PutResult>;
  /** Deletes the resource and every resource below it (ids that start with `id + '/'`). */
  delete(id: string, options?: WriteOptions): Promise<{ deleted: boolean; revision: number }>;
  getSecret(id: string): Promise<Uint8Array | undefined>;
  /**
   * The keys written or deleted after `revision` (a change log kept for CHANGE_LOG_REVISIONS
   * revisions), so a reader can re-read only those. Undefined when the store cannot tell (the
   * revision is older than its log, or from another store): the reader reads everything.
   */
  changesSince(revision: number): Promise<ChangeSet | undefined>;
  /** Monotonic counter of committed writes. */
  revision(): Promise<number>;
  subscribe(listener: ChangeListener): () => void;
  /** Only a store several replicas share has one (PostgreSQL); the embedded one serves one machine. */
  readonly replicas?: ReplicaRegistry;
  close(): Promise<void>;
  /** The web console's sessions, where replicas share the store (console-sessions.ts); else the console keeps them in memory. */
  readonly consoleSessions?: ConsoleSessionStore;
  /** The client certificates each app saw (inventory.ts), in the same database (every backend keeps one). */
  readonly inventory: ClientCertificateInventory;
}
