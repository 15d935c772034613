// Shared session-ticket keys across replicas, rotated on a schedule (two gateways in this process
// on a real PostgreSQL): a session made on one resumes on the other, before and after a rotation;
// a ticket from before a rotation still resumes on both (the previous keys are kept for
// decryption) until its key has left the ring, three rotations later.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import pino from 'pino';
import { Gateway } from '../src/gateway/gateway.ts';
import { PostgresStore } from '../src/store/postgres.ts';
import { startPostgres, testStoreKeys } from './support/postgres.ts';

const TICKETS_ID = '/providers/certgate/settings/ticketKeys';

const server = await startPostgres();
const dirs: string[] = [];
const gateways: Gateway[] = [];
after(async () => {
  await Promise.all(gateways.map((gateway) => gateway.close(0)));
  await server.dispose();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function handshake(gateway: Gateway, session?: Buffer): Promise<{ reused: boolean; ticket: Buffer | undefined }> {
  const socket = tls.connect({ host: '127.0.0.1', port: gateway.addresses.httpsPort, servername: 'localhost', rejectUnauthorized: false, minVersion: 'TLSv1.3', ...(session ? { session } : {}) });
  let ticket: Buffer | undefined;
  socket.on('session', (value: Buffer) => (ticket ??= value));
  await once(socket, 'secureConnect');
  const reused = socket.isSessionReused();
  socket.end('GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n');
  socket.resume();
  await once(socket, 'close');
  return { reused, ticket };
}

test('the ticket keys are shared, and rotated on schedule by one replica for all, the previous keys kept for decryption', async () => {
  const url = await server.createDatabase();
  const keys = testStoreKeys();
  const log = pino({ level: 'silent' });
  for (let i = 0; i < 2; i++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'certgate-tickets-'));
    dirs.push(dataDir);
    gateways.push(
      await Gateway.start({ dataDir, store: await PostgresStore.open(url, { keys }), ticketKeyRotationMs: 3_000, ingress: { bindAddress: '127.0.0.1', httpsPort: 0, httpPort: 0, internal: { bindAddress: '127.0.0.1', httpsPort: 0, httpPort: 0 } } }, log),
    );
  }
  const [a, b] = gateways as [Gateway, Gateway];
  const before = await handshake(a);
  assert.ok(before.ticket);
  assert.equal((await handshake(b, before.ticket)).reused, true, 'a session from one replica resumes on the other');
  // Rotations are counted by the shared document's etag; each replica checks every 750 ms.
  let etag = (await a.store.get(TICKETS_ID))?.etag;
  let rotations = 0;
  const rotated = async (count: number) => {
    const deadline = Date.now() + 20_000;
    while (rotations < count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const now = (await a.store.get(TICKETS_ID))?.etag;
      if (now !== etag) [etag, rotations] = [now, rotations + 1];
    }
    assert.ok(rotations >= count, `${count} rotations`);
    // Two check periods: both replicas applied it.
    await new Promise((resolve) => setTimeout(resolve, 1_600));
  };
  await rotated(1);
  for (const replica of [a, b]) assert.equal((await handshake(replica, before.ticket)).reused, true, 'a ticket from before the rotation resumes on both');
  const fresh = await handshake(a);
  assert.equal((await handshake(b, fresh.ticket)).reused, true, 'after the rotation, sessions resume across replicas');
  await rotated(3);
  for (const replica of [a, b]) assert.equal((await handshake(replica, before.ticket)).reused, false, 'three rotations later its key has left the ring');
  const latest = await handshake(b);
  assert.equal((await handshake(a, latest.ticket)).reused, true);
});
