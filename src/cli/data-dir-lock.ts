// One gateway per SQLite data dir: a second one would run its own ingress and its own view of the
// store beside the first (two CAs being written, writes one of them never compiles). The lock file
// holds the PID of the gateway that has the data dir; a lock whose process is gone (a crash, a
// kill -9, a reboot) is stale and taken over.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CliError } from './errors.ts';

export const LOCK_FILE = 'gateway.lock';

interface LockContent {
  pid: number;
  hostname: string;
  started: string;
}

/** What holds a lock: 'alive' (refuse), 'stale' (take over) or 'unknown' (another machine: refuse, it cannot be checked from here). */
export type LockHolder = 'alive' | 'stale' | 'unknown';

/** Whether the process of a lock still runs: signal 0 checks without sending anything; a reused PID that is no certgate is stale. */
export function lockHolder(content: LockContent, here = hostname()): LockHolder {
  if (content.hostname !== here) return 'unknown';
  if (content.pid === process.pid) return 'stale';
  try {
    process.kill(content.pid, 0);
  } catch (error) {
    // EPERM: the process runs as another user: alive.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return 'stale';
  }
  try {
    // After a reboot the PID may belong to something else; certgate runs src/main.ts.
    const commandLine = readFileSync(`/proc/${content.pid}/cmdline`, 'utf8');
    if (!commandLine.includes('main.ts') && !commandLine.includes('certgate')) return 'stale';
  } catch {
    // No /proc, or not readable: trust the PID.
  }
  return 'alive';
}

function readLock(path: string): LockContent | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockContent>;
    if (typeof parsed.pid === 'number' && typeof parsed.hostname === 'string') return { pid: parsed.pid, hostname: parsed.hostname, started: String(parsed.started ?? '') };
  } catch {
    // Unreadable or half-written: treated as stale below.
  }
  return undefined;
}

/**
 * Takes the data dir's lock (creating the data dir, mode 0700) or throws a CliError naming the
 * PID that holds it. Returns the release function, also run at process exit.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, LOCK_FILE);
  const content: LockContent = { pid: process.pid, hostname: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      // 'wx': created only if absent, so two gateways starting together cannot both win.
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw lockError(path, error);
      const held = readLock(path);
      const holder = held ? lockHolder(held) : 'stale';
      if (holder === 'alive') {
        throw new CliError(`the data dir ${dataDir} is in use by another certgate gateway (PID ${held!.pid}, since ${held!.started}); stop it first, or give this one its own --data-dir`);
      }
      if (holder === 'unknown') {
        throw new CliError(`the data dir ${dataDir} is locked by a certgate gateway on host ${held!.hostname} (PID ${held!.pid}); if that gateway is gone, delete ${path}`);
      }
      unlinkSync(path);
      continue;
    }
    writeSync(fd, `${JSON.stringify(content)}\n`);
    closeSync(fd);
    break;
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    // Only our own lock: never one a later gateway took over.
    if (readLock(path)?.pid === process.pid) unlinkSync(path);
  };
  process.on('exit', release);
  return release;
}

function lockError(path: string, error: unknown): CliError {
  return new CliError(`cannot take the data dir's lock ${path}: ${(error as Error).message}`, { cause: error });
}
