// Session-ticket keys that processes and replicas share and rotate without breaking resumption
// (Caddy's distributed STEK is the model). A ring is the shared seeds, newest first, at most
// TICKET_RING_SIZE of them: tickets are made under the second newest (the current key) and
// accepted under any of them. The newest is announced one rotation before it is used, so a replica
// that applies a rotation a little later than another still decrypts every ticket the other makes;
// the older ones keep tickets made before the last rotations resumable (they are renewed: the
// client gets a ticket under the current key). Each TLS policy derives its own keys from each seed,
// so a ticket made under one app's policy never decrypts under another's (nginx CVE-2025-23419).
import { createHmac, randomBytes } from 'node:crypto';
import tls from 'node:tls';

export const TICKET_SEED_BYTES = 32;
/** The next key, the current one and two previous ones, as Caddy keeps four. */
export const TICKET_RING_SIZE = 4;

/** One ticket key: OpenSSL's 16-byte name, the HMAC-SHA256 key and the AES-128-CBC key. */
export interface TicketKey {
  readonly name: Buffer;
  readonly hmac: Buffer;
  readonly aes: Buffer;
}

/** The seeds of a ring (a whole number of seeds, 1 to TICKET_RING_SIZE), newest first. */
export function ringSeeds(ring: Uint8Array): Buffer[] {
  if (ring.length === 0 || ring.length % TICKET_SEED_BYTES !== 0 || ring.length / TICKET_SEED_BYTES > TICKET_RING_SIZE) {
    throw new Error(`a ticket-key ring is 1 to ${TICKET_RING_SIZE} seeds of ${TICKET_SEED_BYTES} bytes, not ${ring.length} bytes`);
  }
  const seeds: Buffer[] = [];
  for (let offset = 0; offset < ring.length; offset += TICKET_SEED_BYTES) seeds.push(Buffer.from(ring.subarray(offset, offset + TICKET_SEED_BYTES)));
  return seeds;
}

/** A new ring: the next seed and the current one. */
export function newTicketRing(): Buffer {
  return randomBytes(2 * TICKET_SEED_BYTES);
}

/** The ring after one rotation: a fresh seed in front, the oldest dropped once the ring is full. */
export function rotateTicketRing(ring: Uint8Array, fresh: Buffer = randomBytes(TICKET_SEED_BYTES)): Buffer {
  return Buffer.concat([fresh, ...ringSeeds(ring)].slice(0, TICKET_RING_SIZE));
}

/** Which key of a ring new tickets are made under: the second newest (the newest is only announced). */
function encryptionIndex(count: number): number {
  return count > 1 ? 1 : 0;
}

/** The keys one TLS policy uses, one per seed of the ring, in the ring's order. */
export function policyTicketKeys(ring: Uint8Array, policyKey: string): readonly TicketKey[] {
  return ringSeeds(ring).map((seed) => {
    const derive = (label: string, bytes: number) => createHmac('sha256', seed).update(label).update('\0').update(policyKey).digest().subarray(0, bytes);
    return Object.freeze({ name: derive('ticket-name', 16), hmac: derive('ticket-hmac', 32), aes: derive('ticket-aes', 16) });
  });
}

/**
 * Node's SecureContext has one ticket key (setTicketKeys) and, undocumented, OpenSSL's ticket-key
 * callback (`enableTicketKeyCallback` and `onticketkeycallback`, kept for Node's own
 * test-https-resume-after-renew). `test/ticket-keys.test.ts` fails if a Node upgrade drops it.
 */
interface NativeContext {
  setTicketKeys(keys: Buffer): void;
  enableTicketKeyCallback?: () => void;
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => unknown[];
}

/** Whether this Node can hold more than one ticket key per context (see NativeContext). */
export const TICKET_KEY_CALLBACK = typeof (tls.createSecureContext() as unknown as { context: Partial<NativeContext> }).context.enableTicketKeyCallback === 'function';

/**
 * Makes `native` issue tickets under the ring's current key and accept them under any of its keys.
 * The keys are derived on the context's first ticket, not here: a rotation, or a start with 10,000
 * apps, costs no key derivation for the apps no client reaches. Without the callback (see
 * NativeContext) only the current key is set: tickets made before a rotation then need a full
 * handshake.
 */
export function installTicketKeys(native: NativeContext, ring: Uint8Array, policyKey: string): void {
  if (!TICKET_KEY_CALLBACK) {
    const keys = policyTicketKeys(ring, policyKey);
    const current = keys[encryptionIndex(keys.length)]!;
    native.setTicketKeys(Buffer.concat([current.name, current.hmac.subarray(0, 16), current.aes]));
    return;
  }
  let keys: readonly TicketKey[] | undefined;
  let current: TicketKey | undefined;
  // Return values are OpenSSL's: 1 decrypted (or made), 2 decrypted and to be renewed under the
  // current key, 0 unknown (the client makes a full handshake; Node reads the keys even then).
  native.onticketkeycallback = (name, _iv, encrypt) => {
    keys ??= policyTicketKeys(ring, policyKey);
    current ??= keys[encryptionIndex(keys.length)]!;
    if (encrypt) return [1, current.hmac, current.aes, current.name, randomBytes(16)];
    for (const key of keys) if (key.name.equals(name)) return [key === current ? 1 : 2, key.hmac, key.aes];
    return [0, current.hmac, current.aes];
  };
  native.enableTicketKeyCallback!();
}
