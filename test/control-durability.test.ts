// Nothing acknowledged is lost, and nothing is half-written, when the process is killed with
// SIGKILL in the middle of a stream of writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { armClient, type ArmClient } from './support/arm.ts';
import type { AdminCredentials } from '../src/control/control-plane.ts';

const ROOT = join(import.meta.dirname, '..');
const V = 'api-version=2025-01-01';

async function startServe(dataDir: string): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'src/main.ts'), 'serve', '--data-dir', dataDir, '--https-port', '0', '--http-port', '0', '--management-port', '0', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /management API: (https:\/\/\S+)/.exec(stderr);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return { child, endpoint };
}

test('kill -9 during a stream of writes: every resource is at an acknowledged version or the one in flight, never in between', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'certgate-kill-'));
  try {
    const first = await startServe(dataDir);
    const credentials = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')) as AdminCredentials;
    const ca = readFileSync(credentials.caCertificate, 'utf8');
    let arm: ArmClient = await armClient({ ...credentials, endpoint: first.endpoint }, ca);
    const group = `/subscriptions/${credentials.subscriptionId}/resourceGroups/rg`;
    assert.equal((await arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' })).status, 201);
    const env = await arm.call('PUT', `${group}/providers/Microsoft.App/managedEnvironments/env?${V}`, { location: 'local', properties: {} });
    // Each write sets two fields to the same version number; a torn write would show them apart.
    const body = (version: number) => ({
      location: 'local',
      tags: { version: String(version) },
      properties: { managedEnvironmentId: env.json.id, configuration: { ingress: { targetPort: 1000 + version } } },
    });
    const acknowledged = new Map<string, number>();
    const sent = new Map<string, number>();
    let stop = false;
    const writers = Array.from({ length: 4 }, async (_, writer) => {
      for (let version = 1; !stop; version++) {
        const name = `app-${writer}-${version % 5}`;
        sent.set(name, version);
        try {
          const result = await arm.call('PUT', `${group}/providers/Microsoft.App/containerApps/${name}?${V}`, body(version));
          if (result.status === 200 || result.status === 201) acknowledged.set(name, version);
        } catch {
          return; // the server is gone
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 700));
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    stop = true;
    await Promise.all(writers);
    await arm.close();
    assert.ok(acknowledged.size > 0, 'some writes were acknowledged before the kill');

    const second = await startServe(dataDir);
    try {
      arm = await armClient({ ...credentials, endpoint: second.endpoint }, ca);
      const list = await arm.call('GET', `${group}/providers/Microsoft.App/containerApps?${V}&$top=1000`);
      assert.equal(list.status, 200);
      const stored = new Map<string, { version: number; port: number }>(
        list.json.value.map((app: { name: string; tags: { version: string }; properties: { configuration: { ingress: { targetPort: number } } } }) => [
          app.name,
          { version: Number(app.tags.version), port: app.properties.configuration.ingress.targetPort },
        ]),
      );
      for (const [name, version] of acknowledged) {
        const found = stored.get(name);
        assert.ok(found, `${name} was acknowledged and must exist`);
        assert.equal(found.port, 1000 + found.version, `${name} is whole`);
        assert.ok(found.version >= version, `${name}: acknowledged version ${version} survives (found ${found.version})`);
        assert.ok(found.version <= sent.get(name)!, `${name}: no version from nowhere`);
      }
      await arm.close();
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((resolve) => second.child.once('exit', resolve));
    }
    const db = new DatabaseSync(join(dataDir, 'certgate.db'));
    assert.equal((db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
    db.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
