import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../store/sqlite.ts';
import { authenticatePrincipal, createPrincipal, principalId, newSecret } from './principals.ts';
import { TOKEN_LIFETIME_SECONDS, tokenIssuer } from './tokens.ts';

test('a principal authenticates with its secret only; the secret is not stored', async () => {
  const store = new SqliteStore(':memory:');
  try {
    const { clientId, clientSecret } = await createPrincipal(store, 'ops');
    assert.equal((await authenticatePrincipal(store, clientId, clientSecret))?.clientId, clientId);
    assert.equal(await authenticatePrincipal(store, clientId, `${clientSecret}x`), undefined);
    assert.equal(await authenticatePrincipal(store, '00000000-0000-0000-0000-000000000000', clientSecret), undefined);
    assert.equal(await authenticatePrincipal(store, 'not-a-uuid', clientSecret), undefined);
    const stored = Buffer.from((await store.getSecret(principalId(clientId)))!).toString('utf8');
    assert.ok(!stored.includes(clientSecret), 'only a hash is stored');
    assert.match(stored, /"hash":/);
  } finally {
    await store.close();
  }
});

const EXPECTED = { audiences: ['https://endpoint'], issuers: ['https://endpoint/adfs'] };

/** A store with one principal and its token issuer; the token is issued at `now`. */
async function issued(now: number, audience = 'https://endpoint/') {
  const store = new SqliteStore(':memory:');
  const { clientId } = await createPrincipal(store, 'ops');
  const tokens = await tokenIssuer(store);
  const { token } = await tokens.issue(clientId, audience, 'https://endpoint/adfs', now);
  return { store, tokens, token, clientId };
}

test('tokens verify until they expire, and not after; a tampered token never verifies', async () => {
  const now = 1_800_000_000;
  const { store, tokens, token, clientId } = await issued(now);
  try {
    assert.equal((await tokens.verify(token, EXPECTED, now + 10)).ok, true);
    const valid = await tokens.verify(token, EXPECTED, now + TOKEN_LIFETIME_SECONDS - 1);
    assert.equal(valid.ok && valid.claims.sub, clientId);
    assert.deepEqual(await tokens.verify(token, EXPECTED, now + TOKEN_LIFETIME_SECONDS), { ok: false, reason: 'expired' });
    assert.deepEqual(await tokens.verify(token, EXPECTED, now - 120), { ok: false, reason: 'not_yet_valid' });
    const [header, payload, signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), sub: 'admin' })).toString('base64url');
    assert.deepEqual(await tokens.verify(`${header}.${forged}.${signature}`, EXPECTED, now + 10), { ok: false, reason: 'signature' }, 'tampered payload');
    const flipped = `${signature!.slice(0, 10)}${signature![10] === 'A' ? 'B' : 'A'}${signature!.slice(11)}`;
    assert.deepEqual(await tokens.verify(`${header}.${payload}.${flipped}`, EXPECTED, now + 10), { ok: false, reason: 'signature' }, 'tampered signature');
    // Another store (another certgate) has another key: its tokens are not ours.
    const other = new SqliteStore(':memory:');
    try {
      assert.equal((await (await tokenIssuer(other)).verify(token, EXPECTED, now + 10)).ok, false);
    } finally {
      await other.close();
    }
    // The same store keeps its key: a restarted certgate accepts the tokens it issued.
    assert.equal((await (await tokenIssuer(store)).verify(token, EXPECTED, now + 10)).ok, true);
  } finally {
    await store.close();
  }
});

test('a token is accepted only for our audience and issuer, and only for a principal that exists', async () => {
  const now = 1_800_000_000;
  const { store, tokens, token, clientId } = await issued(now);
  try {
    assert.deepEqual(await tokens.verify(token, { ...EXPECTED, audiences: ['https://other'] }, now + 10), { ok: false, reason: 'audience', audience: 'https://endpoint/' });
    assert.deepEqual(await tokens.verify(token, { ...EXPECTED, issuers: ['https://other/adfs'] }, now + 10), { ok: false, reason: 'issuer' });
    // A token signed with our key for a principal that does not exist (a forged or a deleted sub).
    const ghost = await tokens.issue('00000000-0000-4000-8000-000000000000', 'https://endpoint/', 'https://endpoint/adfs', now);
    assert.deepEqual(await tokens.verify(ghost.token, EXPECTED, now + 10), { ok: false, reason: 'subject' });
    await store.delete(principalId(clientId));
    assert.deepEqual(await tokens.verify(token, EXPECTED, now + 10), { ok: false, reason: 'subject' }, 'deleting the principal revokes its tokens');
  } finally {
    await store.close();
  }
});

test('one signature encoding: the standard-base64, padded or non-canonical copies are refused', async () => {
  const now = 1_800_000_000;
  const { store, tokens, clientId } = await issued(now);
  try {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // A signature that base64 and base64url spell differently, with a last character whose unused bits are 0.
    let token = '';
    while (!/[-_]/.test(token.split('.')[2] ?? '') || alphabet.indexOf(token.at(-1)!) % 2 === 1) {
      token = (await tokens.issue(clientId, 'https://endpoint/', 'https://endpoint/adfs', now)).token;
    }
    const [header, payload, signature] = token.split('.');
    assert.equal((await tokens.verify(token, EXPECTED, now + 10)).ok, true);
    const raw = Buffer.from(signature!, 'base64url');
    const copies = [raw.toString('base64'), raw.toString('base64').replace(/=+$/, ''), `${signature}=`];
    // The last character carries 4 bits and 2 unused ones: setting an unused bit decodes to the same bytes.
    copies.push(`${signature!.slice(0, -1)}${alphabet[alphabet.indexOf(signature!.at(-1)!) | 1]}`);
    for (const copy of copies) {
      assert.notEqual(copy, signature);
      assert.deepEqual(Buffer.from(copy, 'base64'), raw, 'the copy decodes to the same bytes');
      assert.equal((await tokens.verify(`${header}.${payload}.${copy}`, EXPECTED, now + 10)).ok, false, copy);
    }
  } finally {
    await store.close();
  }
});

test("client secrets never start with '-', which az's -p would read as an option", () => {
  for (let i = 0; i < 2_000; i++) {
    const secret = newSecret();
    assert.match(secret, /^[A-Za-z0-9_][A-Za-z0-9_-]{42}$/);
  }
});
