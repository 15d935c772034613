// Which PostgreSQL errors mean "cannot be reached" (not "the statement was wrong"), and the guard
// that turns those into StoreError('Unavailable'), shared by the store and its inventory.
import { StoreError } from './store.ts';

/** Errors that mean the database cannot be reached (not that a statement was wrong). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']);

/** True when `error` says the database is unreachable or shutting down. */
export function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return false;
  // SQLSTATE class 08 (connection exception), 57P01-57P03 (shutting down, cannot connect now).
  return UNREACHABLE.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';
}

/** Runs a query; an unreachable database becomes StoreError('Unavailable'), nothing else changes. */
export async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isUnreachable(error)) throw new StoreError('Unavailable', `the PostgreSQL store cannot be reached (${(error as { code: string }).code})`, { cause: error });
    throw error;
  }
}
