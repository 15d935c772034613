// What replicas sharing a store must also share so that any of them can serve any client: the local
// CA (clients trust one CA), the server certificates it issues (issued once: the same certificate
// on every replica, so TLS sessions made on one resume on another, whose session id context and
// ticket keys depend on the certificate), and the session-ticket key ring. Each lives in the
// database, its private part as an encrypted secret (secret-box.ts); the data dir keeps a copy, as
// on one machine, so the files stay where operators and clients look for them.
import { newTicketRing, rotateTicketRing } from '../ingress/ticket-keys.ts';
import type { IssuedCertificate } from '../pki/issue.ts';
import { installLocalCa, installServerCertificate, loadOrCreateLocalCa, loadOrCreateServerCertificate, loadStoredServerCertificate } from '../pki/local-ca.ts';
import { createFirstOfType } from '../store/create-first.ts';
import { StoreError, type Store } from '../store/store.ts';

const CA_ID = '/providers/certgate/settings/localCa';
const CA_TYPE = 'certgate/settings/localCa';
const TICKETS_ID = '/providers/certgate/settings/ticketKeys';
const TICKETS_TYPE = 'certgate/settings/ticketKeys';
const SERVER_CERTIFICATE_TYPE = 'certgate/serverCertificates';

/** The CA every replica uses: the database's, or this data dir's (or a new one) when it is the first. */
export async function sharedLocalCa(store: Store, dataDir: string): Promise<IssuedCertificate> {
  let doc = await store.get(CA_ID);
  if (!doc) {
    const local = await loadOrCreateLocalCa(dataDir);
    const winner = await createFirstOfType(store, CA_TYPE, { id: CA_ID, name: 'localCa', type: CA_TYPE, properties: { certificatePem: local.certPem } }, Buffer.from(local.keyPem));
    if (!winner) return local;
    doc = winner;
  }
  const key = await store.getSecret(CA_ID);
  if (!key) throw new Error('the shared local CA has no private key in the store');
  await installLocalCa(dataDir, { certPem: String(doc.properties['certificatePem']), keyPem: Buffer.from(key).toString('utf8') });
  return loadOrCreateLocalCa(dataDir);
}

/** The session-ticket key ring every replica derives its ticket keys from (made by the first; ingress/ticket-keys.ts). */
export async function sharedTicketRing(store: Store): Promise<Buffer> {
  const created = newTicketRing();
  const winner = await createFirstOfType(store, TICKETS_TYPE, { id: TICKETS_ID, name: 'ticketKeys', type: TICKETS_TYPE, properties: {} }, created);
  if (!winner) return created;
  const ring = await store.getSecret(TICKETS_ID);
  if (!ring) throw new Error('the shared session-ticket key ring is missing from the store');
  return Buffer.from(ring);
}

/**
 * Follows the shared ticket-key ring: every `checkMs` it reads the ring and applies a new one; when
 * `rotateMs` is given (the replicas that issue), a ring rotated longer ago than that is rotated
 * (a fresh seed in front, the oldest dropped; If-Match: one replica wins, the others apply the
 * winner's). Returns the stop function.
 */
export function followTicketKeys(store: Store, current: Buffer, apply: (ring: Buffer) => void, options: { checkMs: number; rotateMs?: number }): () => void {
  let applied = current;
  let running = false;
  const check = async () => {
    if (running) return;
    running = true;
    try {
      const doc = await store.get(TICKETS_ID);
      if (!doc) return;
      const rotatedAt = Date.parse(String(doc.properties['rotatedAt'] ?? doc.systemData.createdAt));
      if (options.rotateMs !== undefined && Date.now() - rotatedAt >= options.rotateMs) {
        const ring = await store.getSecret(TICKETS_ID);
        if (!ring) return;
        await store
          .put({ id: TICKETS_ID, name: 'ticketKeys', type: TICKETS_TYPE, properties: { rotatedAt: new Date().toISOString() } }, { secret: rotateTicketRing(ring), ifMatch: doc.etag })
          .catch((error: unknown) => {
            if (!(error instanceof StoreError && error.code === 'PreconditionFailed')) throw error;
          });
      }
      const latest = await store.getSecret(TICKETS_ID);
      if (latest && !Buffer.from(latest).equals(applied)) {
        applied = Buffer.from(latest);
        apply(applied);
      }
    } catch {
      // The store is unreachable: the current keys stay until it answers.
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), options.checkMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The server certificate for `hostnames`: the one in the database when it is still good (written
 * to the data dir), otherwise issued here and put in the database; if another replica put one
 * there first, that one is used.
 */
export async function sharedServerCertificate(store: Store, dataDir: string, ca: IssuedCertificate, hostnames: string[]): Promise<IssuedCertificate> {
  const id = `/providers/certgate/serverCertificates/${encodeURIComponent(hostnames.join(',').toLowerCase())}`;
  const install = async (): Promise<string | undefined> => {
    const doc = await store.get(id);
    const key = doc ? await store.getSecret(id) : undefined;
    if (doc && key) await installServerCertificate(dataDir, hostnames, { certPem: String(doc.properties['certificatePem']), keyPem: Buffer.from(key).toString('utf8') });
    return doc?.etag;
  };
  const etag = await install();
  // Reissued only when what the database has is not good any more (expiring, other names, other CA).
  const issued = await loadOrCreateServerCertificate(dataDir, ca, hostnames);
  const stored = await store.get(id);
  if (stored && String(stored.properties['certificatePem']) === issued.certPem) return issued;
  try {
    await store.put(
      { id, name: hostnames[0]!, type: SERVER_CERTIFICATE_TYPE, properties: { hostnames, certificatePem: issued.certPem } },
      { secret: Buffer.from(issued.keyPem), ...(etag ? { ifMatch: etag } : { ifNoneMatch: '*' as const }) },
    );
    return issued;
  } catch (error) {
    if (!(error instanceof StoreError && error.code === 'PreconditionFailed')) throw error;
    // A peer issued one meanwhile: everyone serves that one.
    await install();
    const theirs = await loadStoredServerCertificate(dataDir, ca, hostnames);
    if (!theirs) throw new Error(`the server certificate a peer issued for ${hostnames.join(', ')} is not usable`, { cause: error });
    return theirs;
  }
}
