// The console's sessions: a server-side table, bounded in size and in time, so sign-out really ends
// a session and a stolen cookie dies with it. The cookie holds only a random id; each session has
// its own CSRF token (synchronizer pattern), compared in constant time.
import { randomBytes, timingSafeEqual } from 'node:crypto';

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
  /** A management token for the principal, reused until shortly before it expires. */
  token?: { readonly value: string; readonly expiresAt: number };
}

export class SessionTable {
  readonly #sessions = new Map<string, ConsoleSession>();
  readonly #limits: Record<keyof typeof SESSION_LIMITS, number>;

  constructor(limits: Partial<Record<keyof typeof SESSION_LIMITS, number>> = {}) {
    this.#limits = { ...SESSION_LIMITS, ...limits };
  }

  get size(): number {
    return this.#sessions.size;
  }

  create(clientId: string, now = Date.now()): ConsoleSession {
    this.#sweep(now);
    // Map order is insertion order: the first key is the oldest session.
    while (this.#sessions.size >= this.#limits.maxSessions) this.#sessions.delete(this.#sessions.keys().next().value!);
    const session: ConsoleSession = { id: randomBytes(32).toString('base64url'), clientId, csrfToken: randomBytes(32).toString('base64url'), createdAt: now, lastUsedAt: now };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session for a cookie value, its idle clock restarted; undefined when unknown or expired. */
  get(id: string | undefined, now = Date.now()): ConsoleSession | undefined {
    if (id === undefined) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    if (this.#expired(session, now)) {
      this.#sessions.delete(id);
      return undefined;
    }
    session.lastUsedAt = now;
    return session;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }

  /** Seconds the cookie may live: what is left of the session's lifetime. */
  maxAgeSeconds(session: ConsoleSession, now = Date.now()): number {
    return Math.max(0, Math.floor((session.createdAt + this.#limits.lifetimeMs - now) / 1000));
  }

  #expired(session: ConsoleSession, now: number): boolean {
    return now - session.createdAt >= this.#limits.lifetimeMs || now - session.lastUsedAt >= this.#limits.idleMs;
  }

  #sweep(now: number): void {
    for (const [id, session] of this.#sessions) if (this.#expired(session, now)) this.#sessions.delete(id);
  }
}

/** Whether the token a form sent is the session's (constant time; any other length is simply wrong). */
export function csrfTokenMatches(session: ConsoleSession, sent: unknown): boolean {
  if (typeof sent !== 'string') return false;
  const expected = Buffer.from(session.csrfToken);
  const actual = Buffer.from(sent);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
