// What `certgate serve` runs, loaded only when it runs (flag errors and --help stay fast).
import cluster from 'node:cluster';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ControlPlane, ControlPlaneHost } from '../control/control-plane.ts';
import { WorkerPool, runWorker } from '../gateway/cluster.ts';
import { Gateway } from '../gateway/gateway.ts';
import { ServerCertificates } from '../gateway/server-certificates.ts';
import { DEFAULT_DRAIN_GRACE_MS, type IngressAddresses } from '../ingress/ingress.ts';
import { drainGraceMs } from '../ingress/snapshot.ts';
import { ensureOpenSslConfig, OPENSSL_CONFIG_PATH } from '../ingress/openssl-config.ts';
import { createLogger } from '../log.ts';
import { ENVIRONMENT_TYPE, environmentView } from '../model/resources.ts';
import { caCertificatePath, loadOrCreateLocalCa } from '../pki/local-ca.ts';
import { SqliteStore } from '../store/sqlite.ts';
import { bindWarning } from './bind-warning.ts';
import { DEFAULT_BASE_DOMAIN, DEFAULT_INTERNAL_HTTP_PORT, DEFAULT_INTERNAL_HTTPS_PORT, type ServeOptions } from './serve.ts';
import type { IngressOptions } from '../ingress/ingress.ts';
import type { Store } from '../store/store.ts';

export async function runServe(options: ServeOptions): Promise<void> {
  // First of all: this may replace the process with one that loaded certgate's OpenSSL settings.
  const openSsl = cluster.isWorker ? 'certgate' : ensureOpenSslConfig();
  const log = createLogger(options.logLevel);
  log.debug({ openSslConfig: openSsl === 'certgate' ? OPENSSL_CONFIG_PATH : openSsl }, 'OpenSSL configuration');
  const dataDir = resolve(options.dataDir);
  const ingress = ingressOptions(options);
  if (cluster.isWorker) {
    await runWorker({ dataDir, ingress }, log);
    return;
  }
  let running: { addresses: IngressAddresses; control: ControlPlane; store: Store; stop: (graceMs: number) => Promise<void> };
  if (options.workers <= 1) {
    // One process: ingress, store and management API together.
    const gateway = await Gateway.start({ dataDir, ingress }, log);
    const control = await startControlPlane(gateway, options, log, () => gateway.close(0));
    running = { addresses: gateway.addresses, control, store: gateway.store, stop: (graceMs) => gateway.close(graceMs) };
  } else {
    // The primary owns the store's writes and the management API; the workers serve the ingress.
    const store = new SqliteStore(join(dataDir, 'certgate.db'));
    const ca = await loadOrCreateLocalCa(dataDir);
    const pool = new WorkerPool(options.workers, log);
    // The primary issues the server certificates a revision needs before the workers hear of it, so
    // that they all serve the same ones (and so resume each other's TLS sessions).
    const certificates = new ServerCertificates(dataDir, ca);
    const prepare = () => Promise.all([certificates.fallback(), certificates.forEnvironments(store.list({ type: ENVIRONMENT_TYPE }).map(environmentView))]);
    await prepare();
    store.subscribe((revision) => {
      prepare().then(
        () => pool.broadcast(revision),
        (error: unknown) => {
          log.error({ err: error, revision }, 'server certificates could not be issued');
          pool.broadcast(revision);
        },
      );
    });
    let addresses: IngressAddresses;
    try {
      addresses = await pool.start();
    } catch (error) {
      await pool.stop(0);
      store.close();
      throw error;
    }
    const host = {
      store,
      dataDir,
      ca,
      waitForRevision: (revision: number) => pool.waitForRevision(revision),
      get lastOutcome() {
        return pool.lastOutcome;
      },
      reservedPorts: () => [addresses.httpsPort, ...(addresses.httpPort === undefined ? [] : [addresses.httpPort])],
    };
    const stop = async (graceMs: number) => {
      await pool.stop(graceMs);
      store.close();
    };
    const control = await startControlPlane(host, options, log, () => stop(0));
    running = { addresses, control, store, stop };
  }
  const { control, addresses } = running;
  printBanner(options, dataDir, addresses, control);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // The environments' terminationGracePeriodSeconds (the largest: certgate drains per process).
    const graceMs = drainGraceMs(running.store.list({ type: ENVIRONMENT_TYPE }).map(environmentView)) ?? DEFAULT_DRAIN_GRACE_MS;
    log.info({ signal, graceMs }, 'stopping: no new connections, in-flight requests finish');
    Promise.all([control.close(), running.stop(graceMs)]).then(
      () => {
        log.flush();
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'unclean stop');
        log.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** The ingress's listeners as the flags set them; the workers build the same from the same flags. */
function ingressOptions(options: ServeOptions): IngressOptions {
  return {
    bindAddress: options.bind,
    httpsPort: options.httpsPort,
    httpPort: options.httpPort,
    internal: {
      bindAddress: options.internalBind,
      // A setup that asks for free ports (tests, several instances) gets free internal ones too.
      httpsPort: options.internalHttpsPort ?? (options.httpsPort === 0 ? 0 : DEFAULT_INTERNAL_HTTPS_PORT),
      httpPort: options.internalHttpPort ?? (options.httpPort === 0 ? 0 : DEFAULT_INTERNAL_HTTP_PORT),
    },
    ...(options.proxyProtocol?.length ? { proxyProtocol: { listeners: options.proxyProtocol, trustedFrom: options.proxyProtocolFrom ?? [] } } : {}),
    tlsCiphers: options.tlsCiphers,
    // The limit flags (serve-limits.ts); unset ones keep the ingress's defaults.
    ...options.limits,
  };
}

async function startControlPlane(host: ControlPlaneHost, options: ServeOptions, log: Logger, undo: () => Promise<void>): Promise<ControlPlane> {
  try {
    // Loaded here, not at the top: ingress worker processes never serve the management API, and
    // its modules (fastify, ajv and the compiled schemas) would take memory in every one of them.
    const { ControlPlane } = await import('../control/control-plane.ts');
    return await ControlPlane.start(host, { bindAddress: options.managementBind, port: options.managementPort, baseDomain: options.domain }, log);
  } catch (error) {
    await undo();
    throw error;
  }
}

function printBanner(options: ServeOptions, dataDir: string, addresses: IngressAddresses, control: ControlPlane): void {
  const { httpsPort, httpPort } = addresses;
  const warning = bindWarning(
    [
      { flag: '--bind', address: options.bind },
      { flag: '--internal-bind', address: options.internalBind },
    ],
    options.domain,
    DEFAULT_BASE_DOMAIN,
  );
  if (warning) process.stderr.write(`${warning}\n`);
  const lines = [
    'certgate is running',
    `  HTTPS ingress:  https://${options.bind}:${httpsPort} (apps at https://<app>.<environment>.${options.domain}:${httpsPort})`,
    `  HTTP:           http://${options.bind}:${httpPort} (redirects to HTTPS)`,
    `  internal HTTPS: https://${options.internalBind}:${addresses.internalHttpsPort} (every app, external: false ones included)`,
    `  internal HTTP:  http://${options.internalBind}:${addresses.internalHttpPort}`,
    ...(options.proxyProtocol?.length ? [`  PROXY protocol: on ${options.proxyProtocol.join(', ')}, from ${(options.proxyProtocolFrom ?? []).join(', ')} only`] : []),
    `  management API: ${control.endpoint} (ARM; subscription ${control.subscriptionId})`,
    `  workers:        ${options.workers} (ingress processes)`,
    `  data dir:       ${dataDir}`,
    `  CA certificate: ${caCertificatePath(dataDir)} (trust it to reach apps without -k)`,
  ];
  if (control.newCredentialsPath) {
    lines.push(
      '',
      `First start: the administrator's credentials are in ${control.newCredentialsPath} (mode 0600; shown nowhere else).`,
      'Next:',
      `  npx certgate login --data-dir ${options.dataDir}`,
      '  npx certgate group create --name demo --location local',
      '  npx certgate containerapp env create --name env1 --resource-group demo',
    );
  }
  process.stderr.write(`${lines.join('\n')}\n`);
}
