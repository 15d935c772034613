// `certgate serve`: the gateway on the embedded store.
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { PROXY_PROTOCOL_LISTENERS } from '../ingress/listener/proxy-accept.ts';
import { limitConflict, limitOptions, limitSettings } from './serve-limits.ts';
import { enumOption, listOf, parseDomain, parsePort, parseRangeList, parseStoreUrl, parseWorkers } from './options.ts';
import { DEFAULT_BASE_DOMAIN, DEFAULT_INTERNAL_HTTP_PORT, DEFAULT_INTERNAL_HTTPS_PORT, type ServeOptions } from './serve-options.ts';


/** An ACME directory must be https: its answers decide which certificates the ingress serves. */
function parseHttpsUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`'${value}' is not a URL.`);
  }
  if (url.protocol !== 'https:') throw new InvalidArgumentError(`'${value}' is not an https URL.`);
  return url.toString();
}

export function serveCommand(): Command {
  const command = new Command('serve')
    .description('Run the gateway: the HTTPS ingress (one port, every app), plain-HTTP redirects, and the ARM management API')
    .addOption(new Option('--data-dir <dir>', 'where certgate keeps its database, CA and certificates').env('CERTGATE_DATA_DIR').default('.certgate'))
    .addOption(new Option('--store <url>', 'a postgres:// URL: the database several replicas share (docs/scale-out.md); default: the SQLite file in the data dir').env('CERTGATE_STORE').argParser(parseStoreUrl))
    .addOption(new Option('--store-key-file <path>', 'the keys that encrypt the --store database\'s secrets, one base64 line each, the first encrypting (or CERTGATE_STORE_KEY)').env('CERTGATE_STORE_KEY_FILE'))
    .addOption(new Option('--replica-name <name>', 'this replica\'s name among those sharing the --store database (default: the host name)').env('CERTGATE_REPLICA_NAME'))
    .addOption(new Option('--bind <address>', 'address the ingress listens on (loopback by default)').env('CERTGATE_BIND').default('127.0.0.1'))
    .addOption(new Option('--https-port <port>', 'HTTPS port shared by every app').env('CERTGATE_HTTPS_PORT').default(8443).argParser(parsePort))
    .addOption(new Option('--http-port <port>', 'plain-HTTP port: redirects to HTTPS, or serves apps with allowInsecure').env('CERTGATE_HTTP_PORT').default(8080).argParser(parsePort))
    .addOption(new Option('--internal-bind <address>', 'address of the internal listener, which serves apps with external: false (and the external ones)').env('CERTGATE_INTERNAL_BIND').default('127.0.0.1'))
    .addOption(new Option('--internal-https-port <port>', 'HTTPS port of the internal listener').env('CERTGATE_INTERNAL_HTTPS_PORT').default(undefined, `${DEFAULT_INTERNAL_HTTPS_PORT}; 0 when --https-port is 0`).argParser(parsePort))
    .addOption(new Option('--internal-http-port <port>', 'plain-HTTP port of the internal listener').env('CERTGATE_INTERNAL_HTTP_PORT').default(undefined, `${DEFAULT_INTERNAL_HTTP_PORT}; 0 when --http-port is 0`).argParser(parsePort))
    .addOption(new Option('--proxy-protocol <listeners>', `expect a PROXY protocol v1/v2 header on these listeners (comma-separated: ${PROXY_PROTOCOL_LISTENERS.join(', ')})`).env('CERTGATE_PROXY_PROTOCOL').argParser(listOf(PROXY_PROTOCOL_LISTENERS)))
    .addOption(new Option('--proxy-protocol-from <ranges>', 'addresses or CIDR ranges allowed to send PROXY headers (comma-separated; required with --proxy-protocol)').env('CERTGATE_PROXY_PROTOCOL_FROM').argParser(parseRangeList))
    .addOption(new Option('--management-port <port>', 'port of the management API').env('CERTGATE_MANAGEMENT_PORT').default(9443).argParser(parsePort))
    .addOption(new Option('--management-bind <address>', 'address the management API listens on (loopback by default)').env('CERTGATE_MANAGEMENT_BIND').default('127.0.0.1'))
    .addOption(new Option('--domain <domain>', 'base domain: environments get <name>.<domain> as default domain').env('CERTGATE_DOMAIN').default(DEFAULT_BASE_DOMAIN).argParser(parseDomain))
    .addOption(new Option('--workers <n>', "ingress processes on the shared ports: a number, or 'auto' for one per CPU").env('CERTGATE_WORKERS').default(availableParallelism(), 'auto').argParser(parseWorkers))
    .addOption(enumOption('--tls-ciphers <profile>', "TLS 1.2 suites: 'modern' (ECDHE with AES-GCM/ChaCha20 only) or 'compatible' (adds CBC suites for old clients)", ['modern', 'compatible']).env('CERTGATE_TLS_CIPHERS').default('modern'))
    .addOption(new Option('--acme-directory <url>', 'ACME directory (https) that managed certificates (managedEnvironments/managedCertificates) are obtained from; HTTP-01 is answered on the HTTP port').env('CERTGATE_ACME_DIRECTORY').argParser(parseHttpsUrl))
    .addOption(new Option('--acme-ca-file <file>', "PEM trust roots for the ACME directory's TLS (default: the system's)").env('CERTGATE_ACME_CA_FILE'))
    .addOption(new Option('--acme-email <address>', 'contact address of the ACME account').env('CERTGATE_ACME_EMAIL'))
    .addOption(enumOption('--log-level <level>', 'log level', ['trace', 'debug', 'info', 'warn', 'error', 'silent']).env('CERTGATE_LOG_LEVEL').default('info'));
  // Limits (docs/ingress.md, Limits and abuse): durations are seconds, or a number with ms, s, m or h.
  for (const option of limitOptions()) command.addOption(option);
  return command
    .addHelpText('after', '\nExample:\n  certgate serve --data-dir /var/lib/certgate --https-port 443 --http-port 80\n')
    .action(async (options: ServeOptions, command: Command) => {
      // Trusting every source would let any client claim any address (and pass any Allow list).
      if (options.proxyProtocol?.length && !options.proxyProtocolFrom) command.error("error: option '--proxy-protocol' needs '--proxy-protocol-from <ranges>' (the load balancers' addresses)", { exitCode: 2 });
      if (options.storeKeyFile && !options.store) command.error("error: option '--store-key-file' has no effect without '--store <postgres-url>' (the embedded store is a file only its owner reads)", { exitCode: 2 });
      if (options.replicaName && !options.store) command.error("error: option '--replica-name' has no effect without '--store <postgres-url>' (one machine has no replicas)", { exitCode: 2 });
      if ((options.acmeCaFile || options.acmeEmail) && !options.acmeDirectory) command.error("error: options '--acme-ca-file' and '--acme-email' need '--acme-directory <url>'", { exitCode: 2 });
      if (options.proxyProtocolFrom && !options.proxyProtocol?.length) command.error("error: option '--proxy-protocol-from' has no effect without '--proxy-protocol <listeners>'", { exitCode: 2 });
      options.limits = limitSettings(options as unknown as Record<string, unknown>);
      const conflict = limitConflict(options.limits);
      if (conflict) command.error(`error: ${conflict}`, { exitCode: 2 });
      const { runServe } = await import('./serve-run.ts');
      await runServe(options);
    });
}
