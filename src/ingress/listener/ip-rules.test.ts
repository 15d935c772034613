import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileIpRules, compileRangeList, ipRulesProblem, parseIpRange } from './ip-rules.ts';

test('parseIpRange: CIDR v4 and v6, single addresses; garbage refused', () => {
  assert.deepEqual(parseIpRange('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.deepEqual(parseIpRange('10.1.2.3'), { address: '10.1.2.3', prefix: 32, family: 'ipv4' });
  assert.deepEqual(parseIpRange('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' });
  assert.deepEqual(parseIpRange('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  for (const bad of ['', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/08', '010.0.0.1', '10.0.0', 'fe80::1%eth0', 'example.com', '10.0.0.0/8/8', ' 10.0.0.1', '1.2.3.4/-1', '*']) {
    assert.equal(parseIpRange(bad), undefined, bad);
  }
});

test('ipRulesProblem: mixed Allow and Deny, and a bad range, are named by index and member', () => {
  assert.equal(ipRulesProblem([{ ipAddressRange: '10.0.0.0/8', action: 'Allow' }, { ipAddressRange: '::1', action: 'Allow' }]), undefined);
  const mixed = ipRulesProblem([{ ipAddressRange: '10.0.0.0/8', action: 'Allow' }, { ipAddressRange: '::1', action: 'Deny' }]);
  assert.equal(mixed?.index, 1);
  assert.equal(mixed?.member, 'action');
  assert.match(mixed!.message, /all Allow or all Deny/);
  const garbage = ipRulesProblem([{ ipAddressRange: '10.0.0.0/8', action: 'Deny' }, { ipAddressRange: '10.0.0.300', action: 'Deny' }]);
  assert.deepEqual([garbage?.index, garbage?.member], [1, 'ipAddressRange']);
});

test('an Allow list denies everything else; a Deny list allows everything else', () => {
  const allow = compileIpRules([{ ipAddressRange: '127.0.0.2/32', action: 'Allow' }, { ipAddressRange: '2001:db8::/32', action: 'Allow' }])!;
  assert.equal(allow.allows('127.0.0.2'), true);
  assert.equal(allow.allows('127.0.0.3'), false);
  assert.equal(allow.allows('2001:db8::5'), true);
  assert.equal(allow.allows('::1'), false);
  const deny = compileIpRules([{ ipAddressRange: '127.0.0.0/30', action: 'Deny' }])!;
  assert.equal(deny.allows('127.0.0.2'), false);
  assert.equal(deny.allows('127.0.0.4'), true);
  assert.equal(deny.allows('::1'), true);
  assert.equal(compileIpRules([]), undefined);
  assert.equal(compileIpRules(undefined), undefined);
});

test('IPv4-mapped IPv6 addresses match IPv4 rules', () => {
  const deny = compileIpRules([{ ipAddressRange: '127.0.0.2', action: 'Deny' }])!;
  assert.equal(deny.allows('::ffff:127.0.0.2'), false);
  assert.equal(deny.allows('::FFFF:127.0.0.2'), false);
  assert.equal(deny.allows('::ffff:7f00:2'), false);
  assert.equal(deny.allows('::ffff:127.0.0.3'), true);
  const allow = compileIpRules([{ ipAddressRange: '127.0.0.0/8', action: 'Allow' }])!;
  assert.equal(allow.allows('::ffff:127.0.0.9'), true);
});

test('fail closed: an address that is no IP is allowed by neither list', () => {
  assert.equal(compileIpRules([{ ipAddressRange: '10.0.0.0/8', action: 'Deny' }])!.allows(''), false);
  assert.equal(compileIpRules([{ ipAddressRange: '0.0.0.0/0', action: 'Allow' }])!.allows('not-an-ip'), false);
});

test('compileIpRules throws on rules that would not be enforced as written', () => {
  assert.throws(() => compileIpRules([{ ipAddressRange: '10.0.0.0/8', action: 'Allow' }, { ipAddressRange: '10.0.0.1', action: 'Deny' }]), /all Allow or all Deny/);
  assert.throws(() => compileIpRules([{ ipAddressRange: 'nope', action: 'Deny' }]), /ipAddressRange/);
});

test('compileRangeList: trusted sources', () => {
  const trusted = compileRangeList(['127.0.0.1', '10.0.0.0/8', '::1']);
  assert.equal(trusted('127.0.0.1'), true);
  assert.equal(trusted('::ffff:127.0.0.1'), true);
  assert.equal(trusted('127.0.0.2'), false);
  assert.equal(trusted('::1'), true);
  assert.throws(() => compileRangeList(['10.0.0.0/40']), /not an IPv4 or IPv6/);
});
