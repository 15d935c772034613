// Processes, CPU pinning, /proc counters, Debian packages, /etc/hosts and machine facts for the bench.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, unlinkSync } from 'node:fs';
import os from 'node:os';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed (SIGKILL) after this long; every command the bench runs is bounded. */
  timeoutMs?: number;
  input?: string;
}

/** Runs a command to completion, collecting its output. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
    if (options.input !== undefined) {
      child.stdin!.on('error', () => {}); // the command may exit without reading it
      child.stdin!.end(options.input);
    }
  });
}

/** Prefix for a command pinned to the given CPUs (nothing when pinning is off). */
export function pinned(cpus: string | undefined, command: string, args: readonly string[]): [string, string[]] {
  return cpus === undefined ? [command, [...args]] : ['taskset', ['-c', cpus, command, ...args]];
}

/**
 * Runs a command and reports the CPU time it (and its children) used, from the shell's `times`
 * builtin: exact, unlike sampling /proc of a process about to exit.
 */
export async function runMeasured(
  cpus: string | undefined,
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult & { cpuSeconds: number; wallSeconds: number }> {
  const script = '"$@"; rc=$?; times >&2; exit $rc';
  const [cmd, fullArgs] = pinned(cpus, 'sh', ['-c', script, 'sh', command, ...args]);
  const started = performance.now();
  const result = await run(cmd, fullArgs, options);
  const wallSeconds = (performance.now() - started) / 1000;
  const lines = result.stderr.trimEnd().split('\n');
  const children = lines.at(-1) ?? '';
  const cpuSeconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, match) => sum + Number(match[1]) * 60 + Number(match[2]), 0);
  return { ...result, stderr: lines.slice(0, -2).join('\n'), cpuSeconds, wallSeconds };
}

/** Every process started by the bench, so that a failure or ^C still stops them all. */
const live = new Set<ChildProcess>();

export interface Service {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function startService(name: string, command: string, args: readonly string[], options: SpawnOptions & { cpus?: string } = {}): Service {
  const [cmd, fullArgs] = pinned(options.cpus, command, args);
  // taskset execs the command: the pid is the service's own.
  const child = spawn(cmd, fullArgs, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => live.delete(child));
  return {
    name,
    pid: child.pid!,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // Its children too (nginx's workers, a cluster's workers), should the parent leave them behind.
      const tree = processTree(child.pid!).slice(1);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      for (let waited = 0; waited < 3_000 && tree.some(alive); waited += 100) await sleep(100);
      for (const pid of tree) if (alive(pid)) process.kill(pid, 'SIGKILL');
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function killAllServices(): void {
  for (const child of live) {
    for (const pid of processTree(child.pid!).reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  live.clear();
}

/** The pid and every descendant (nginx's workers, a cluster's workers). */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const task of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of children.trim().split(/\s+/)) if (child) visit(Number(child));
    }
  };
  visit(pid);
  return out;
}

let clockTicks = 100;
export async function initClockTicks(): Promise<void> {
  const result = await run('getconf', ['CLK_TCK']).catch(() => undefined);
  const ticks = Number(result?.stdout.trim());
  if (Number.isFinite(ticks) && ticks > 0) clockTicks = ticks;
}

/** User + system CPU seconds of a process tree (every thread of every process), from /proc/<pid>/stat. */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited in between
    }
  }
  return ticks / clockTicks;
}

export interface Memory {
  /** Sum of the processes' resident set sizes (shared pages counted in each), MiB. */
  rssMiB: number;
  /** Proportional set size: shared pages split between the processes sharing them, MiB. */
  pssMiB: number;
  processes: number;
}

export function treeMemory(pid: number): Memory {
  let rss = 0;
  let pss = 0;
  const tree = processTree(pid);
  for (const p of tree) {
    try {
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
    } catch {
      // exited
    }
  }
  return { rssMiB: rss / 1024, pssMiB: pss / 1024, processes: tree.length };
}

export function loadAverage(): [number, number, number] {
  const [a, b, c] = os.loadavg();
  return [round(a!, 2), round(b!, 2), round(c!, 2)];
}

/** Total busy and total time of every CPU (from /proc/stat), to tell how busy the machine was. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  const total = values.reduce((sum, value) => sum + value, 0);
  return { busy: total - idle, total };
}

export function round(value: number, digits = 0): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export async function which(command: string): Promise<string | undefined> {
  const result = await run('sh', ['-c', `command -v ${command}`]).catch(() => undefined);
  const path = result?.stdout.trim();
  return result?.code === 0 && path ? path : undefined;
}

/**
 * Installs Debian packages that provide missing commands. Services are not started by the packages
 * (a policy-rc.d that refuses is put in place for the install when the machine has none).
 * Returns the packages that could not be installed, with why.
 */
export async function aptInstall(packages: readonly string[], log: (line: string) => void): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
  if (packages.length === 0) return failed;
  if (process.getuid?.() !== 0) {
    for (const name of packages) failed.set(name, 'not root: cannot apt-get install');
    return failed;
  }
  log(`installing from Debian: ${packages.join(' ')}`);
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# certgate bench: no service starts during its apt-get install\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = await run('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 });
    if (update.code !== 0) log(`apt-get update failed: ${update.stderr.trim().split('\n').at(-1)}`);
    // One at a time: a package Debian cannot give does not stop the others.
    for (const name of packages) {
      const result = await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', name], { env, timeoutMs: 600_000 });
      if (result.code !== 0) failed.set(name, (result.stderr.trim().split('\n').at(-1) ?? 'apt-get install failed').slice(0, 200));
    }
  } finally {
    if (ownPolicy) unlinkSync(policy);
  }
  return failed;
}

const HOSTS = '/etc/hosts';
const BEGIN = '# certgate-bench begin';
const END = '# certgate-bench end';

function withoutBenchBlock(text: string): string {
  const start = text.indexOf(BEGIN);
  if (start < 0) return text;
  const end = text.indexOf(END, start);
  return text.slice(0, start) + (end < 0 ? '' : text.slice(end + END.length + 1));
}

/**
 * Maps the bench's host names to 127.0.0.1 in /etc/hosts: ab, wrk and h2load send SNI only for a
 * host name in the URL. Returns a restore function (also run on exit): the file is put back as it was.
 */
export function addHostsEntries(names: readonly string[]): () => void {
  const original = withoutBenchBlock(readFileSync(HOSTS, 'utf8'));
  const block = `${BEGIN}\n127.0.0.1 ${names.join(' ')}\n${END}\n`;
  writeFileSync(HOSTS, `${original}${original.endsWith('\n') ? '' : '\n'}${block}`);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      writeFileSync(HOSTS, withoutBenchBlock(readFileSync(HOSTS, 'utf8')));
    } catch {
      // nothing more can be done
    }
  };
  process.once('exit', restore);
  return restore;
}

export async function machineFacts(): Promise<Record<string, unknown>> {
  const cpus = os.cpus();
  const kernel = await run('uname', ['-srm']).catch(() => undefined);
  let distro = '';
  try {
    distro = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    distro = '';
  }
  return {
    cpuModel: cpus[0]?.model,
    cpus: cpus.length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    kernel: kernel?.stdout.trim(),
    distro,
    hostname: os.hostname(),
  };
}
