// Encryption at rest of a shared store's secrets (certificate PKCS12s and passwords, the CA's and
// the token-signing keys, principals' hashes, ticket keys): AES-256-GCM with a key that is not in
// the database (a file or an environment variable), so a database dump or backup alone reveals no
// private key. The resource's key is the associated data: a sealed value copied onto another row
// does not open. Several keys: the first seals, every one opens (rotation, docs/scale-out.md).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const MAGIC = Buffer.from('CGS1');
const ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface StoreKey {
  /** The first bytes of the key's SHA-256: which key sealed a value, without revealing it. */
  readonly id: string;
  readonly key: Buffer;
}

/** One key per line (base64 of 32 bytes; blank lines and # comments ignored); the first seals. */
export function parseStoreKeys(text: string, source: string): StoreKey[] {
  const keys = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line, index) => {
      const key = Buffer.from(line, 'base64');
      if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== line.replace(/=+$/, '')) {
        throw new Error(`${source}, key ${index + 1}: expected the base64 of 32 random bytes (e.g. openssl rand -base64 32)`);
      }
      return { id: createHash('sha256').update(key).digest('hex').slice(0, ID_BYTES * 2), key };
    });
  if (keys.length === 0) throw new Error(`${source} holds no key`);
  return keys;
}

export function isSealed(value: Uint8Array): boolean {
  return value.length >= MAGIC.length && Buffer.from(value.subarray(0, MAGIC.length)).equals(MAGIC);
}

/** The id of the key that sealed `value`. */
export function sealedWith(value: Uint8Array): string | undefined {
  return isSealed(value) ? Buffer.from(value.subarray(MAGIC.length, MAGIC.length + ID_BYTES)).toString('hex') : undefined;
}

export function seal(keys: readonly StoreKey[], associated: string, plain: Uint8Array): Buffer {
  const current = keys[0]!;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', current.key, iv);
  cipher.setAAD(Buffer.from(associated));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([MAGIC, Buffer.from(current.id, 'hex'), iv, cipher.getAuthTag(), body]);
}

export function open(keys: readonly StoreKey[], associated: string, sealed: Uint8Array): Buffer {
  const id = sealedWith(sealed);
  if (id === undefined) throw new Error('the stored secret is not encrypted (written without a store key?)');
  const key = keys.find((candidate) => candidate.id === id);
  if (!key) throw new Error(`the stored secret was encrypted with store key ${id}, which is not among the configured keys`);
  const value = Buffer.from(sealed);
  let offset = MAGIC.length + ID_BYTES;
  const iv = value.subarray(offset, (offset += IV_BYTES));
  const tag = value.subarray(offset, (offset += TAG_BYTES));
  const decipher = createDecipheriv('aes-256-gcm', key.key, iv);
  decipher.setAAD(Buffer.from(associated));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(value.subarray(offset)), decipher.final()]);
}
