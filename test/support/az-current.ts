// A current Azure CLI (Debian trixie's azure-cli 2.74) run from the debootstrap chroot that
// test/support/az-chroot.sh builds (once, cached under .cache/az-trixie; .ci/run builds it before
// `npm test`, and a test that finds it missing builds it here, which takes a few minutes).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const SCRIPT = join(import.meta.dirname, 'az-chroot.sh');

export interface AzResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The chroot's folder; builds it when missing (at most 20 minutes). */
export function ensureAzChroot(): string {
  const root = execFileSync('bash', [SCRIPT, 'path'], { encoding: 'utf8' }).trim();
  if (!existsSync(join(root, '.certgate-az-complete'))) {
    execFileSync('bash', [SCRIPT, 'build'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 20 * 60_000 });
  }
  return root;
}

/**
 * `az ARGS` inside the chroot. `dir` is bind-mounted at /work: it must hold `ca.pem` (certgate's CA,
 * as REQUESTS_CA_BUNDLE) and gets az's configuration in `dir/azure`. Files az reads (--template-file)
 * are given as /work/<name>. At most 120 s per command.
 */
export function azCurrent(dir: string, ...args: string[]): Promise<AzResult> {
  return new Promise((resolve) => {
    execFile('bash', [SCRIPT, 'run', dir, ...args], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** docs/azure-clients.md's set-up: cloud register with only the resource manager, cloud set, login as the service principal. */
export async function loginCurrentAz(dir: string, credentials: { endpoint: string; clientId: string; clientSecret: string; tenantId: string }): Promise<string> {
  const steps = [
    ['cloud', 'register', '-n', 'certgate', '--endpoint-resource-manager', `${credentials.endpoint}/`],
    ['cloud', 'set', '-n', 'certgate'],
    ['login', '--service-principal', '-u', credentials.clientId, '-p', credentials.clientSecret, '--tenant', credentials.tenantId, '-o', 'json'],
  ];
  let out = '';
  for (const step of steps) {
    const result = await azCurrent(dir, ...step);
    if (result.code !== 0) throw new Error(`az ${step.slice(0, 2).join(' ')} failed (exit ${result.code}):\n${result.stderr}${result.stdout}`);
    out = result.stdout;
  }
  return out;
}
