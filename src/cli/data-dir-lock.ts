// One gateway per SQLite data dir: a second one would run its own ingress and its own view of the
// store beside the first (two CAs being written, writes one of them never compiles).
// The lock is an operating-system lock (SQLite's own POSIX lock on `gateway.lock`, held in an
// exclusive transaction for the life of the process): the kernel releases it when the process
// ends in any way (a crash, kill -9, a reboot), so no lock is ever stale and no PID has to be
// guessed alive or dead. `gateway.pid` beside it names the holder, for the message.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { CliError } from './errors.ts';

export const LOCK_FILE = 'gateway.lock';
export const PID_FILE = 'gateway.pid';

interface Holder {
  pid: number;
  started: string;
}

function readHolder(path: string): Holder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, started: String(parsed.started ?? '') } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the data dir's lock (creating the data dir, mode 0700) or throws a CliError naming the
 * PID that holds it. Returns the release function, also run at process exit.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lockPath = join(dataDir, LOCK_FILE);
  const pidPath = join(dataDir, PID_FILE);
  let db: DatabaseSync;
  try {
    // timeout 0: a held lock is an answer at once, not a wait.
    db = new DatabaseSync(lockPath, { timeout: 0 });
    db.exec('PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;');
  } catch (error) {
    if ((error as { errcode?: number }).errcode === 5 /* SQLITE_BUSY */) {
      const holder = readHolder(pidPath);
      const who = holder ? `PID ${holder.pid}, since ${holder.started}` : 'its PID not written yet';
      throw new CliError(`the data dir ${dataDir} is in use by another certgate gateway (${who}); stop it first, or give this one its own --data-dir`);
    }
    throw new CliError(`cannot take the data dir's lock ${lockPath}: ${(error as Error).message}`, { cause: error });
  }
  writeFileSync(pidPath, `${JSON.stringify({ pid: process.pid, started: new Date().toISOString() })}\n`, { mode: 0o600 });
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    // Ours while the lock is held: no other gateway can have written it since.
    rmSync(pidPath, { force: true });
    db.close();
  };
  process.on('exit', release);
  return release;
}
