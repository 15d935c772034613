import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../store/sqlite.ts';
import { authenticatePrincipal, createPrincipal, principalId } from './principals.ts';
import { TOKEN_LIFETIME_SECONDS, tokenIssuer } from './tokens.ts';

test('a principal authenticates with its secret only; the secret is not stored', async () => {
  const store = new SqliteStore(':memory:');
  try {
    const { clientId, clientSecret } = await createPrincipal(store, 'ops');
    assert.equal((await authenticatePrincipal(store, clientId, clientSecret))?.clientId, clientId);
    assert.equal(await authenticatePrincipal(store, clientId, `${clientSecret}x`), undefined);
    assert.equal(await authenticatePrincipal(store, '00000000-0000-0000-0000-000000000000', clientSecret), undefined);
    assert.equal(await authenticatePrincipal(store, 'not-a-uuid', clientSecret), undefined);
    const stored = Buffer.from(store.getSecret(principalId(clientId))!).toString('utf8');
    assert.ok(!stored.includes(clientSecret), 'only a hash is stored');
    assert.match(stored, /"hash":/);
  } finally {
    store.close();
  }
});

test('tokens verify until they expire, and not after; a tampered token never verifies', () => {
  const store = new SqliteStore(':memory:');
  try {
    const tokens = tokenIssuer(store);
    const now = 1_800_000_000;
    const { token } = tokens.issue('client', 'https://endpoint/', 'https://endpoint/adfs', now);
    assert.equal(tokens.verify(token, now + 10)?.sub, 'client');
    assert.equal(tokens.verify(token, now + TOKEN_LIFETIME_SECONDS - 1)?.sub, 'client');
    assert.equal(tokens.verify(token, now + TOKEN_LIFETIME_SECONDS), undefined, 'expired');
    const [header, payload, signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), sub: 'admin' })).toString('base64url');
    assert.equal(tokens.verify(`${header}.${forged}.${signature}`, now + 10), undefined, 'tampered');
    // Another store (another certgate) has another key: its tokens are not ours.
    const other = new SqliteStore(':memory:');
    try {
      assert.equal(tokenIssuer(other).verify(token, now + 10), undefined);
    } finally {
      other.close();
    }
    // The same store keeps its key: a restarted certgate accepts the tokens it issued.
    assert.equal(tokenIssuer(store).verify(token, now + 10)?.sub, 'client');
  } finally {
    store.close();
  }
});
