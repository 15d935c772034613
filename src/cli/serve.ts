// `certgate serve`: the gateway on the embedded store.
import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { parseDomain, parsePort, parseWorkers } from './options.ts';

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
  workers: number;
  tlsCiphers: 'modern' | 'compatible';
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
    .addOption(new Option('--workers <n>', "ingress processes on the shared ports: a number, or 'auto' for one per CPU").env('CERTGATE_WORKERS').default(availableParallelism(), 'auto').argParser(parseWorkers))
    .addOption(
      new Option('--tls-ciphers <profile>', "TLS 1.2 suites: 'modern' (ECDHE with AES-GCM/ChaCha20 only) or 'compatible' (adds CBC suites for old clients)")
        .env('CERTGATE_TLS_CIPHERS')
        .choices(['modern', 'compatible'])
        .default('modern'),
    )
    .addOption(new Option('--log-level <level>', 'log level').env('CERTGATE_LOG_LEVEL').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'))
    .addHelpText('after', '\nExample:\n  certgate serve --data-dir /var/lib/certgate --https-port 443 --http-port 80\n')
    .action(async (options: ServeOptions) => {
      const { runServe } = await import('./serve-run.ts');
      await runServe(options);
    });
}
