// OpenSSL settings Node's TLS API does not reach (the number of TLS 1.3 session tickets) come from
// an OpenSSL configuration file, which OpenSSL reads only when a process starts. `certgate serve`
// therefore replaces itself, once and before doing anything, with the same command run with
// `--openssl-config` (same pid, same stdio, so supervisors and signals are unaffected). Cluster
// workers inherit the flag. An operator's own OpenSSL configuration (OPENSSL_CONF, or an
// --openssl-config / --openssl-shared-config flag) is respected and left alone.
import { fileURLToPath } from 'node:url';

export const OPENSSL_CONFIG_PATH = fileURLToPath(new URL('./openssl.cnf', import.meta.url));
const FLAG = `--openssl-config=${OPENSSL_CONFIG_PATH}`;
/** Set across the re-exec only, so that a failure to take the flag can never loop. */
const REEXEC_MARKER = 'CERTGATE_OPENSSL_REEXEC';

export type OpenSslConfigState = 'certgate' | 'operator' | 'unavailable';

function operatorConfigured(execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const flags = [...execArgv, ...(env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  return env['OPENSSL_CONF'] !== undefined || flags.some((flag) => flag.startsWith('--openssl-config') || flag === '--openssl-shared-config');
}

/**
 * Returns which OpenSSL configuration this process runs with; when certgate's is not loaded yet and
 * can be, the process is replaced (process.execve) and this call does not return.
 */
export function ensureOpenSslConfig(): OpenSslConfigState {
  const reexeced = process.env[REEXEC_MARKER] !== undefined;
  delete process.env[REEXEC_MARKER];
  if (process.execArgv.includes(FLAG)) return 'certgate';
  if (operatorConfigured(process.execArgv, process.env)) return 'operator';
  if (reexeced || typeof process.execve !== 'function') return 'unavailable';
  try {
    process.execve(process.execPath, [process.execPath, FLAG, ...process.execArgv, ...process.argv.slice(1)], {
      ...process.env,
      [REEXEC_MARKER]: '1',
    });
  } catch {
    // Not permitted here (a permission model, a seccomp profile): run with OpenSSL's defaults.
  }
  return 'unavailable';
}
