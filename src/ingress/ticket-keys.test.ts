// Ticket-key rings with real TLS handshakes (Node clients, the TLSSocket wiring of the listener):
// tickets survive rotations while their key is in the ring, a replica one rotation behind resumes
// what the others issue, and a ticket never crosses TLS policies.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCa, issueCertificate } from '../pki/issue.ts';
import { TlsPolicyCache, type ServerCredentials, type TlsPolicy } from './snapshot.ts';
import { connectTls13, servePolicy } from '../../test/support/tls-policy-server.ts';
import { newTicketRing, ringSeeds, rotateTicketRing, TICKET_KEY_CALLBACK, TICKET_RING_SIZE, TICKET_SEED_BYTES } from './ticket-keys.ts';

let credentials: ServerCredentials;

before(async () => {
  const ca = await createCa({ commonName: 'ticket test CA' });
  const server = await issueCertificate({ issuer: ca, commonName: 'a.test', kind: 'server', dnsNames: ['a.test'] });
  credentials = { kind: 'pem', certPem: server.certPem, keyPem: server.keyPem };
});

/** Serves one policy as the listener does until the callback returns. */
async function serving<T>(policy: TlsPolicy, run: (port: number) => Promise<T>): Promise<T> {
  const server = await servePolicy(policy);
  try {
    return await run(server.port);
  } finally {
    server.close();
  }
}

async function connect(port: number, session?: Buffer): Promise<{ reused: boolean; ticket: Buffer | undefined }> {
  const result = await connectTls13(port, 'a.test', session);
  if (!result.reused) assert.ok(result.ticket, 'a full handshake gives a ticket');
  return result;
}

const policyOf = (cache: TlsPolicyCache, scope = 'app-a') => cache.policy(scope, undefined, credentials);

test('this Node lets a context hold several ticket keys (the callback certgate relies on)', () => {
  assert.equal(TICKET_KEY_CALLBACK, true);
});

test('a ring holds 1 to 4 seeds, newest first; a rotation puts a fresh seed in front and drops the oldest', () => {
  const ring = newTicketRing();
  assert.equal(ringSeeds(ring).length, 2);
  let rotated = ring;
  for (let i = 0; i < 5; i++) rotated = rotateTicketRing(rotated);
  assert.equal(ringSeeds(rotated).length, TICKET_RING_SIZE);
  const fresh = Buffer.alloc(TICKET_SEED_BYTES, 7);
  const next = ringSeeds(rotateTicketRing(rotated, fresh));
  assert.deepEqual(next[0], fresh);
  assert.deepEqual(next.slice(1), ringSeeds(rotated).slice(0, TICKET_RING_SIZE - 1));
  for (const bad of [0, 31, 33, 5 * TICKET_SEED_BYTES]) assert.throws(() => ringSeeds(Buffer.alloc(bad)), /ticket-key ring/);
  assert.throws(() => new TlsPolicyCache(Buffer.alloc(40)), /ticket-key ring/);
});

test('a ticket resumes after rotations while its key is in the ring, and not once it has left', async () => {
  const ring0 = newTicketRing();
  const cache = new TlsPolicyCache(ring0);
  const policy = policyOf(cache);
  await serving(policy, async (port) => {
    const { ticket } = await connect(port);
    const plain = await connect(port, ticket);
    assert.equal(plain.reused, true, 'before any rotation');
    assert.equal(plain.ticket, undefined, 'resumed under the current key: not renewed');
    let ring = ring0;
    // Made under the current key (the second seed): it stays through two rotations (then it is the
    // oldest of four seeds) and is dropped by the third.
    for (const expected of [true, true, false]) {
      ring = rotateTicketRing(ring);
      cache.rotateTicketKeys(ring);
      const resumed = await connect(port, ticket);
      assert.equal(resumed.reused, expected, `after ${ringSeeds(ring).length} seeds`);
      // Renewed (or, after a full handshake, new): a ticket under the current key, which resumes.
      assert.ok(resumed.ticket, 'the client got a ticket under the current key');
      assert.equal((await connect(port, resumed.ticket)).reused, true);
    }
  });
});

test('a replica one rotation behind resumes the tickets the others make, and the reverse', async () => {
  const behind = newTicketRing();
  const ahead = rotateTicketRing(behind);
  const a = policyOf(new TlsPolicyCache(ahead));
  const b = policyOf(new TlsPolicyCache(behind));
  await serving(a, (portA) =>
    serving(b, async (portB) => {
      assert.equal((await connect(portB, (await connect(portA)).ticket)).reused, true, 'made ahead, resumed behind');
      assert.equal((await connect(portA, (await connect(portB)).ticket)).reused, true, 'made behind, resumed ahead');
    }),
  );
});

test('a ticket made under one policy does not resume under another sharing the ring', async () => {
  const cache = new TlsPolicyCache(newTicketRing());
  const { ticket } = await serving(policyOf(cache, 'app-a'), (port) => connect(port));
  assert.equal((await serving(policyOf(cache, 'app-b'), (port) => connect(port, ticket))).reused, false);
  assert.equal((await serving(policyOf(cache, 'app-a'), (port) => connect(port, ticket))).reused, true);
});

test('without a ring each context keeps keys of its own', async () => {
  const { ticket } = await serving(policyOf(new TlsPolicyCache()), (port) => connect(port));
  assert.equal((await serving(policyOf(new TlsPolicyCache()), (port) => connect(port, ticket))).reused, false);
});
