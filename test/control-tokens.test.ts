// Bearer tokens at the HTTPS management API: only tokens certgate issued, for its own audience and
// issuer, for a principal that still exists, unexpired, with the one canonical signature encoding.
// Every refusal is a 401 with WWW-Authenticate and ARM's error code for the reason.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlaneFixture, type ControlPlaneFixture } from './support/control-fixture.ts';
import { armClient, type ArmClient, type ArmResult } from './support/arm.ts';
import { tokenIssuer } from '../src/control/auth/tokens.ts';
import { createPrincipal, principalId } from '../src/control/auth/principals.ts';

let fixture: ControlPlaneFixture | undefined;
let arm: ArmClient;
const PATH = '/subscriptions?api-version=2022-12-01';

before(async () => {
  fixture = await startControlPlaneFixture('certgate-tokens-');
  arm = await armClient(fixture.gw.credentials!, fixture.gw.caPem);
});

after(async () => {
  await arm?.close();
  await fixture?.close();
});

const withToken = (token: string) => arm.raw('GET', PATH, undefined, { authorization: `Bearer ${token}` });
/** A token signed with certgate's own key (as if certgate had issued it) with the claims given. */
const signed = async (audience: string, options: { sub?: string; issuer?: string; now?: number } = {}) =>
  (await (await tokenIssuer(fixture!.gw.gateway.store)).issue(options.sub ?? fixture!.gw.credentials!.clientId, audience, options.issuer ?? `${arm.endpoint}/adfs`, options.now)).token;

function refused(result: ArmResult, code: string, message: RegExp) {
  assert.equal(result.status, 401, result.text);
  assert.equal(result.json.error.code, code, result.text);
  assert.match(result.json.error.message, message);
  assert.match(String(result.headers['www-authenticate']), /^Bearer authorization_uri="https:\/\/127\.0\.0\.1:\d+\/adfs", error="invalid_token"/);
}

test('the endpoint\'s own audiences are accepted (as az, the SDK and ARM\'s public id ask for them)', async () => {
  for (const audience of [`${arm.endpoint}/`, arm.endpoint, 'https://management.azure.com/', 'https://management.core.windows.net/']) {
    assert.equal((await withToken(await signed(audience))).status, 200, audience);
  }
});

test('a token for another audience is refused with 401 InvalidAuthenticationTokenAudience', async () => {
  refused(await withToken(await signed('https://vault.azure.net')), 'InvalidAuthenticationTokenAudience', /wrong audience or resource 'https:\/\/vault\.azure\.net'.*It should be 'https:\/\/127\.0\.0\.1:\d+\/'/);
  refused(await withToken(await signed('https://127.0.0.1:1/')), 'InvalidAuthenticationTokenAudience', /wrong audience/);
});

test('the token endpoint issues no token for another resource', async () => {
  const { clientId, clientSecret } = fixture!.gw.credentials!;
  const forms: Record<string, string>[] = [{ scope: 'https://vault.azure.net/.default' }, { resource: 'https://graph.microsoft.com/' }];
  for (const form of forms) {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, ...form }).toString();
    const result = await arm.raw('POST', '/adfs/oauth2/token', body, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(result.status, 400, result.text);
    assert.equal(result.json.error, 'invalid_resource');
    assert.equal(result.json.access_token, undefined);
  }
});

test('another issuer, a forged or deleted subject, an expired token: 401 with the reason', async () => {
  refused(await withToken(await signed(`${arm.endpoint}/`, { issuer: 'https://login.microsoftonline.com/x/v2.0' })), 'InvalidAuthenticationToken', /not issued by this endpoint/);
  refused(await withToken(await signed(`${arm.endpoint}/`, { sub: '00000000-0000-4000-8000-000000000000' })), 'InvalidAuthenticationToken', /principal that does not exist/);
  refused(await withToken(await signed(`${arm.endpoint}/`, { now: Math.floor(Date.now() / 1000) - 3601 })), 'ExpiredAuthenticationToken', /expired/);
  // A principal's tokens stop working when it is deleted.
  const store = fixture!.gw.gateway.store;
  const { clientId } = await createPrincipal(store, 'temporary');
  const token = await signed(`${arm.endpoint}/`, { sub: clientId });
  assert.equal((await withToken(token)).status, 200);
  await store.delete(principalId(clientId));
  refused(await withToken(token), 'InvalidAuthenticationToken', /principal that does not exist/);
});

test('a tampered signature, and a standard-base64 copy of a good one, are refused', async () => {
  let token = arm.token;
  // A good token whose signature base64 spells differently from base64url (has '-' or '_').
  while (!/[-_]/.test(token.split('.')[2]!)) token = await signed(`${arm.endpoint}/`);
  assert.equal((await withToken(token)).status, 200);
  const [header, payload, signature] = token.split('.');
  const copy = Buffer.from(signature!, 'base64url').toString('base64').replace(/=+$/, '');
  refused(await withToken(`${header}.${payload}.${copy}`), 'InvalidAuthenticationToken', /malformed or its signature/);
  const tampered = `${signature!.slice(0, 5)}${signature![5] === 'A' ? 'B' : 'A'}${signature!.slice(6)}`;
  refused(await withToken(`${header}.${payload}.${tampered}`), 'InvalidAuthenticationToken', /malformed or its signature/);
});
