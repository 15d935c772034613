// TCP apps (transport `tcp`, on `exposedPort`) and extra exposed ports (`additionalPortMappings`):
// one TCP listener per exposed port, each connection proxied byte for byte to the app's target port.
// No TLS and no client certificates here (clientCertificateMode must be `ignore` for tcp, as in ACA).
// External ports listen on the ingress's bind address; internal ones (external: false) on loopback
// only, so an internal TCP port is never public whatever --bind says.
import net from 'node:net';
import type { Logger } from 'pino';
import type { IngressObserver } from '../../observe/observer.ts';
import type { ConfigurationProblem } from '../../model/outcome.ts';
import type { TcpRoute } from '../snapshot.ts';


export interface TcpLimits {
  /** Open connections per exposed port; beyond: new ones are closed at once (one client cannot take them all for long: idle timeout). */
  readonly maxConnectionsPerPort: number;
  /** Open connections per exposed port from one client address: one client cannot take a port's whole budget. */
  readonly maxConnectionsPerClient: number;
  /** A connection with no bytes either way for this long is closed. */
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export const DEFAULT_TCP_LIMITS: TcpLimits = Object.freeze({ maxConnectionsPerPort: 1_024, maxConnectionsPerClient: 64, idleTimeoutMs: 240_000, connectTimeoutMs: 5_000 });

/** The loopback address internal TCP ports listen on. */
export const INTERNAL_TCP_ADDRESS = '127.0.0.1';

interface Listener {
  readonly server: net.Server;
  readonly bindAddress: string;
  route: TcpRoute;
  readonly sockets: Set<net.Socket>;
  /** Open connections by client address. */
  readonly perClient: Map<string, number>;
}

export class TcpProxy {
  readonly #bindAddress: string;
  readonly #limits: TcpLimits;
  readonly #log: Logger;
  readonly #listeners = new Map<number, Listener>();

  readonly #observer: Pick<IngressObserver, 'refusal'> | undefined;

  constructor(bindAddress: string, limits: TcpLimits, log: Logger, observer?: Pick<IngressObserver, 'refusal'>) {
    this.#bindAddress = bindAddress;
    this.#limits = limits;
    this.#log = log;
    this.#observer = observer;
  }

  /**
   * Listens on the ports in `routes` and no others; a port whose app changed keeps its listener
   * (new connections go to the new target). Returns what could not be applied.
   */
  async apply(routes: ReadonlyMap<number, TcpRoute>): Promise<ConfigurationProblem[]> {
    const problems: ConfigurationProblem[] = [];
    for (const [port, listener] of this.#listeners) {
      const route = routes.get(port);
      if (route !== undefined && this.#addressFor(route) === listener.bindAddress) {
        listener.route = route;
        continue;
      }
      this.#listeners.delete(port);
      await closeListener(listener);
    }
    for (const [port, route] of routes) {
      if (this.#listeners.has(port)) continue;
      try {
        this.#listeners.set(port, await this.#listen(port, route));
      } catch (error) {
        problems.push({ resource: route.appId, reason: 'port_unavailable', message: `exposed port ${port} cannot be served (${(error as Error).message})` });
      }
    }
    return problems;
  }

  /** The ports listened on (for tests and the banner). */
  get ports(): number[] {
    return [...this.#listeners.keys()];
  }

  async close(): Promise<void> {
    const listeners = [...this.#listeners.values()];
    this.#listeners.clear();
    await Promise.all(listeners.map(closeListener));
  }

  #addressFor(route: TcpRoute): string {
    return route.external ? this.#bindAddress : INTERNAL_TCP_ADDRESS;
  }

  async #listen(port: number, route: TcpRoute): Promise<Listener> {
    const server = net.createServer({ noDelay: true, pauseOnConnect: true, allowHalfOpen: true });
    const listener: Listener = { server, bindAddress: this.#addressFor(route), route, sockets: new Set(), perClient: new Map() };
    server.maxConnections = this.#limits.maxConnectionsPerPort;
    server.on('connection', (socket) => this.#proxy(listener, socket));
    server.on('drop', (dropped?: { remoteAddress?: string }) => {
      this.#log.warn({ port, reason: 'tcp_connection_limit' }, 'TCP connection refused: too many open on this port');
      this.#observer?.refusal({ reason: 'tcp_connection_limit', clientAddress: dropped?.remoteAddress ?? '', appId: listener.route.appId, listener: `tcp:${port}` });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: listener.bindAddress, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return listener;
  }

  #proxy(listener: Listener, client: net.Socket): void {
    const address = client.remoteAddress ?? '';
    const open = listener.perClient.get(address) ?? 0;
    if (open >= this.#limits.maxConnectionsPerClient) {
      this.#log.warn({ app: listener.route.appId, reason: 'tcp_client_limit' }, 'TCP connection refused: this client has too many open on this port');
      this.#observer?.refusal({ reason: 'tcp_client_limit', clientAddress: address, appId: listener.route.appId, listener: 'tcp' });
      client.destroy();
      return;
    }
    listener.perClient.set(address, open + 1);
    const { host, port } = listener.route;
    listener.sockets.add(client);
    const app = net.connect({ host, port, noDelay: true, allowHalfOpen: true });
    const connectTimer = setTimeout(() => app.destroy(new Error('connect timeout')), this.#limits.connectTimeoutMs);
    let closed = false;
    const close = () => {
      clearTimeout(connectTimer);
      client.destroy();
      app.destroy();
      if (closed) return;
      closed = true;
      listener.sockets.delete(client);
      const left = (listener.perClient.get(address) ?? 1) - 1;
      if (left > 0) listener.perClient.set(address, left);
      else listener.perClient.delete(address);
    };
    app.once('connect', () => {
      clearTimeout(connectTimer);
      // Both directions with back-pressure; either side's end half-closes the other.
      client.pipe(app);
      app.pipe(client);
      client.resume();
    });
    client.setTimeout(this.#limits.idleTimeoutMs, close);
    app.setTimeout(this.#limits.idleTimeoutMs, close);
    client.on('error', close);
    app.on('error', (error) => {
      this.#log.info({ err: error, app: listener.route.appId, reason: 'tcp_app_unavailable' }, 'TCP connection to app failed');
      this.#observer?.refusal({ reason: 'tcp_app_unavailable', clientAddress: address, appId: listener.route.appId, listener: 'tcp' });
      close();
    });
    client.once('close', close);
    app.once('close', close);
  }
}

function closeListener(listener: Listener): Promise<void> {
  for (const socket of listener.sockets) socket.destroy();
  return new Promise((resolve) => listener.server.close(() => resolve()));
}
