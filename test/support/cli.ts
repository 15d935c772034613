// Runs the real certgate CLI (and other commands) as child processes for tests.
import { execFile, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const MAIN = join(ROOT, 'src', 'main.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without variables that change how the CLI or Node runs, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('CERTGATE_') || name.startsWith('NODE_TEST') || name === 'NODE_OPTIONS' || name === 'NO_COLOR') continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

export function exec(command: string, args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((done) => {
    execFile(command, args, { cwd: options.cwd, env: cleanEnv(options.env), timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** `certgate <args>` with the pinned Node. */
export function certgate(args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return exec(NODE, [MAIN, ...args], options);
}

/** `certgate serve`'s startup banner on stderr (its CA line is the last); rejects if serve exits first. */
export function serveBanner(serve: ChildProcess): Promise<string> {
  let banner = '';
  return new Promise((resolve, reject) => {
    serve.stderr!.on('data', (chunk: Buffer) => {
      banner += chunk.toString();
      if (banner.includes('CA certificate:')) resolve(banner);
    });
    serve.once('exit', (code) => reject(new Error(`serve exited ${code}: ${banner}`)));
  });
}

/**
 * `certgate` with its config in `configDir()` (read when called, so a test may set it in `before`),
 * and `ok`, which expects exit 0 and parses the JSON printed (undefined when nothing is).
 */
export function cliWithConfig(configDir: () => string): { certgate(...args: string[]): Promise<CliResult>; ok(...args: string[]): Promise<any> } {
  const run = (...args: string[]) => certgate(args, { env: { CERTGATE_CONFIG_DIR: configDir() } });
  return {
    certgate: run,
    async ok(...args) {
      const result = await run(...args);
      if (result.code !== 0) throw new Error(`certgate ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
      return result.stdout.trim() === '' ? undefined : JSON.parse(result.stdout);
    },
  };
}

/** Logs in to the gateway's data dir and makes group `demo`, environment `env1` and app `shop` (external, on `targetPort`). */
export async function createDemoApp(ok: (...args: string[]) => Promise<unknown>, dataDir: string, targetPort: number): Promise<void> {
  await ok('login', '--data-dir', dataDir);
  await ok('group', 'create', '--name', 'demo', '--location', 'local');
  await ok('containerapp', 'env', 'create', '-n', 'env1', '-g', 'demo');
  await ok('containerapp', 'create', '-n', 'shop', '-g', 'demo', '--environment', 'env1', '--ingress', 'external', '--target-port', String(targetPort));
}
