// The console's sessions: a server-side table, bounded in size and in time, so sign-out really ends
// a session and a stolen cookie dies with it. The cookie holds only a random id; the table holds
// its hash (in memory on one machine, in the database where replicas share it:
// store/console-sessions.ts). Each session has its own CSRF token (synchronizer pattern), derived
// from the id so that every replica renders the same one, compared in constant time.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ConsoleSessionStore, StoredConsoleSession } from '../../store/console-sessions.ts';

export const SESSION_LIMITS = {
  /** Sessions kept at once; past it the oldest is dropped (a flood of sign-ins cannot grow memory). */
  maxSessions: 1_000,
  /** A session ends this long after sign-in, however busy. */
  lifetimeMs: 8 * 60 * 60 * 1000,
  /** A session unused this long ends (an unattended laptop). */
  idleMs: 30 * 60 * 1000,
} as const;

export interface ConsoleSession {
  readonly id: string;
  /** The service principal signed in. */
  readonly clientId: string;
  readonly csrfToken: string;
  readonly createdAt: number;
  lastUsedAt: number;
  /** A management token for the principal, reused until shortly before it expires (kept in this process only). */
  token?: { readonly value: string; readonly expiresAt: number };
}

type Limits = Record<keyof typeof SESSION_LIMITS, number>;

/** The sessions of one process (no shared store): the same bounds as the database's table. */
export class MemoryConsoleSessions implements ConsoleSessionStore {
  readonly #rows = new Map<string, StoredConsoleSession>();

  get size(): number {
    return this.#rows.size;
  }

  async insert(session: StoredConsoleSession, bounds: { readonly maxSessions: number; readonly createdBy: number; readonly usedBy: number }): Promise<void> {
    for (const [idHash, row] of this.#rows) if (row.createdAt <= bounds.createdBy || row.lastUsedAt <= bounds.usedBy) this.#rows.delete(idHash);
    // Map order is insertion order: the first key is the oldest session.
    while (this.#rows.size >= bounds.maxSessions) this.#rows.delete(this.#rows.keys().next().value!);
    this.#rows.set(session.idHash, session);
  }

  async find(idHash: string): Promise<StoredConsoleSession | undefined> {
    return this.#rows.get(idHash);
  }

  async touch(idHash: string, at: number): Promise<void> {
    const row = this.#rows.get(idHash);
    if (row && at > row.lastUsedAt) this.#rows.set(idHash, { ...row, lastUsedAt: at });
  }

  async remove(idHash: string): Promise<void> {
    this.#rows.delete(idHash);
  }
}

/** What create() makes (32 random bytes, base64url): any other cookie value is no session, and is not looked up in the store. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export class SessionTable {
  readonly #store: ConsoleSessionStore;
  readonly #limits: Limits;
  /** How stale a session's last use may be in the store: a use is written at most this often. */
  readonly #touchMs: number;
  /** The session objects this process handed out (their cached tokens), by id; at most maxSessions. */
  readonly #known = new Map<string, ConsoleSession>();

  constructor(limits: Partial<Limits> = {}, store: ConsoleSessionStore = new MemoryConsoleSessions()) {
    this.#limits = { ...SESSION_LIMITS, ...limits };
    this.#store = store;
    this.#touchMs = Math.min(60_000, this.#limits.idleMs / 10);
  }

  async create(clientId: string, now = Date.now()): Promise<ConsoleSession> {
    const id = randomBytes(32).toString('base64url');
    const { maxSessions, lifetimeMs, idleMs } = this.#limits;
    await this.#store.insert({ idHash: hashOf(id), clientId, createdAt: now, lastUsedAt: now }, { maxSessions, createdBy: now - lifetimeMs, usedBy: now - idleMs });
    return this.#remember({ id, clientId, csrfToken: csrfTokenOf(id), createdAt: now, lastUsedAt: now });
  }

  /** The live session for a cookie value, its idle clock restarted; undefined when unknown or expired. */
  async get(id: string | undefined, now = Date.now()): Promise<ConsoleSession | undefined> {
    if (id === undefined || !SESSION_ID.test(id)) return undefined;
    const idHash = hashOf(id);
    const stored = await this.#store.find(idHash);
    if (!stored || this.#expired(stored, now)) {
      this.#known.delete(id);
      if (stored) await this.#store.remove(idHash);
      return undefined;
    }
    if (now - stored.lastUsedAt >= this.#touchMs) await this.#store.touch(idHash, now);
    const known = this.#known.get(id);
    const session = known ?? { id, clientId: stored.clientId, csrfToken: csrfTokenOf(id), createdAt: stored.createdAt, lastUsedAt: now };
    session.lastUsedAt = now;
    return known ? session : this.#remember(session);
  }

  async delete(id: string): Promise<void> {
    this.#known.delete(id);
    await this.#store.remove(hashOf(id));
  }

  /** Seconds the cookie may live: what is left of the session's lifetime. */
  maxAgeSeconds(session: ConsoleSession, now = Date.now()): number {
    return Math.max(0, Math.floor((session.createdAt + this.#limits.lifetimeMs - now) / 1000));
  }

  #expired(session: StoredConsoleSession, now: number): boolean {
    return now - session.createdAt >= this.#limits.lifetimeMs || now - session.lastUsedAt >= this.#limits.idleMs;
  }

  #remember(session: ConsoleSession): ConsoleSession {
    while (this.#known.size >= this.#limits.maxSessions) this.#known.delete(this.#known.keys().next().value!);
    this.#known.set(session.id, session);
    return session;
  }
}

function hashOf(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** The session's CSRF token: secret as the id is, the same on every replica, never stored. */
function csrfTokenOf(id: string): string {
  return createHmac('sha256', id).update('certgate console csrf').digest('base64url');
}

/** Whether the token a form sent is the session's (constant time; any other length is simply wrong). */
export function csrfTokenMatches(session: ConsoleSession, sent: unknown): boolean {
  if (typeof sent !== 'string') return false;
  const expected = Buffer.from(session.csrfToken);
  const actual = Buffer.from(sent);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
