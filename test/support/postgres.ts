// A real PostgreSQL server for the tests, started by the test itself: initdb into a temporary
// folder, `postgres` on a free loopback port with its socket in that folder, stopped (and the folder
// removed) at the end. The binaries come from Debian's `postgresql` package (.ci/run installs it).
// PostgreSQL refuses to run as root: as root, the folder is given to the `postgres` user and the
// server runs as it (setpriv execs in place, so the child's pid is the server's own).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { randomBytes } from 'node:crypto';
import { parseStoreKeys, type StoreKey } from '../../src/store/secret-box.ts';
import { freePorts } from './ports.ts';

export interface PostgresServer {
  readonly port: number;
  /** The connection URL of a database on this server (default: postgres). */
  url(database?: string): string;
  /** A new empty database; returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown), keeping its data. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

/** Where the server binaries are: CERTGATE_PG_BIN, else the newest /usr/lib/postgresql/<n>/bin. */
export function postgresBinDir(): string | undefined {
  if (process.env['CERTGATE_PG_BIN']) return process.env['CERTGATE_PG_BIN'];
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((name) => existsSync(join(root, name, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/** As root: run as the postgres user. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', command, ...args]];
}

function owner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('running as root needs a postgres user to run PostgreSQL as');
  return { uid, gid };
}

let databases = 0;

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found (apt-get install postgresql, or set CERTGATE_PG_BIN)');
  const dir = await mkdtemp(join(tmpdir(), 'certgate-pg-'));
  const ids = owner();
  if (ids) await chown(dir, ids.uid, ids.gid);
  const data = join(dir, 'data');
  const [initdb, initArgs] = asServerUser(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'certgate', '-E', 'UTF8', '--no-sync']);
  const init = spawnSync(initdb, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  const [port] = (await freePorts(1)) as [number];
  let child: ChildProcess | undefined;
  const url = (database = 'postgres') => `postgres://certgate@127.0.0.1:${port}/${database}`;

  const start = async () => {
    const [command, args] = asServerUser(join(bin, 'postgres'), [
      '-D', data, '-k', dir, '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      // The tests never crash the machine, only processes: fsync buys them nothing.
      '-c', 'fsync=off', '-c', 'max_connections=200',
    ]);
    const started = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`PostgreSQL did not start in 30 s: ${log}`)), 30_000);
      started.stderr!.on('data', (chunk: Buffer) => {
        log = (log + chunk.toString('utf8')).slice(-4_000);
        if (log.includes('ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`PostgreSQL exited (${code}) while starting: ${log}`));
      });
    });
    // Keep draining its log so the pipe never fills.
    started.stderr!.removeAllListeners('data');
    started.stderr!.resume();
  };

  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGINT');
    await exited;
  };

  await start();
  return {
    port,
    url,
    async createDatabase() {
      const name = `test_${process.pid}_${++databases}`;
      const admin = postgres(url(), { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    stop,
    start,
    async dispose() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh store key line (base64 of 32 random bytes), as `openssl rand -base64 32` makes one. */
export function newStoreKeyLine(): string {
  return randomBytes(32).toString('base64');
}

/** Store keys for a test: a fresh one unless lines are given. */
export function testStoreKeys(...lines: string[]): StoreKey[] {
  return parseStoreKeys((lines.length ? lines : [newStoreKeyLine()]).join('\n'), 'test');
}
