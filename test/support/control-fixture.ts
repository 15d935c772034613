// What the management-API test files share: a temporary directory, the client identities of the
// shared vectors, an echo app, a gateway with its control plane, and the gateway's CA in a file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoApp, type EchoApp } from './echo-app.ts';
import { startTestGateway, type TestGateway } from './gateway.ts';
import { clientIdentities } from './vectors.ts';
import { after, before } from 'node:test';
import { armClient, createGroupAndEnvironment, type ArmClient } from './arm.ts';

export interface ControlPlaneFixture {
  readonly dir: string;
  readonly ids: Awaited<ReturnType<typeof clientIdentities>>;
  readonly echo: EchoApp;
  readonly gw: TestGateway;
  /** The gateway's CA certificate (PEM), for curl and the other clients. */
  readonly caFile: string;
  /** Stops the gateway and the echo app, and removes the directory. */
  close(): Promise<void>;
}

export async function startControlPlaneFixture(prefix: string): Promise<ControlPlaneFixture> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ids = await clientIdentities(dir);
  const echo = await startEchoApp();
  const gw = await startTestGateway({ controlPlane: true });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, gw.caPem);
  return {
    dir,
    ids,
    echo,
    gw,
    caFile,
    async close() {
      await gw.close();
      await echo.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ArmSession {
  readonly fixture: ControlPlaneFixture;
  readonly arm: ArmClient;
  /** The path of the resource group `rg1`. */
  readonly group: string;
  /** The resource id of the environment `env1` in it. */
  readonly envId: string;
}

/**
 * Registers before/after hooks: a control-plane fixture, an ARM client with a token, the group
 * `rg1` and the environment `env1`. The returned object is filled in by the time tests run.
 */
export function useArmSession(prefix: string, apiVersion: string): ArmSession {
  const session = {} as { -readonly [K in keyof ArmSession]: ArmSession[K] };
  before(async () => {
    session.fixture = await startControlPlaneFixture(prefix);
    session.arm = await armClient(session.fixture.gw.credentials!, session.fixture.gw.caPem);
    Object.assign(session, await createGroupAndEnvironment(session.arm, apiVersion));
  });
  after(async () => {
    await session.arm?.close();
    await session.fixture?.close();
  });
  return session;
}
