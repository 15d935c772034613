// `certgate serve` as a child process on free ports, with an ARM client on its management API, and
// the group/environment/app a test serves: what the observability tests share.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { armClient, type ArmClient } from './arm.ts';
import { MAIN, NODE, serveBanner } from './cli.ts';
import type { AdminCredentials } from '../../src/control/control-plane.ts';

const V = 'api-version=2025-01-01';

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly banner: string;
  readonly httpsPort: number;
  readonly adminPort: number;
  readonly credentials: AdminCredentials;
  readonly caFile: string;
  readonly arm: ArmClient;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL if still running (for `after`). */
  kill(): Promise<void>;
}

/** `wrapper`: a command that runs Node, its arguments first (bench/observe.ts: valgrind, and Node's own flags). */
export async function startServeProcess(dataDir: string, args: readonly string[], stdout: 'ignore' | 'pipe' = 'ignore', wrapper: readonly string[] = []): Promise<ServeProcess> {
  const [command, ...before] = wrapper.length > 0 ? [...wrapper] : [NODE];
  const child = spawn(command!, [...before, MAIN, 'serve', '--data-dir', dataDir, '--https-port', '0', '--http-port', '0', '--management-port', '0', '--log-level', 'warn', ...args], {
    stdio: ['ignore', stdout, 'pipe'],
  });
  const banner = await serveBanner(child);
  // The file keeps the first start's endpoint; a restart on port 0 listens elsewhere.
  const credentials: AdminCredentials = { ...(JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')) as AdminCredentials), endpoint: /management API: +(https:\/\/\S+)/.exec(banner)![1]! };
  const arm = await armClient(credentials, readFileSync(credentials.caCertificate, 'utf8'));
  const exited = () => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  return {
    child,
    banner,
    httpsPort: Number(/HTTPS ingress: +https:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]),
    adminPort: Number(/admin: +http:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]),
    credentials,
    caFile: credentials.caCertificate,
    arm,
    async stop() {
      await arm.close();
      child.kill('SIGTERM');
      await exited();
    },
    async kill() {
      await arm.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited();
    },
  };
}

/** Group `rg`, environment `env1` and the app `name` with these ingress settings; returns the app's path (no api-version). */
export async function putServedApp(serve: ServeProcess, name: string, ingress: Record<string, unknown>): Promise<string> {
  const group = `/subscriptions/${serve.credentials.subscriptionId}/resourceGroups/rg`;
  await serve.arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' });
  const env = await serve.arm.call('PUT', `${group}/providers/Microsoft.App/managedEnvironments/env1?${V}`, { location: 'local', properties: {} });
  const appPath = `${group}/providers/Microsoft.App/containerApps/${name}`;
  const app = await serve.arm.call('PUT', `${appPath}?${V}`, { location: 'local', properties: { managedEnvironmentId: env.json.id, configuration: { ingress } } });
  assert.equal(app.status, 201, app.text);
  return appPath;
}
