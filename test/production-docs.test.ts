// docs/production.md's blocks marked `production-test`, run as written in bash against a real
// gateway: a real domain named with curl --resolve, an online backup (VACUUM INTO, the files,
// integrity_check) while certgate runs, and a restore that brings back an app deleted after the
// backup. Only paths (into a temporary folder) and port 443 (to a free one) change; `systemctl`
// is a shell function that stops and starts this test's gateway.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certgate, cleanEnv, MAIN, NODE, ROOT, serveBanner } from './support/cli.ts';
import { serveOnFreePorts } from './support/ports.ts';
import { PID_FILE } from '../src/cli/data-dir-lock.ts';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'certgate-production-')));
const dataDir = join(root, 'var', 'lib', 'certgate');
const children: ChildProcess[] = [];

after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  // The gateway the restore block started (a child of its shell) holds the lock.
  try {
    const { pid } = JSON.parse(readFileSync(join(dataDir, PID_FILE), 'utf8')) as { pid: number };
    process.kill(pid, 'SIGKILL');
  } catch {
    // not running
  }
  rmSync(root, { recursive: true, force: true });
});

function productionBlocks(): string[] {
  const text = readFileSync(join(ROOT, 'docs', 'production.md'), 'utf8');
  return [...text.matchAll(/<!-- production-test -->\n```bash\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

test('docs/production.md: a real domain with --resolve, an online backup, and a restore', { timeout: 180_000 }, async () => {
  const blocks = productionBlocks();
  assert.equal(blocks.length, 3, 'the curl, backup and restore blocks');
  const { env, https, app } = await serveOnFreePorts({ CERTGATE_DATA_DIR: dataDir, CERTGATE_DOMAIN: 'apps.example.com', CERTGATE_CONFIG_DIR: join(root, 'config') });
  mkdirSync(join(root, 'var', 'lib'), { recursive: true });
  const serve = spawn(NODE, [MAIN, 'serve'], { env: cleanEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(serve);
  const serveExit = new Promise<number | null>((resolve) => serve.once('exit', (code) => resolve(code)));
  await serveBanner(serve);
  const echo = spawn(NODE, [MAIN, 'echo-app', '--port', String(app)], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(echo);
  await new Promise<void>((resolve) => echo.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve()));
  const cli = async (...args: string[]) => {
    const result = await certgate(args, { env });
    assert.equal(result.code, 0, `certgate ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  await cli('login', '--data-dir', dataDir);
  await cli('group', 'create', '--name', 'demo', '--location', 'local');
  await cli('containerapp', 'env', 'create', '--name', 'env1', '--resource-group', 'demo');
  await cli('containerapp', 'create', '--name', 'hello', '--resource-group', 'demo', '--environment', 'env1', '--ingress', 'external', '--target-port', String(app));

  const prelude = `
systemctl() {
  case "$1 $2" in
    "stop certgate")
      pid=$(sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p' '${dataDir}/${PID_FILE}')
      kill -TERM "$pid"
      while [ -e '${dataDir}/${PID_FILE}' ]; do sleep 0.2; done ;;
    "start certgate")
      : > '${root}/serve.log'
      '${NODE}' '${MAIN}' serve > /dev/null 2> '${root}/serve.log' &
      until grep -q 'CA certificate:' '${root}/serve.log'; do sleep 0.2; done ;;
    *) echo "systemctl $*: not here" >&2; return 1 ;;
  esac
}
`;
  const runBlock = (block: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const script = prelude + block.replaceAll('/var/lib/certgate', dataDir).replaceAll('/var/backups/certgate', join(root, 'backups')).replaceAll(':443', `:${https}`);
      const shell = spawn('bash', ['-euo', 'pipefail', '-c', script], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      shell.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      shell.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      shell.once('exit', (code) => resolve({ code, stdout, stderr }));
    });

  // A real domain, no DNS: curl names the address, and checks the certificate against the name.
  const reached = await runBlock(blocks[0]!);
  assert.equal(reached.code, 0, reached.stderr);
  assert.match(reached.stdout, /"host": "hello\.env1\.apps\.example\.com:\d+"/);

  // The backup, while certgate runs.
  const backup = await runBlock(blocks[1]!);
  assert.equal(backup.code, 0, backup.stderr);
  assert.equal(backup.stdout.trim(), 'ok', 'integrity_check of the copy');
  assert.equal(serve.exitCode, null, 'certgate kept running');

  // A change after the backup, which the restore undoes.
  await cli('containerapp', 'delete', '--name', 'hello', '--resource-group', 'demo', '--yes');
  assert.notEqual((await certgate(['containerapp', 'show', '--name', 'hello', '--resource-group', 'demo'], { env })).code, 0);

  const restored = await runBlock(blocks[2]!);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(await serveExit, 0, 'systemctl stop drained and stopped the gateway');
  assert.ok(existsSync(join(dataDir, PID_FILE)), 'the restarted gateway holds the data dir');
  assert.match(await cli('containerapp', 'show', '--name', 'hello', '--resource-group', 'demo', '--query', 'name', '--output', 'tsv'), /^hello$/m);
  const again = await runBlock(blocks[0]!);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /"host": "hello\.env1\.apps\.example\.com:\d+"/, 'the restored app is served');
});
