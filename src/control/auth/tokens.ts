// Access tokens: JWTs signed with HMAC-SHA256 (by `jose`, not by hand) with a key kept in the store,
// so any certgate process sharing the store can check them without shared memory. They expire after
// an hour. A token is accepted only for one of this endpoint's audiences, from this endpoint's
// issuer and tenant, for a principal that still exists, with the one canonical signature encoding.
import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import type { Store } from '../../store/store.ts';
import { createFirstOfType } from '../../store/create-first.ts';
import { principalId } from './principals.ts';

const SETTINGS_ID = '/providers/certgate/settings/tokens';
/** Its own type, so that "the first of its type" is this one document. */
const TOKEN_SETTINGS_TYPE = 'certgate/settings/tokens';
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

/** What the resource server expects of a token: the audiences it answers to and its issuer(s). */
export interface TokenExpectation {
  readonly audiences: readonly string[];
  readonly issuers: readonly string[];
}

/** Why a token was refused, as ARM's error codes say it (InvalidAuthenticationToken...). */
export type TokenRefusal =
  | { readonly reason: 'malformed' | 'signature' | 'issuer' | 'tenant' | 'subject' }
  | { readonly reason: 'audience'; readonly audience: string }
  | { readonly reason: 'expired' | 'not_yet_valid' };

export type TokenVerdict = { readonly ok: true; readonly claims: TokenClaims } | ({ readonly ok: false } & TokenRefusal);

export interface TokenIssuer {
  readonly tenantId: string;
  issue(clientId: string, audience: string, issuer: string, now?: number): Promise<{ token: string; expiresIn: number }>;
  /** The claims of a valid, unexpired token meeting `expected`; otherwise why not. */
  verify(token: string, expected: TokenExpectation, now?: number): Promise<TokenVerdict>;
}

// The one encoding of a 32-byte HS256 signature: 43 base64url characters, no padding, and (checked
// by re-encoding) a last character whose unused low bits are zero.
const CANONICAL_SIGNATURE = /^[A-Za-z0-9_-]{43}$/;

/** Loads the tenant id and signing key from the store, creating them on first use. */
export async function tokenIssuer(store: Store): Promise<TokenIssuer> {
  let settings = await store.get(SETTINGS_ID);
  let key = settings ? await store.getSecret(SETTINGS_ID) : undefined;
  if (!settings || !key) {
    // Replicas starting together on an empty database: one key wins, every replica uses it.
    const created = randomBytes(32);
    const existing = await createFirstOfType(store, TOKEN_SETTINGS_TYPE, { id: SETTINGS_ID, name: 'tokens', type: TOKEN_SETTINGS_TYPE, properties: { tenantId: randomUUID() } }, created);
    settings = existing ?? (await store.get(SETTINGS_ID))!;
    key = existing ? await store.getSecret(SETTINGS_ID) : created;
    if (!key) throw new Error('the token-signing key is missing from the store');
  }
  const signingKey = new Uint8Array(key);
  const tenantId = String(settings.properties['tenantId']);
  return {
    tenantId,
    async issue(clientId, audience, issuer, now = Math.floor(Date.now() / 1000)) {
      const token = await new SignJWT({ appid: clientId, oid: clientId, tid: tenantId })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(clientId)
        .setAudience(audience)
        .setIssuer(issuer)
        .setIssuedAt(now)
        .setNotBefore(now - 60)
        .setExpirationTime(now + TOKEN_LIFETIME_SECONDS)
        .setJti(randomUUID())
        .sign(signingKey);
      return { token, expiresIn: TOKEN_LIFETIME_SECONDS };
    },
    async verify(token, expected, now = Math.floor(Date.now() / 1000)) {
      const parts = token.split('.');
      const signature = parts[2] ?? '';
      // jose decodes a signature leniently (padding, unused bits); only the canonical form is ours.
      if (parts.length !== 3 || !CANONICAL_SIGNATURE.test(signature) || Buffer.from(signature, 'base64url').toString('base64url') !== signature) {
        return { ok: false, reason: 'malformed' };
      }
      let claims: TokenClaims;
      try {
        const verified = await jwtVerify(token, signingKey, {
          algorithms: ['HS256'],
          typ: 'JWT',
          currentDate: new Date(now * 1000),
          requiredClaims: ['sub', 'aud', 'iss', 'exp', 'nbf', 'iat', 'tid', 'appid'],
        });
        claims = verified.payload as unknown as TokenClaims;
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
        if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'nbf') return { ok: false, reason: 'not_yet_valid' };
        if (error instanceof joseErrors.JWSSignatureVerificationFailed) return { ok: false, reason: 'signature' };
        return { ok: false, reason: 'malformed' };
      }
      // Checked here rather than by jose's options so the refusal can say which claim was wrong.
      if (typeof claims.aud !== 'string' || !expected.audiences.includes(normaliseAudience(claims.aud))) {
        return { ok: false, reason: 'audience', audience: String(claims.aud) };
      }
      if (!expected.issuers.includes(claims.iss)) return { ok: false, reason: 'issuer' };
      if (claims.tid !== tenantId) return { ok: false, reason: 'tenant' };
      // The subject is a principal that exists now: deleting a principal revokes its tokens.
      if (typeof claims.sub !== 'string' || claims.appid !== claims.sub || !/^[0-9a-f-]{36}$/i.test(claims.sub) || !(await store.get(principalId(claims.sub)))) {
        return { ok: false, reason: 'subject' };
      }
      return { ok: true, claims };
    },
  };
}

/** Audiences compare without trailing slashes: az asks for `https://host:port/`, the SDK for `https://host:port`. */
export function normaliseAudience(audience: string): string {
  return audience.replace(/\/+$/, '').toLowerCase();
}
