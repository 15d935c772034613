// What a command or a library entry point loads: `certgate login` must not pay for the server
// (Fastify, Ajv, the PKI libraries: most of a second), and apps import the app library without
// the gateway. A preload hook records every module the child process resolves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'undici';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exec, MAIN, NODE, ROOT, serveBanner } from './support/cli.ts';

const HOOK = join(ROOT, 'test', 'support', 'loaded-modules.ts');

async function loadedBy(args: readonly string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-loads-'));
  try {
    const file = join(dir, 'modules.txt');
    const result = await exec(NODE, ['--import', pathToFileURL(HOOK).href, ...args], { env: { LOADED_MODULES_FILE: file, HOME: dir } });
    assert.ok(result.code === 0 || result.code === 1, `exit ${result.code}: ${result.stderr}`);
    return readFileSync(file, 'utf8').split('\n').filter((url) => url !== '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The packages and certgate folders that only the server needs. */
const SERVER_MODULES = /\/node_modules\/(fastify|@fastify\/|ajv|pino|pkijs|asn1js|@peculiar\/|jose)|\/src\/(control\/(?!admin-credentials\.ts)|ingress\/|gateway\/|store\/|pki\/(?!codes\.ts))/;

for (const args of [['login', '--help'], ['login', '--data-dir', '/nonexistent-certgate-data']]) {
  test(`certgate ${args.join(' ')} loads no server modules`, async () => {
    const loaded = await loadedBy([MAIN, ...args]);
    assert.ok(loaded.some((url) => url.endsWith('/src/cli/login.ts')), 'the hook saw the login module');
    assert.deepEqual(loaded.filter((url) => SERVER_MODULES.test(url)), []);
  });
}

test('importing the app library loads no server modules (fastify, pino, undici, the gateway)', async () => {
  const entry = pathToFileURL(join(ROOT, 'src', 'app-auth', 'index.ts')).href;
  const loaded = await loadedBy(['--input-type=module', '-e', `await import(${JSON.stringify(entry)})`]);
  assert.ok(loaded.includes(entry));
  const server = /\/node_modules\/(fastify|@fastify\/|pino|undici|ajv|jose|@peculiar\/|reflect-metadata)\/|\/src\/(control|ingress|gateway|store|cli)\//;
  assert.deepEqual(loaded.filter((url) => server.test(url)), []);
});

test('the web console lives with the management API: an ingress worker never loads it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-loads-'));
  try {
    const serve = spawn(
      NODE,
      ['--import', pathToFileURL(HOOK).href, MAIN, 'serve', '--data-dir', dir, '--https-port', '0', '--http-port', '0', '--management-port', '0', '--workers', '2', '--log-level', 'warn'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOADED_MODULES_FILE: join(dir, 'modules-%p.txt'), HOME: dir } },
    );
    const banner = await serveBanner(serve);
    const endpoint = /management API: +(https:\/\/\S+)/.exec(banner)![1]!;
    // The primary serves the console (so it has loaded it)...
    const dispatcher = new Agent({ connect: { ca: readFileSync(join(dir, 'ca', 'ca.pem'), 'utf8') } });
    const page = await request(`${endpoint}/console/sign-in`, { dispatcher });
    assert.equal(page.statusCode, 200);
    assert.match(await page.body.text(), /Client secret/);
    await dispatcher.close();
    serve.kill('SIGTERM');
    await once(serve, 'exit');
    // A worker writes its list while it runs and when it exits, which may be just after the primary.
    const listed = () => readdirSync(dir).filter((name) => /^modules-\d+\.txt$/.test(name));
    for (let waited = 0; listed().length < 3 && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    const files = listed();
    const modules = (name: string) => readFileSync(join(dir, name), 'utf8').split('\n');
    const primary = modules(`modules-${serve.pid}.txt`);
    const workers = files.filter((name) => name !== `modules-${serve.pid}.txt`).map(modules);
    const consoleModules = /\/src\/control\/console\/|\/node_modules\/(hono|@fastify\/multipart)\//;
    assert.ok(primary.some((url) => url.endsWith('/src/control/console/console.ts')), 'the primary loaded the console');
    assert.equal(workers.length, 2, `both workers wrote their modules (${files.join(', ')})`);
    for (const loaded of workers) {
      assert.ok(loaded.some((url) => url.endsWith('/src/ingress/ingress.ts')), 'the hook saw the worker serve the ingress');
      assert.deepEqual(loaded.filter((url) => consoleModules.test(url) || url.includes('/src/control/')), []);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
