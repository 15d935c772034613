#!/usr/bin/env node
// Launcher for `npx certgate` and an installed package: certgate needs Node.js 24 (node:sqlite,
// and type stripping in a checkout). When the `node` that runs this file is older, run the command
// with the Node 24 of the `node` package (a dependency), passing signals on so `certgate serve`
// still drains on SIGTERM.
// In a checkout it runs src/main.ts; an installed package has no src/ but dist/, compiled at
// `npm pack` (Node strips types only outside node_modules).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const main = existsSync(source) ? source : fileURLToPath(new URL('../dist/main.js', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  await import(main);
} else {
  const child = spawn(pinnedNode(), [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', (error) => {
    console.error(`ERROR: certgate needs Node.js 24; run "npm install" first (${error.message})`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}

/** The `node` package's binary, wherever npm put it (this package's node_modules, or hoisted beside it). */
function pinnedNode() {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node');
  } catch {
    return fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  }
}
