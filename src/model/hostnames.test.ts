import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostFromAuthority, hostNamesOf, normalizeHostname } from './hostnames.ts';

test('the host-name rule: RFC 1123 labels (no hyphen at either end), underscores allowed, 253 characters at most', () => {
  for (const name of ['a', 'Shop.Example.COM', 'shop.example.com.', 'x-y.test', '_acme-challenge.example.com', 'a_b.test', '1.2.3.4', `${'a'.repeat(63)}.test`]) {
    assert.ok(normalizeHostname(name), name);
  }
  assert.equal(normalizeHostname('Shop.Example.COM.'), 'shop.example.com');
  for (const name of ['shop-.example.com', '-shop.example.com', 'shop.-x.com', 'a..b', '.', '', 'a.b..', '*.example.com', '[::1]', 'a b', 'é.test', `${'a'.repeat(64)}.test`, `${'a.'.repeat(127)}ab`]) {
    assert.equal(normalizeHostname(name), undefined, name);
  }
});

test('Host header values: port dropped, IPv6 literals kept in brackets, malformed ones refused', () => {
  assert.equal(hostFromAuthority('Shop.Example.com:8443'), 'shop.example.com');
  assert.equal(hostFromAuthority('[::1]:8443'), '[::1]');
  assert.equal(hostFromAuthority('shop-.example.com'), undefined);
  assert.equal(hostFromAuthority('a.test:x'), undefined);
  assert.equal(hostFromAuthority('[::1'), undefined);
});

test("an app's host names: the default name and the bound custom domains, not Disabled ones or invalid names", () => {
  const names = hostNamesOf('Shop', 'env.test', [
    { name: 'Off.Example.Test', bindingType: 'Disabled' },
    { name: 'api.example.test', bindingType: 'SniEnabled', certificateId: 'c1' },
    { name: 'bad-.example.test', bindingType: 'SniEnabled', certificateId: 'c1' },
    { name: 'auto.example.test', bindingType: 'Auto', certificateId: 'c2' },
  ]);
  assert.deepEqual(names, [
    { name: 'shop.env.test', source: 'default' },
    { name: 'api.example.test', source: 'customDomain', index: 1, certificateId: 'c1', auto: false },
    { name: 'auto.example.test', source: 'customDomain', index: 3, certificateId: 'c2', auto: true },
  ]);
  assert.deepEqual(hostNamesOf('shop', undefined, undefined), []);
});
