// What `certgate serve` runs, loaded only when it runs (flag errors and --help stay fast): it
// chooses where the pipeline runs (src/gateway/host.ts), starts the management API on it, and
// stops both on a signal.
import { readFile } from 'node:fs/promises';
import cluster from 'node:cluster';
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ControlPlane } from '../control/control-plane.ts';
import { runWorker } from '../gateway/cluster.ts';
import { startIngressHost, stopGraceMs, type IngressHost } from '../gateway/host.ts';
import type { IngressAddresses, IngressOptions } from '../ingress/ingress.ts';
import { ensureOpenSslConfig, OPENSSL_CONFIG_PATH } from '../ingress/listener/openssl-config.ts';
import { createLogger } from '../log.ts';
import { describeStore } from '../store/location.ts';
import { loadStoreKeys } from '../store/store-keys.ts';
import { caCertificatePath } from '../pki/local-ca.ts';
import { bindWarning } from './bind-warning.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { checkPortsFree, explainListenError, serveListeners } from './serve-preflight.ts';
import { DEFAULT_BASE_DOMAIN, DEFAULT_INTERNAL_HTTP_PORT, DEFAULT_INTERNAL_HTTPS_PORT, type ServeOptions } from './serve-options.ts';

export async function runServe(options: ServeOptions): Promise<void> {
  // First of all: this may replace the process with one that loaded certgate's OpenSSL settings.
  const openSsl = cluster.isWorker ? 'certgate' : ensureOpenSslConfig();
  const log = createLogger(options.logLevel);
  log.debug({ openSslConfig: openSsl === 'certgate' ? OPENSSL_CONFIG_PATH : openSsl }, 'OpenSSL configuration');
  const dataDir = resolve(options.dataDir);
  const ingress = ingressOptions(options);
  // The shared store's URL and keys: read once here (a worker reads the same flags and variables).
  const shared = options.store ? { sharedStore: { url: options.store, keys: loadStoreKeys(options.storeKeyFile, process.env) } } : {};
  if (cluster.isWorker) {
    await runWorker({ dataDir, ingress, ...shared }, log);
    return;
  }
  // Nothing is written before every port is known to be free: a failed first start leaves no data dir.
  const listeners = serveListeners({
    bind: options.bind,
    httpsPort: options.httpsPort,
    httpPort: options.httpPort,
    internalBind: options.internalBind,
    internalHttpsPort: internalPorts(options).httpsPort,
    internalHttpPort: internalPorts(options).httpPort,
    managementBind: options.managementBind,
    managementPort: options.managementPort,
  });
  await checkPortsFree(listeners);
  const firstStart = !existsSync(dataDir);
  const unlock = lockDataDir(dataDir);
  // One process (ingress, store and management API together), or a primary that owns the store's
  // writes and the management API with workers that serve the ingress.
  let host: IngressHost;
  let control: ControlPlane;
  try {
    host = await startIngressHost({ dataDir, ingress, workers: options.workers, ...shared, ...(options.replicaName ? { replicaName: options.replicaName } : {}) }, log);
    control = await startControlPlane(host, options, log);
  } catch (error) {
    unlock();
    // A port taken between the check and the listen: the data dir made just now goes too.
    if (firstStart) rmSync(dataDir, { recursive: true, force: true });
    throw explainListenError(error, listeners);
  }
  printBanner(options, dataDir, host.addresses, control);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // The environments' terminationGracePeriodSeconds (the largest: certgate drains per process).
    stopGraceMs(host)
      .then((graceMs) => {
        log.info({ signal, graceMs }, 'stopping: no new connections, in-flight requests finish');
        return Promise.all([control.close(), host.close(graceMs)]);
      })
      .then(
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
      ...internalPorts(options),
    },
    ...(options.proxyProtocol?.length ? { proxyProtocol: { listeners: options.proxyProtocol, trustedFrom: options.proxyProtocolFrom ?? [] } } : {}),
    tlsCiphers: options.tlsCiphers,
    // The limit flags (serve-limits.ts); unset ones keep the ingress's defaults.
    ...options.limits,
  };
}

/** The internal listener's ports: a setup that asks for free ports (tests, several instances) gets free internal ones too. */
function internalPorts(options: ServeOptions): { httpsPort: number; httpPort: number } {
  return {
    httpsPort: options.internalHttpsPort ?? (options.httpsPort === 0 ? 0 : DEFAULT_INTERNAL_HTTPS_PORT),
    httpPort: options.internalHttpPort ?? (options.httpPort === 0 ? 0 : DEFAULT_INTERNAL_HTTP_PORT),
  };
}

async function startControlPlane(host: IngressHost, options: ServeOptions, log: Logger): Promise<ControlPlane> {
  try {
    // Loaded here, not at the top: ingress worker processes never serve the management API, and
    // its modules (fastify, ajv and the compiled schemas) would take memory in every one of them.
    const { ControlPlane } = await import('../control/control-plane.ts');
    const acme = options.acmeDirectory
      ? { directoryUrl: options.acmeDirectory, ...(options.acmeCaFile ? { caPem: await readFile(options.acmeCaFile, 'utf8') } : {}), ...(options.acmeEmail ? { email: options.acmeEmail } : {}) }
      : undefined;
    return await ControlPlane.start(host, { bindAddress: options.managementBind, port: options.managementPort, baseDomain: options.domain, ...(acme ? { acme } : {}) }, log);
  } catch (error) {
    await host.close(0);
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
    `  store:          ${describeStore(dataDir, options.store)}`,
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
