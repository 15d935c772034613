// Access tokens: JWTs signed with HMAC-SHA256 by a key kept in the store, so any certgate process
// sharing the store can check them without shared memory. They expire after an hour.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Store } from '../../store/store.ts';

const SETTINGS_ID = '/providers/certgate/settings/tokens';
export const TOKEN_LIFETIME_SECONDS = 3600;

export interface TokenClaims {
  readonly sub: string;
  readonly appid: string;
  readonly oid: string;
  readonly tid: string;
  readonly aud: string;
  readonly iss: string;
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly jti: string;
}

export interface TokenIssuer {
  readonly tenantId: string;
  issue(clientId: string, audience: string, issuer: string, now?: number): { token: string; expiresIn: number };
  /** The claims of a valid, unexpired token; undefined for anything else. */
  verify(token: string, now?: number): TokenClaims | undefined;
}

/** Loads the tenant id and signing key from the store, creating them on first use. */
export function tokenIssuer(store: Store): TokenIssuer {
  let settings = store.get(SETTINGS_ID);
  let key = settings ? store.getSecret(SETTINGS_ID) : undefined;
  if (!settings || !key) {
    key = randomBytes(32);
    settings = store.put({ id: SETTINGS_ID, name: 'tokens', type: 'certgate/settings', properties: { tenantId: randomUUID() } }, { secret: key }).resource;
  }
  const signingKey = Buffer.from(key);
  const tenantId = String(settings.properties['tenantId']);
  const sign = (data: string) => createHmac('sha256', signingKey).update(data).digest();
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  return {
    tenantId,
    issue(clientId, audience, issuer, now = Math.floor(Date.now() / 1000)) {
      const claims: TokenClaims = {
        sub: clientId,
        appid: clientId,
        oid: clientId,
        tid: tenantId,
        aud: audience,
        iss: issuer,
        iat: now,
        nbf: now - 60,
        exp: now + TOKEN_LIFETIME_SECONDS,
        jti: randomUUID(),
      };
      const unsigned = `${header}.${base64url(JSON.stringify(claims))}`;
      return { token: `${unsigned}.${sign(unsigned).toString('base64url')}`, expiresIn: TOKEN_LIFETIME_SECONDS };
    },
    verify(token, now = Math.floor(Date.now() / 1000)) {
      const parts = token.split('.');
      if (parts.length !== 3 || parts[0] !== header) return undefined;
      const expected = sign(`${parts[0]}.${parts[1]}`);
      const given = Buffer.from(parts[2]!, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      let claims: TokenClaims;
      try {
        claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as TokenClaims;
      } catch {
        return undefined;
      }
      if (typeof claims.exp !== 'number' || claims.exp <= now || claims.nbf > now || claims.tid !== tenantId) return undefined;
      return claims;
    },
  };
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
