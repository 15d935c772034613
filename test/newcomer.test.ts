// What a newcomer tripped on (issue 18), each as the real CLI does it: --version, a busy port for
// echo-app and for serve (a clear error naming what moves it, and no half-made data dir), and two
// gateways on one data dir (refused, naming the PID; a killed gateway's lock gone with it).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certgate, cleanEnv, exec, MAIN, NODE, ROOT, serveBanner } from './support/cli.ts';
import { PID_FILE } from '../src/cli/data-dir-lock.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'certgate-newcomer-')));
  dirs.push(dir);
  return dir;
}

/** A port held by a plain listener for the test's duration. */
async function busyPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

// Free ports everywhere but the one under test; one process.
const FREE = ['--https-port', '0', '--http-port', '0', '--management-port', '0', '--workers', '1'];

function assertNoStack(stderr: string): void {
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  assert.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr}`);
}

test('certgate --version prints certgate\'s version and the Node.js running it (as az --version)', async () => {
  const result = await certgate(['--version']);
  assert.equal(result.code, 0, result.stderr);
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.match(result.stdout, new RegExp(`^certgate ${version.replaceAll('.', '\\.')}\\n`));
  assert.match(result.stdout, /^node +24\./m);
});

test('echo-app on a busy port: one ERROR line naming --port, exit code 1; help examples avoid 8080', async () => {
  const busy = await busyPort();
  try {
    const result = await certgate(['echo-app', '--port', String(busy.port)]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^ERROR: 127\\.0\\.0\\.1:${busy.port} is in use by another program; choose another port with --port`));
    assertNoStack(result.stderr);
  } finally {
    await busy.close();
  }
  // The examples an app's port is copied from: none on 8080, certgate serve's own plain-HTTP port.
  for (const command of [['echo-app'], ['containerapp', 'create'], ['containerapp', 'ingress', 'enable']]) {
    const help = await certgate([...command, '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.doesNotMatch(help.stdout, /8080/, command.join(' '));
  }
});

test('serve on a busy HTTPS port names --https-port and CERTGATE_HTTPS_PORT, and leaves no data dir', async () => {
  const busy = await busyPort();
  const dataDir = join(tempDir(), 'data');
  try {
    const result = await certgate(['serve', '--data-dir', dataDir, ...FREE, '--https-port', String(busy.port)]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^ERROR: the HTTPS ingress port 127\\.0\\.0\\.1:${busy.port} is in use .*; choose another with --https-port <port> or CERTGATE_HTTPS_PORT=<port>`));
    assertNoStack(result.stderr);
    assert.equal(existsSync(dataDir), false, 'a failed first start creates no data dir (no CA, no credentials)');
  } finally {
    await busy.close();
  }
});

test('serve on a busy management port set by its variable names --management-port too; no data dir', async () => {
  const busy = await busyPort();
  const dataDir = join(tempDir(), 'data');
  try {
    const result = await certgate(['serve', '--data-dir', dataDir, '--https-port', '0', '--http-port', '0', '--workers', '1'], { env: { CERTGATE_MANAGEMENT_PORT: String(busy.port) } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERROR: the management API port .* --management-port <port> or CERTGATE_MANAGEMENT_PORT=<port>/);
    assert.equal(existsSync(dataDir), false);
  } finally {
    await busy.close();
  }
});

test('two gateways on one data dir: the second is refused, naming the PID of the first; the PID file goes with the first', async () => {
  const dataDir = join(tempDir(), 'data');
  const first = spawn(NODE, [MAIN, 'serve', '--data-dir', dataDir, ...FREE], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(first);
  await serveBanner(first);
  const holder = JSON.parse(readFileSync(join(dataDir, PID_FILE), 'utf8')) as { pid: number };
  assert.equal(holder.pid, first.pid);

  const second = await certgate(['serve', '--data-dir', dataDir, ...FREE]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`^ERROR: the data dir ${dataDir} is in use by another certgate gateway \\(PID ${first.pid}, since `));
  assertNoStack(second.stderr);

  first.kill('SIGTERM');
  await new Promise((resolve) => first.once('exit', resolve));
  assert.equal(existsSync(join(dataDir, PID_FILE)), false, 'a clean stop removes the PID file');
});

test('a gateway killed with SIGKILL leaves nothing that stops the next start (the kernel dropped its lock), whatever its PID file says', async () => {
  const dataDir = join(tempDir(), 'data');
  const killed = spawn(NODE, [MAIN, 'serve', '--data-dir', dataDir, ...FREE], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(killed);
  await serveBanner(killed);
  killed.kill('SIGKILL');
  await new Promise((resolve) => killed.once('exit', resolve));
  // Its PID file is left behind, and even names a live process (this one): no matter.
  writeFileSync(join(dataDir, PID_FILE), JSON.stringify({ pid: process.pid, started: '2020-01-01T00:00:00Z' }));
  const next = spawn(NODE, [MAIN, 'serve', '--data-dir', dataDir, ...FREE], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(next);
  await serveBanner(next);
  assert.equal((JSON.parse(readFileSync(join(dataDir, PID_FILE), 'utf8')) as { pid: number }).pid, next.pid);
  next.kill('SIGTERM');
  await new Promise((resolve) => next.once('exit', resolve));
});

const unprivilegedPortStart = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
const canDropPrivileges = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv') && unprivilegedPortStart > 443;

test('serve on port 443 without the capability says what grants it, and leaves no data dir', { skip: canDropPrivileges ? false : 'needs root, setpriv, and 443 privileged' }, async () => {
  const dir = tempDir();
  chmodSync(dir, 0o777);
  const dataDir = join(dir, 'data');
  // As nobody: what an unprivileged user (or a unit without AmbientCapabilities) gets.
  const result = await exec('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', NODE, MAIN, 'serve', '--data-dir', dataDir, ...FREE, '--https-port', '443'], { env: { HOME: dir } });
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /^ERROR: no permission to listen on 127\.0\.0\.1:443 \(HTTPS ingress\): ports below 1024 need CAP_NET_BIND_SERVICE .*--https-port <port> or CERTGATE_HTTPS_PORT=<port>/);
  assertNoStack(result.stderr);
  assert.equal(existsSync(dataDir), false);
});
