import { test } from 'node:test';
import assert from 'node:assert/strict';
import { originFormTarget } from './request-target.ts';

const host = 'app.env.certgate.localhost';

test('origin form passes unchanged', () => {
  assert.deepEqual(originFormTarget('GET', '/a?b=1', host), { ok: true, path: '/a?b=1' });
});

test('absolute form naming the admitted host becomes origin form (any case, with a port)', () => {
  assert.deepEqual(originFormTarget('GET', `https://${host}/admin`, host), { ok: true, path: '/admin' });
  assert.deepEqual(originFormTarget('GET', `HTTP://APP.env.certgate.localhost:8080?x=1`, host), { ok: true, path: '/?x=1' });
  assert.deepEqual(originFormTarget('GET', `https://${host}`, host), { ok: true, path: '/' });
});

test('absolute form naming another host is 421; bad authorities and schemes are 400', () => {
  const other = originFormTarget('GET', 'https://other.env.certgate.localhost/admin', host);
  assert.equal(other.ok, false);
  assert.equal(!other.ok && other.status, 421);
  for (const target of [`https://user@${host}/`, 'ftp://x/', 'https:///x', 'admin']) {
    const result = originFormTarget('GET', target, host);
    assert.equal(!result.ok && result.status, 400, target);
  }
});

test('asterisk form only for OPTIONS', () => {
  assert.deepEqual(originFormTarget('OPTIONS', '*', host), { ok: true, path: '*' });
  assert.equal(originFormTarget('GET', '*', host).ok, false);
});
