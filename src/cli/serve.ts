// `certgate serve`: the gateway on the embedded store.
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { Gateway } from '../gateway/gateway.ts';
import { createLogger } from '../log.ts';
import { parseDomain, parsePort } from './options.ts';
import { caCertificatePath } from '../pki/local-ca.ts';
import { ControlPlane } from '../control/control-plane.ts';

export const DEFAULT_BASE_DOMAIN = 'certgate.localhost';

export interface ServeOptions {
  dataDir: string;
  bind: string;
  httpsPort: number;
  httpPort: number;
  managementPort: number;
  managementBind: string;
  domain: string;
  logLevel: string;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('Run the gateway: the HTTPS ingress (one port, every app), plain-HTTP redirects, and the ARM management API')
    .addOption(new Option('--data-dir <dir>', 'where certgate keeps its database, CA and certificates').env('CERTGATE_DATA_DIR').default('.certgate'))
    .addOption(new Option('--bind <address>', 'address the ingress listens on (loopback by default)').env('CERTGATE_BIND').default('127.0.0.1'))
    .addOption(new Option('--https-port <port>', 'HTTPS port shared by every app').env('CERTGATE_HTTPS_PORT').default(8443).argParser(parsePort))
    .addOption(new Option('--http-port <port>', 'plain-HTTP port: redirects to HTTPS, or serves apps with allowInsecure').env('CERTGATE_HTTP_PORT').default(8080).argParser(parsePort))
    .addOption(new Option('--management-port <port>', 'port of the management API').env('CERTGATE_MANAGEMENT_PORT').default(9443).argParser(parsePort))
    .addOption(new Option('--management-bind <address>', 'address the management API listens on (loopback by default)').env('CERTGATE_MANAGEMENT_BIND').default('127.0.0.1'))
    .addOption(new Option('--domain <domain>', 'base domain: environments get <name>.<domain> as default domain').env('CERTGATE_DOMAIN').default(DEFAULT_BASE_DOMAIN).argParser(parseDomain))
    .addOption(new Option('--log-level <level>', 'log level').env('CERTGATE_LOG_LEVEL').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'))
    .addHelpText('after', '\nExample:\n  certgate serve --data-dir /var/lib/certgate --https-port 443 --http-port 80\n')
    .action(async (options: ServeOptions) => {
      await runServe(options);
    });
}

async function runServe(options: ServeOptions): Promise<void> {
  const log = createLogger(options.logLevel);
  const dataDir = resolve(options.dataDir);
  const gateway = await Gateway.start(
    {
      dataDir,
      ingress: { bindAddress: options.bind, httpsPort: options.httpsPort, httpPort: options.httpPort },
    },
    log,
  );
  let control: ControlPlane;
  try {
    control = await ControlPlane.start(gateway, { bindAddress: options.managementBind, port: options.managementPort, baseDomain: options.domain }, log);
  } catch (error) {
    await gateway.close(0);
    throw error;
  }
  const { httpsPort, httpPort } = gateway.addresses;
  const lines = [
    'certgate is running',
    `  HTTPS ingress:  https://${options.bind}:${httpsPort} (apps at https://<app>.<environment>.${options.domain}:${httpsPort})`,
    `  HTTP:           http://${options.bind}:${httpPort} (redirects to HTTPS)`,
    `  management API: ${control.endpoint} (ARM; subscription ${control.subscriptionId})`,
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
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: no new connections, in-flight requests finish');
    Promise.all([control.close(), gateway.close(10_000)]).then(
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
