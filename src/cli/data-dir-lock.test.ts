// Whose lock is it: a live certgate (refuse), a dead or reused PID, or a lock from before a reboot
// (take over), or another machine's (refuse: it cannot be checked from here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { lockHolder } from './data-dir-lock.ts';

const BOOT = 'boot-1';

test('a live process named certgate holds the lock; the same PID from another boot does not', async () => {
  // `exec -a` names the process as certgate's entry point would appear in /proc/<pid>/cmdline.
  const child = spawn('bash', ['-c', 'exec -a /opt/certgate/node_modules/certgate/dist/main.js sleep 30'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const lock = { pid: child.pid!, hostname: hostname(), bootId: BOOT, started: '' };
    assert.equal(lockHolder(lock, hostname(), BOOT), 'alive');
    assert.equal(lockHolder(lock, hostname(), 'boot-2'), 'stale', 'after a reboot every PID is another process');
    assert.equal(lockHolder({ ...lock, hostname: 'elsewhere' }, hostname(), BOOT), 'unknown');
  } finally {
    child.kill('SIGKILL');
  }
});

test('a live process that is no certgate (a reused PID), and a process that is gone, leave the lock stale', async () => {
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(lockHolder({ pid: other.pid!, hostname: hostname(), started: '' }, hostname(), BOOT), 'stale');
  } finally {
    other.kill('SIGKILL');
  }
  await new Promise((resolve) => other.once('exit', resolve));
  assert.equal(lockHolder({ pid: other.pid!, hostname: hostname(), started: '' }, hostname(), BOOT), 'stale');
});
