// Runs the coverage-guided fuzz targets with Jazzer.js (libFuzzer under Node), for CI (a short run
// into a scratch corpus, test/app-library-fuzz.test.ts) and by hand (a long run that grows the
// committed corpus): node fuzz/run.mjs [--seconds=600] [target ...]
//
// Jazzer instruments ES modules in a loader hook that only sees JavaScript, so the run preloads
// register-ts.mjs (TypeScript stripped before Jazzer's hook) and, on glibc < 2.38,
// jazzer-glibc-compat.mjs (see there). Only src/xfcc, src/app-auth and src/ingress are
// instrumented.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FUZZ_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(FUZZ_DIR);
const JAZZER_CLI = join(ROOT, 'node_modules', '@jazzer.js', 'core', 'dist', 'cli.js');

export const TARGETS = ['xfcc-parse', 'read-client-certificate', 'verify', 'clienthello', 'http1-response'];

/** libFuzzer's -dict for each target: tokens of the format it reads. */
const DICTIONARIES = { clienthello: 'clienthello.dict', 'http1-response': 'http1.dict' };

/**
 * @typedef {{ execs: number, initialCoverage: number, coverage: number, features: number, corpus: number }} FuzzStats
 * @param {{ target: string, seconds: number, corpusDir: string, seedDirs?: string[], artifactPrefix: string }} options
 * @returns {Promise<{ code: number | null, output: string, stats: FuzzStats | undefined }>}
 */
export function runFuzzer(options) {
  const { target, seconds, corpusDir, seedDirs = [], artifactPrefix } = options;
  mkdirSync(corpusDir, { recursive: true });
  mkdirSync(dirname(artifactPrefix), { recursive: true });
  const args = [
    '--import', join(FUZZ_DIR, 'jazzer-glibc-compat.mjs'),
    '--import', join(FUZZ_DIR, 'register-ts.mjs'),
    '--disable-warning=ExperimentalWarning',
    JAZZER_CLI,
    join(FUZZ_DIR, `${target}.fuzz.mjs`),
    corpusDir,
    ...seedDirs,
    '--sync',
    '-i', join(ROOT, 'src', 'xfcc') + '/',
    '-i', join(ROOT, 'src', 'app-auth') + '/',
    '-i', join(ROOT, 'src', 'ingress') + '/',
    '-e', 'node_modules',
    '-e', '.test.ts',
    '-e', join('app-auth', 'testing.ts'),
    '--',
    `-max_total_time=${seconds}`,
    `-dict=${join(FUZZ_DIR, DICTIONARIES[target] ?? 'xfcc.dict')}`,
    `-artifact_prefix=${artifactPrefix}`,
    '-max_len=8192',
    '-print_final_stats=1',
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    // libFuzzer stops itself at max_total_time; this only guards against a wedged process.
    const guard = setTimeout(() => child.kill('SIGKILL'), (seconds + 120) * 1000);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, output, stats: statsOf(output) });
    });
  });
}

/** @param {string} output */
function statsOf(output) {
  const lines = output.split('\n').filter((line) => /^#\d+\s+\w+\s+cov: \d+/.test(line));
  const initial = lines.find((line) => line.includes('INITED'));
  const last = lines.at(-1);
  if (last === undefined) return undefined;
  // "Done N runs" when it made it out; else the count on the last status line.
  const done = /Done (\d+) runs/.exec(output) ?? /^#(\d+)/.exec(last);
  const number = (line, key) => Number(new RegExp(`${key}: (\\d+)`).exec(line ?? '')?.[1] ?? NaN);
  return {
    execs: Number(done[1]),
    initialCoverage: number(initial, 'cov'),
    coverage: number(last, 'cov'),
    features: number(last, 'ft'),
    corpus: Number(/corp: (\d+)/.exec(last)?.[1] ?? NaN),
  };
}

async function main() {
  const secondsArgument = process.argv.find((argument) => argument.startsWith('--seconds='));
  const seconds = secondsArgument ? Number(secondsArgument.slice('--seconds='.length)) : 600;
  const targets = process.argv.slice(2).filter((argument) => !argument.startsWith('--'));
  let failed = false;
  for (const target of targets.length > 0 ? targets : TARGETS) {
    if (!TARGETS.includes(target)) throw new Error(`unknown target ${target}; targets: ${TARGETS.join(', ')}`);
    const corpusDir = join(FUZZ_DIR, 'corpus', target);
    const before = readdirSync(corpusDir).length;
    console.log(`fuzzing ${target} for ${seconds} s`);
    // libFuzzer adds to the corpus only inputs that reach new coverage (and replaces inputs with
    // smaller ones that reach the same), so the committed corpus grows by what is worth keeping.
    const result = await runFuzzer({ target, seconds, corpusDir, artifactPrefix: join(FUZZ_DIR, 'findings', `${target}-`) });
    const stats = result.stats;
    console.log(stats ? `  ${stats.execs} execs, cov ${stats.initialCoverage} → ${stats.coverage}, ft ${stats.features}` : result.output.slice(-4000));
    console.log(`  fuzz/corpus/${target}: ${before} → ${readdirSync(corpusDir).length} inputs`);
    if (result.code !== 0) {
      failed = true;
      console.log(result.output.slice(-4000));
      console.log(`  ${target}: FINDING (exit ${result.code}); the input is in fuzz/findings/`);
    }
  }
  process.exitCode = failed ? 1 : 0;
}

if (import.meta.main) await main();
