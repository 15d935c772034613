// Service principals: a client id and a secret, the secret stored only as a salted scrypt hash and
// compared in constant time. Kept in the store (beside the resources, never listed by the ARM API).
import { randomBytes, randomUUID, scrypt, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';
import type { Store } from '../../store/store.ts';
import { createFirstOfType } from '../../store/create-first.ts';

export const PRINCIPAL_TYPE = 'certgate/servicePrincipals';
const SCRYPT = { N: 16_384, r: 8, p: 1, keylen: 32 } as const;

function scryptAsync(password: BinaryLike, salt: BinaryLike, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keylen, options, (error, key) => (error ? reject(error) : resolve(key))));
}

interface StoredSecret {
  salt: string;
  hash: string;
  N: number;
  r: number;
  p: number;
}

export interface ServicePrincipal {
  readonly clientId: string;
  readonly displayName: string;
}

export function principalId(clientId: string): string {
  return `/providers/certgate/servicePrincipals/${clientId}`;
}

/** Creates a principal; the returned secret is shown once and never stored. */
export async function createPrincipal(store: Store, displayName: string): Promise<{ clientId: string; clientSecret: string }> {
  const { clientId, clientSecret, doc, secret } = await newPrincipal(displayName);
  await store.put(doc, { secret });
  return { clientId, clientSecret };
}

/** The first principal (the administrator), unless there is one already (a replica started first). */
export async function createFirstPrincipal(store: Store, displayName: string): Promise<{ clientId: string; clientSecret: string } | undefined> {
  const { clientId, clientSecret, doc, secret } = await newPrincipal(displayName);
  return (await createFirstOfType(store, PRINCIPAL_TYPE, doc, secret)) ? undefined : { clientId, clientSecret };
}

async function newPrincipal(displayName: string) {
  const clientId = randomUUID();
  const clientSecret = newSecret();
  const salt = randomBytes(16);
  const hash = await scryptAsync(clientSecret, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  const stored: StoredSecret = { salt: salt.toString('base64'), hash: hash.toString('base64'), N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p };
  const doc = { id: principalId(clientId), name: clientId, type: PRINCIPAL_TYPE, properties: { displayName } };
  return { clientId, clientSecret, doc, secret: Buffer.from(JSON.stringify(stored)) };
}

/** The principal when the secret is right; undefined otherwise (unknown id or wrong secret alike). */
export async function authenticatePrincipal(store: Store, clientId: string, clientSecret: string): Promise<ServicePrincipal | undefined> {
  const doc = /^[0-9a-f-]{36}$/i.test(clientId) ? await store.get(principalId(clientId)) : undefined;
  const raw = doc ? await store.getSecret(doc.id) : undefined;
  // An unknown client id still costs one scrypt, so timing does not tell which ids exist.
  const stored: StoredSecret = raw
    ? (JSON.parse(Buffer.from(raw).toString('utf8')) as StoredSecret)
    : { salt: 'AAAAAAAAAAAAAAAAAAAAAA==', hash: Buffer.alloc(SCRYPT.keylen).toString('base64'), N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p };
  const expected = Buffer.from(stored.hash, 'base64');
  const actual = await scryptAsync(clientSecret, Buffer.from(stored.salt, 'base64'), expected.length, { N: stored.N, r: stored.r, p: stored.p });
  if (!timingSafeEqual(actual, expected) || !doc) return undefined;
  return { clientId: doc.name, displayName: String(doc.properties['displayName'] ?? doc.name) };
}

/**
 * 32 random bytes, base64url, never starting with '-': az's argument parser reads `-p -abc…` as
 * another option ("argument --password/-p: expected one argument"), so one secret in 64 would break
 * the documented `az login --service-principal -p "$SECRET"`.
 */
export function newSecret(): string {
  for (;;) {
    const secret = randomBytes(32).toString('base64url');
    if (!secret.startsWith('-')) return secret;
  }
}
