// The README's quick start, run as written: `npm start`, then the documented block in a shell,
// from a fresh folder where `npx certgate` resolves to this checkout. Only the ports change (to
// free ones), so the test can run beside others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

function quickStartBlock(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const marker = readme.indexOf('<!-- quick-start:');
  assert.ok(marker >= 0, 'README.md marks its quick-start block');
  const match = /```bash\n([\s\S]*?)```/.exec(readme.slice(marker));
  assert.ok(match, 'a bash block follows the marker');
  return match[1]!;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('the README quick start works as written', { timeout: 120_000 }, async () => {
  const folder = mkdtempSync(join(tmpdir(), 'certgate-quickstart-'));
  // A project folder whose node_modules/.bin has certgate (and the pinned node), as after installing it.
  mkdirSync(join(folder, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(join(ROOT, 'bin', 'certgate.js'), join(folder, 'node_modules', '.bin', 'certgate'));
  symlinkSync(join(ROOT, 'node_modules', 'node', 'bin', 'node'), join(folder, 'node_modules', '.bin', 'node'));
  writeFileSync(join(folder, 'package.json'), '{"name":"quickstart","private":true}\n');
  const [https, http, management, app] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const script = quickStartBlock().replaceAll(':8443', `:${https}`).replaceAll('--port 3000', `--port ${app}`).replaceAll('--target-port 3000', `--target-port ${app}`);
  const env = {
    ...process.env,
    CERTGATE_CONFIG_DIR: join(folder, '.config'),
    CERTGATE_DATA_DIR: join(folder, '.certgate'),
    CERTGATE_HTTPS_PORT: String(https),
    CERTGATE_HTTP_PORT: String(http),
    CERTGATE_MANAGEMENT_PORT: String(management),
    // The internal listener's default ports (8444, 8081) may be taken on a shared machine.
    CERTGATE_INTERNAL_HTTPS_PORT: '0',
    CERTGATE_INTERNAL_HTTP_PORT: '0',
    // The admin listener's default port (9464) too: other gateways of the suite run at the same time.
    CERTGATE_ADMIN_PORT: '0',
  };
  const gateway = spawn('npm', ['start', '--prefix', ROOT], { env, cwd: folder, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let banner = '';
  let shell: ReturnType<typeof spawn> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      gateway.stderr!.on('data', (chunk: Buffer) => {
        banner += chunk.toString();
        if (banner.includes('CA certificate:')) resolve();
      });
      gateway.once('exit', (code) => reject(new Error(`npm start exited ${code}: ${banner}`)));
    });
    assert.match(banner, /admin-credentials\.json/, 'the first start tells where the credentials are');
    shell = spawn('bash', ['-euo', 'pipefail', '-c', script], { env, cwd: folder, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    shell.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    shell.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => shell!.once('exit', resolve));
    assert.equal(code, 0, `the quick start failed:\n${stderr}`);
    assert.match(stdout, /"x-forwarded-client-cert": "Hash=[0-9a-f]{64};Cert=/, 'the app saw the client certificate');
    assert.match(stdout, /"subject": "CN=device-42"/, 'the echo app decoded it');
    assert.match(stdout, /refused, as it should be/);
    assert.match(stderr, /alert certificate required/, 'without a certificate the handshake fails');
    assert.match(stderr, /management\.azure\.com is Azure's; sending the request to https:\/\/127\.0\.0\.1:\d+ instead/);
    // Every file the quick start wrote is one the repository's .gitignore keeps out of `git status`.
    const written = readdirSync(folder, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
      .filter((path) => !/^(node_modules|\.config)\//.test(path) && path !== 'package.json');
    assert.ok(written.some((path) => path.endsWith('.key')), `the quick start wrote keys: ${written.join(', ')}`);
    const ignored = spawnSync('git', ['-C', ROOT, 'check-ignore', '--no-index', '--verbose', '--non-matching', ...written], { encoding: 'utf8' });
    const notIgnored = ignored.stdout.split('\n').filter((line) => line.startsWith('::'));
    assert.deepEqual(notIgnored, [], 'files the quick start writes would show in git status');
  } finally {
    for (const child of [shell, gateway]) {
      if (child?.pid) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    rmSync(folder, { recursive: true, force: true });
  }
});
