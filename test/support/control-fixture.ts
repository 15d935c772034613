// What the management-API test files share: a temporary directory, the client identities of the
// shared vectors, an echo app, a gateway with its control plane, and the gateway's CA in a file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoApp, type EchoApp } from './echo-app.ts';
import { startTestGateway, type TestGateway } from './gateway.ts';
import { clientIdentities } from './vectors.ts';

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
