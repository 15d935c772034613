// The package as an operator installs it (issue 18): `npm pack` here, `npm install` of the .tgz
// into a scratch folder (offline, from the npm cache: the lock of this repository gives every
// dependency's version and integrity), then the installed `certgate serve` started by the
// machine's own Node (which may be older than 24: the launcher runs the `node` dependency's 24),
// an app put behind it with the installed CLI, a request through it, and a clean stop.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curl, curlResult, run } from './support/clients.ts';
import { cleanEnv, ROOT, serveBanner } from './support/cli.ts';
import { serveOnFreePorts } from './support/ports.ts';
import { INSTALL_PREFIX, UNIT_PATH, unitDirectives } from './support/unit-file.ts';

// The Node an operator's shell would run `certgate` with: Debian's, else the pinned one.
const SYSTEM_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => existsSync(path)) ?? process.execPath;

let scratch: string;
let tarball: string;
const children: ChildProcess[] = [];

interface LockEntry {
  dev?: boolean;
  [key: string]: unknown;
}

/** A lock for a project whose one dependency is the tarball: certgate's runtime packages, as this repository's lock pins them. */
function scratchLock(tgz: string): unknown {
  const repo = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const root = repo.packages['']!;
  const packages: Record<string, unknown> = {
    '': { name: 'scratch', dependencies: { certgate: `file:${tgz}` } },
    'node_modules/certgate': { version: root['version'], resolved: `file:${tgz}`, dependencies: root['dependencies'], bin: root['bin'], engines: root['engines'], license: root['license'] },
  };
  for (const [path, entry] of Object.entries(repo.packages)) if (path !== '' && !entry.dev) packages[path] = entry;
  return { name: 'scratch', lockfileVersion: 3, requires: true, packages };
}

before(async () => {
  scratch = realpathSync(mkdtempSync(join(tmpdir(), 'certgate-package-')));
  const packed = await run('npm', ['pack', '--pack-destination', scratch, '--json', '--prefix', ROOT], undefined, 120_000);
  assert.equal(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
  tarball = join(scratch, info.filename);
  const files = info.files.map((file) => file.path);
  assert.ok(files.includes('dist/main.js') && files.includes('bin/certgate.js') && files.includes('packaging/certgate.service'), files.join(' '));
  assert.ok(files.includes('dist/ingress/listener/openssl.cnf'), 'the OpenSSL settings the listeners load');
  assert.deepEqual(files.filter((path) => /\.test\.(ts|js)$|^src\/|^test\/|^bench\//.test(path)), [], 'no sources, tests or bench');
  assert.equal(existsSync(join(ROOT, 'dist')), false, 'postpack leaves the checkout as it was');

  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, dependencies: { certgate: `file:${tarball}` }, allowScripts: { node: true } }));
  writeFileSync(join(scratch, 'package-lock.json'), JSON.stringify(scratchLock(tarball)));
  const installed = await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--prefix', scratch], undefined, 240_000);
  assert.equal(installed.code, 0, installed.stderr);
});

after(() => {
  // Each child leads its own process group (the launcher runs a Node 24 child): the whole group goes.
  for (const child of children) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function certgate(args: string[], env: Record<string, string>) {
  return run('env', [...Object.entries(env).map(([name, value]) => `${name}=${value}`), SYSTEM_NODE, join(scratch, 'node_modules', '.bin', 'certgate'), ...args], undefined, 60_000);
}

test('the installed package runs with the Node 24 it brings, whatever Node runs the launcher', { timeout: 60_000 }, async () => {
  const pinned = await run(join(scratch, 'node_modules', 'node', 'bin', 'node'), ['--version']);
  assert.match(pinned.stdout, /^v24\./);
  const version = await certgate(['--version'], {});
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^certgate \d+\.\d+\.\d+\nnode +24\./);
});

test('the installed certgate serve, started as the systemd unit starts it, serves an app put behind it with the installed CLI, and stops on SIGTERM', { timeout: 180_000 }, async () => {
  const { env, https, app } = await serveOnFreePorts({ CERTGATE_CONFIG_DIR: join(scratch, 'config'), CERTGATE_DATA_DIR: join(scratch, 'data') });
  // serve as the systemd unit starts it: its ExecStart and Environment, the prefix being the scratch
  // folder, the state dir and ports 443/80 those of this test (as /etc/certgate/certgate.env could set them).
  const unit = unitDirectives(readFileSync(UNIT_PATH, 'utf8'));
  const [command, ...args] = unit.get('ExecStart')![0]!.replaceAll(INSTALL_PREFIX, scratch).split(' ');
  assert.ok(existsSync(command!) && existsSync(args[0]!), `the unit's command is where npm install --prefix puts it: ${command} ${args[0]}`);
  const unitEnv = Object.fromEntries(unit.get('Environment')!.map((assignment) => assignment.split('=') as [string, string]));
  assert.deepEqual(Object.keys(unitEnv).sort(), ['CERTGATE_DATA_DIR', 'CERTGATE_HTTPS_PORT', 'CERTGATE_HTTP_PORT']);
  const serve = spawn(command!, args, { cwd: '/', env: cleanEnv({ ...unitEnv, ...env }), stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  children.push(serve);
  const banner = await serveBanner(serve);
  assert.match(banner, new RegExp(`HTTPS ingress: +https://127\\.0\\.0\\.1:${https}`));
  const echo = spawn(SYSTEM_NODE, [join(scratch, 'node_modules', '.bin', 'certgate'), 'echo-app', '--port', String(app)], { cwd: scratch, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  children.push(echo);
  await new Promise<void>((resolve) => echo.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve()));

  for (const args of [
    ['login', '--data-dir', join(scratch, 'data')],
    ['group', 'create', '--name', 'demo', '--location', 'local'],
    ['containerapp', 'env', 'create', '--name', 'env1', '--resource-group', 'demo'],
    ['containerapp', 'create', '--name', 'hello', '--resource-group', 'demo', '--environment', 'env1', '--ingress', 'external', '--target-port', String(app)],
  ]) {
    const result = await certgate(args, env);
    assert.equal(result.code, 0, `certgate ${args.join(' ')}: ${result.stderr}`);
  }
  const answer = curlResult(await curl({ host: 'hello.env1.certgate.localhost', port: https, caFile: join(scratch, 'data', 'ca', 'ca.pem') }));
  assert.equal(answer.status, 200, JSON.stringify(answer));
  assert.match(answer.body, /"host": "hello\.env1\.certgate\.localhost:\d+"/);
  // The web console's stylesheet is packed (dist/ holds only what tsc emits plus the copied assets).
  const css = await run('curl', ['-sS', '--cacert', join(scratch, 'data', 'ca', 'ca.pem'), '-w', '\n%{http_code}', `${/management API: +(https:\/\/\S+)/.exec(banner)![1]}/console/assets/console.css`]);
  assert.match(css.stdout, /certgate console[\s\S]*\n200$/, css.stderr);

  serve.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => serve.once('exit', (exitCode) => resolve(exitCode)));
  assert.equal(code, 0, 'a clean stop through the launcher');
  // The launcher passes SIGTERM on to its Node 24 child and exits with it.
  echo.kill('SIGTERM');
  assert.equal(await new Promise<number | null>((resolve) => echo.once('exit', (exitCode) => resolve(exitCode))), 0);
});
