// How many WebSocket tunnels each app, and each client address at each app, may have at once. A
// tunnel holds a connection to the app for as long as it lives (hours, for a chat), so without a
// bound one client opening upgrades in a loop takes every connection the app can accept. Pure
// bookkeeping; websocket.ts takes a slot before the upgrade goes to the app and gives it back when
// the handshake fails or the tunnel closes.

export type TunnelRefusal = 'websocket_tunnels_full' | 'websocket_client_tunnels_full';

export class TunnelCounts {
  readonly #maxPerApp: number;
  readonly #maxPerClient: number;
  readonly #perApp = new Map<string, number>();
  /** By app and client address (`app\nclient`). */
  readonly #perClient = new Map<string, number>();

  constructor(maxPerApp: number, maxPerClient: number) {
    this.#maxPerApp = maxPerApp;
    this.#maxPerClient = maxPerClient;
  }

  /** Takes a slot for a tunnel of `client` to `app`, or says which bound refuses it. */
  acquire(app: string, client: string): TunnelRefusal | undefined {
    const appCount = this.#perApp.get(app) ?? 0;
    if (appCount >= this.#maxPerApp) return 'websocket_tunnels_full';
    const key = `${app}\n${client}`;
    const clientCount = this.#perClient.get(key) ?? 0;
    if (clientCount >= this.#maxPerClient) return 'websocket_client_tunnels_full';
    this.#perApp.set(app, appCount + 1);
    this.#perClient.set(key, clientCount + 1);
    return undefined;
  }

  /** Gives back a slot `acquire` granted (once per grant). */
  release(app: string, client: string): void {
    decrement(this.#perApp, app);
    decrement(this.#perClient, `${app}\n${client}`);
  }

  /** Tunnels (and handshakes) open to `app` now. */
  open(app: string): number {
    return this.#perApp.get(app) ?? 0;
  }
}

/** Entries at zero are removed: the maps stay as small as the set of live tunnels. */
function decrement(counts: Map<string, number>, key: string): void {
  const count = counts.get(key) ?? 0;
  if (count <= 1) counts.delete(key);
  else counts.set(key, count - 1);
}
