// packaging/certgate.service checked by systemd itself (Debian's systemd package): `systemd-analyze
// verify` (directives, values, the executable) and `systemd-analyze security --offline` (the
// exposure score), with the hardening the production guide promises. The command it runs is
// started as written by test/package.test.ts against an installed package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './support/clients.ts';
import { ROOT } from './support/cli.ts';
import { INSTALL_PREFIX, UNIT_PATH, unitDirectives } from './support/unit-file.ts';

/** The unit with the install prefix moved to `prefix` (verify checks that the executable exists). */
function unitAt(prefix: string, text = readFileSync(UNIT_PATH, 'utf8')): string {
  return text.replaceAll(`${INSTALL_PREFIX}/node_modules/node/bin/node`, `${prefix}/node_modules/node/bin/node`);
}

async function verify(text: string): Promise<{ code: number; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-unit-'));
  try {
    writeFileSync(join(dir, 'certgate.service'), text);
    const result = await run('systemd-analyze', ['verify', join(dir, 'certgate.service')]);
    return { code: result.code, stderr: result.stderr.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('systemd-analyze verify accepts the unit, with nothing to warn about', async () => {
  // The checkout's pinned Node stands in for the installed one at /opt/certgate.
  const result = await verify(unitAt(ROOT));
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '', 'verify prints a warning for any bad directive or value');
});

test('verify would catch a mistake: a bad value, an unknown directive, a missing executable', async () => {
  const bad = await verify(unitAt(ROOT).replace('ProtectHome=yes', 'ProtectHome=sometimes'));
  assert.match(bad.stderr, /Failed to parse protect home value/);
  const unknown = await verify(unitAt(ROOT).replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'));
  assert.match(unknown.stderr, /Unknown key 'NoNewPrivilege' in section \[Service\]/);
  const missing = await verify(unitAt('/nonexistent'));
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /is not executable: No such file or directory/);
});

test('the hardening: own user, state dir, one capability for ports 80/443, read-only system, syscall filter', () => {
  const directives = unitDirectives(readFileSync(UNIT_PATH, 'utf8'));
  const expected: Record<string, string> = {
    DynamicUser: 'yes',
    StateDirectory: 'certgate',
    StateDirectoryMode: '0700',
    UMask: '0077',
    AmbientCapabilities: 'CAP_NET_BIND_SERVICE',
    CapabilityBoundingSet: 'CAP_NET_BIND_SERVICE',
    NoNewPrivileges: 'yes',
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    PrivateDevices: 'yes',
    RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
    RestrictNamespaces: 'yes',
    SystemCallArchitectures: 'native',
    KillSignal: 'SIGTERM',
  };
  for (const [name, value] of Object.entries(expected)) assert.deepEqual(directives.get(name), [value], name);
  assert.deepEqual(directives.get('SystemCallFilter')?.[0], '@system-service');
  assert.match(directives.get('SystemCallFilter')?.[1] ?? '', /^~@privileged /);
  assert.ok(directives.get('Environment')?.includes('CERTGATE_DATA_DIR=/var/lib/certgate'), 'the data dir is the StateDirectory');
  assert.ok(!(directives.get('Environment') ?? []).some((value) => value.startsWith('CERTGATE_BIND=')), 'no public bind by default: the env file says so');
  assert.equal(directives.get('MemoryDenyWriteExecute'), undefined, "V8's JIT needs W+X memory");
});

test('systemd-analyze security --offline rates the unit OK (exposure at most 2.0 of 10)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-unit-'));
  try {
    writeFileSync(join(dir, 'certgate.service'), unitAt(ROOT));
    const result = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', join(dir, 'certgate.service')]);
    const match = /Overall exposure level for certgate\.service: (\d+\.\d+)/.exec(result.stdout + result.stderr);
    assert.ok(match, result.stdout + result.stderr);
    assert.ok(Number(match[1]) <= 2.0, `exposure ${match[1]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
