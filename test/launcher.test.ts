// `npx certgate` must work whatever Node is on PATH: bin/certgate.js re-runs the command with the
// Node 24 that package.json pins when it is started by an older one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { exec, ROOT } from './support/cli.ts';

const SYSTEM_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => existsSync(path));
const systemMajor = SYSTEM_NODE ? Number(execFileSync(SYSTEM_NODE, ['-p', 'process.versions.node.split(".")[0]']).toString()) : undefined;

test('an older system Node runs the CLI through the pinned Node 24', { skip: systemMajor === undefined || systemMajor >= 24 ? 'no Node older than 24 on this machine' : false }, async () => {
  const result = await exec(SYSTEM_NODE!, [join(ROOT, 'bin', 'certgate.js'), 'cert', 'create-ca', '--help']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Usage: certgate cert create-ca/);
  const version = await exec(SYSTEM_NODE!, [join(ROOT, 'bin', 'certgate.js'), 'nosuch']);
  assert.equal(version.code, 2, 'exit codes pass through the launcher');
});

test('the pinned Node runs it directly', async () => {
  const result = await exec(join(ROOT, 'node_modules', '.bin', 'node'), [join(ROOT, 'bin', 'certgate.js'), '--help']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /containerapp/);
});
