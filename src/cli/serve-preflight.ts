// Before `certgate serve` writes anything: every port it needs is free (so a failed first start
// leaves no half-made data dir), and a port that cannot be had is named with the flag and the
// variable that move it, not as Node's bare `bind EADDRINUSE`.
import net from 'node:net';
import { CliError } from './errors.ts';

/** One listener serve opens, with what moves it. */
export interface ServeListener {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly flag: string;
  readonly variable: string;
  readonly addressFlag: string;
}

export interface ServeListenerSettings {
  bind: string;
  httpsPort: number;
  httpPort: number;
  internalBind: string;
  internalHttpsPort: number;
  internalHttpPort: number;
  managementBind: string;
  managementPort: number;
  /** The admin listener (metrics, health; src/observe/admin-server.ts). */
  adminBind?: string;
  adminPort?: number;
}

export function serveListeners(s: ServeListenerSettings): ServeListener[] {
  return [
    { name: 'HTTPS ingress', address: s.bind, port: s.httpsPort, flag: '--https-port', variable: 'CERTGATE_HTTPS_PORT', addressFlag: '--bind' },
    { name: 'plain-HTTP ingress', address: s.bind, port: s.httpPort, flag: '--http-port', variable: 'CERTGATE_HTTP_PORT', addressFlag: '--bind' },
    { name: 'internal HTTPS', address: s.internalBind, port: s.internalHttpsPort, flag: '--internal-https-port', variable: 'CERTGATE_INTERNAL_HTTPS_PORT', addressFlag: '--internal-bind' },
    { name: 'internal HTTP', address: s.internalBind, port: s.internalHttpPort, flag: '--internal-http-port', variable: 'CERTGATE_INTERNAL_HTTP_PORT', addressFlag: '--internal-bind' },
    { name: 'management API', address: s.managementBind, port: s.managementPort, flag: '--management-port', variable: 'CERTGATE_MANAGEMENT_PORT', addressFlag: '--management-bind' },
    ...(s.adminPort === undefined ? [] : [{ name: 'admin listener', address: s.adminBind ?? '127.0.0.1', port: s.adminPort, flag: '--admin-port', variable: 'CERTGATE_ADMIN_PORT', addressFlag: '--admin-bind' }]),
  ];
}

/** The error a listen failure deserves: what was taken, and how to move it. Undefined when `error` is no listen failure. */
export function listenFailure(listener: ServeListener, error: NodeJS.ErrnoException): CliError | undefined {
  const where = `${listener.address}:${listener.port}`;
  const move = `choose another with ${listener.flag} <port> or ${listener.variable}=<port>`;
  if (error.code === 'EADDRINUSE') return new CliError(`the ${listener.name} port ${where} is in use (another certgate, or another program); ${move}`, { cause: error });
  if (error.code === 'EACCES') {
    return new CliError(`no permission to listen on ${where} (${listener.name}): ports below 1024 need CAP_NET_BIND_SERVICE (docs/production.md, packaging/certgate.service); or ${move}`, { cause: error });
  }
  if (error.code === 'EADDRNOTAVAIL') return new CliError(`${listener.address} is not an address of this machine (${listener.name}); choose another with ${listener.addressFlag}`, { cause: error });
  return undefined;
}

/** Tries each fixed port in turn (0 means any free port, which cannot fail) and throws the first failure. */
export async function checkPortsFree(listeners: readonly ServeListener[]): Promise<void> {
  for (const listener of listeners) {
    if (listener.port === 0) continue;
    const server = net.createServer();
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve);
      server.listen({ host: listener.address, port: listener.port, exclusive: true }, () => resolve(undefined));
    });
    if (!error) {
      await new Promise((resolve) => server.close(resolve));
      continue;
    }
    throw listenFailure(listener, error) ?? new CliError(`cannot listen on ${listener.address}:${listener.port} (${listener.name}): ${error.message}`, { cause: error });
  }
}

/** Node's `listen EADDRINUSE: address already in use 127.0.0.1:8443` (a port taken between the check and the listen), explained. */
export function explainListenError(error: unknown, listeners: readonly ServeListener[]): unknown {
  const errno = error as NodeJS.ErrnoException & { port?: number; address?: string };
  if (typeof errno?.code !== 'string' || typeof errno.port !== 'number') return error;
  const listener = listeners.find((candidate) => candidate.port === errno.port);
  return (listener && listenFailure(listener, errno)) ?? error;
}
