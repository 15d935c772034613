import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindWarning, isLoopbackAddress } from './bind-warning.ts';

test('loopback addresses: 127.0.0.0/8, ::1, localhost, IPv4-mapped loopback', () => {
  for (const address of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(address), true, address);
  for (const address of ['0.0.0.0', '::', '192.0.2.2', 'fd00::2', '::ffff:10.0.0.1', 'example.com', '128.0.0.1']) assert.equal(isLoopbackAddress(address), false, address);
});

test('a warning only for a non-loopback bind under the local domain, naming the flags', () => {
  const binds = (external: string, internal: string) => [
    { flag: '--bind', address: external },
    { flag: '--internal-bind', address: internal },
  ];
  assert.equal(bindWarning(binds('127.0.0.1', '127.0.0.1'), 'certgate.localhost', 'certgate.localhost'), undefined);
  assert.equal(bindWarning(binds('0.0.0.0', '::'), 'apps.example.com', 'certgate.localhost'), undefined);
  const warning = bindWarning(binds('0.0.0.0', '::'), 'certgate.localhost', 'certgate.localhost');
  assert.match(warning!, /^WARNING: --bind 0\.0\.0\.0 and --internal-bind :: listen beyond this machine/);
  assert.match(warning!, /--domain/);
});
