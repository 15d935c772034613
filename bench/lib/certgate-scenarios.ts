// What only certgate has: how soon a mode change is enforced after its PATCH returns, and how many
// PATCHes per second the management API takes.
import https from 'node:https';
import type { CertgateApi } from './proxies.ts';
import { MODE_HOST } from './proxies.ts';
import { round, sleep, treeCpuSeconds } from './system.ts';

const API = 'api-version=2025-01-01';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** One new connection without a client certificate: did the app answer, or was it refused? */
function probe(port: number): Promise<'served' | 'refused'> {
  return new Promise((resolve) => {
    const request = https.request(
      { host: '127.0.0.1', port, servername: MODE_HOST, path: '/', headers: { host: MODE_HOST }, rejectUnauthorized: false, agent: false, timeout: 5_000 },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode === 200 ? 'served' : 'refused'));
        response.on('error', () => resolve('refused'));
      },
    );
    request.on('error', () => resolve('refused'));
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.end();
  });
}

export interface ModeChangeResult {
  changes: number;
  /** From the PATCH's response to the end of the first new connection that had the new mode. */
  enforcedMs: { p50: number; p99: number; max: number; mean: number };
  /** How many new connections it took (1: the first after the response already had it). */
  attempts: { max: number; mean: number };
  patchMs: { p50: number; p99: number };
  notEnforcedWithin2s: number;
}

export async function modeChangeLatency(api: CertgateApi, port: number, changes: number): Promise<ModeChangeResult> {
  const latencies: number[] = [];
  const patchTimes: number[] = [];
  const attempts: number[] = [];
  let missed = 0;
  for (let i = 0; i < changes; i++) {
    const mode = i % 2 === 0 ? 'require' : 'accept';
    const sent = performance.now();
    const result = await api.call('PATCH', `${api.appPath('mode')}?${API}`, { properties: { configuration: { ingress: { clientCertificateMode: mode } } } });
    const answered = performance.now();
    if (result.status !== 200 && result.status !== 202) throw new Error(`PATCH failed (${result.status}): ${result.text}`);
    patchTimes.push(answered - sent);
    const wanted = mode === 'require' ? 'refused' : 'served';
    let tries = 0;
    let enforcedAt: number | undefined;
    while (performance.now() - answered < 2_000) {
      tries++;
      if ((await probe(port)) === wanted) {
        enforcedAt = performance.now();
        break;
      }
    }
    if (enforcedAt === undefined) missed++;
    else latencies.push(enforcedAt - answered);
    attempts.push(tries);
    await sleep(20);
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const patches = [...patchTimes].sort((a, b) => a - b);
  return {
    changes,
    enforcedMs: {
      p50: round(percentile(sorted, 50), 2),
      p99: round(percentile(sorted, 99), 2),
      max: round(sorted.at(-1) ?? Number.NaN, 2),
      mean: round(sorted.reduce((sum, value) => sum + value, 0) / Math.max(sorted.length, 1), 2),
    },
    attempts: { max: Math.max(...attempts), mean: round(attempts.reduce((sum, value) => sum + value, 0) / attempts.length, 2) },
    patchMs: { p50: round(percentile(patches, 50), 2), p99: round(percentile(patches, 99), 2) },
    notEnforcedWithin2s: missed,
  };
}

export interface PatchRateResult {
  concurrency: number;
  patchesPerSecond: number;
  patches: number;
  failed: number;
  /** certgate's CPU per PATCH (store write, snapshot compile, new TLS policy). */
  cpuMsPerPatch: number;
}

/** PATCHes toggling an app's mode (each a store write, a recompiled snapshot and a new TLS context). */
export async function patchRate(api: CertgateApi, pid: number, seconds: number, concurrency: number): Promise<PatchRateResult> {
  let patches = 0;
  let failed = 0;
  let toggle = 0;
  const cpuBefore = treeCpuSeconds(pid);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const mode = toggle++ % 2 === 0 ? 'require' : 'accept';
        const result = await api.call('PATCH', `${api.appPath('patch')}?${API}`, { properties: { configuration: { ingress: { clientCertificateMode: mode } } } });
        if (result.status === 200 || result.status === 202) patches++;
        else failed++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = treeCpuSeconds(pid) - cpuBefore;
  return {
    concurrency,
    patchesPerSecond: round(patches / elapsed, 1),
    patches,
    failed,
    cpuMsPerPatch: round((cpu * 1000) / Math.max(patches, 1), 2),
  };
}
