// ACME HTTP-01 (RFC 8555 §8.3) on the plain-HTTP port: the directory fetches
// `http://<domain>/.well-known/acme-challenge/<token>` and expects the key authorization. The
// answers are in the route snapshot (compiled from the managed certificates being issued), so any
// worker answers; a token is answered only for the domain it was issued for. Pure.
import type { RouteSnapshot } from '../snapshot.ts';

const PREFIX = '/.well-known/acme-challenge/';

/** The key authorization for this request, or undefined when it is no challenge being answered. */
export function acmeChallengeAnswer(snapshot: RouteSnapshot, method: string | undefined, host: string | undefined, target: string | undefined): string | undefined {
  if (snapshot.acmeChallenges === undefined || snapshot.acmeChallenges.size === 0) return undefined;
  if ((method !== 'GET' && method !== 'HEAD') || host === undefined || target === undefined || !target.startsWith(PREFIX)) return undefined;
  const challenge = snapshot.acmeChallenges.get(target.slice(PREFIX.length));
  return challenge !== undefined && challenge.host === host ? challenge.keyAuthorization : undefined;
}
