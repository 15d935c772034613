// The web console's sessions where replicas share a store (PostgreSQL): a session signed in through
// one replica is valid on every other (an L4 load balancer may send each connection elsewhere), and
// signing out ends it everywhere. Only a hash of the cookie's id is kept, so a dump or a backup of
// the database holds no session anyone can use. Not a resource: no revision, no change feed.
// The embedded store has none: one process serves the console and keeps its sessions in memory.

export interface StoredConsoleSession {
  /** SHA-256 of the cookie's id, hex. */
  readonly idHash: string;
  /** The service principal signed in. */
  readonly clientId: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly lastUsedAt: number;
}

export interface ConsoleSessionStore {
  /**
   * Adds a session. Before, drops the sessions made at or before `createdBy` or last used at or
   * before `usedBy` (expired), then the oldest while `maxSessions` or more remain.
   */
  insert(session: StoredConsoleSession, bounds: { readonly maxSessions: number; readonly createdBy: number; readonly usedBy: number }): Promise<void>;
  find(idHash: string): Promise<StoredConsoleSession | undefined>;
  /** Records a use (callers write at most once a minute per session). */
  touch(idHash: string, at: number): Promise<void>;
  remove(idHash: string): Promise<void>;
}
