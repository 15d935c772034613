// What a command or a library entry point loads: `certgate login` must not pay for the server
// (Fastify, Ajv, the PKI libraries: most of a second), and apps import the app library without
// the gateway. A preload hook records every module the child process resolves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exec, MAIN, NODE, ROOT } from './support/cli.ts';

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
