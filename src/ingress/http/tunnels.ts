// Open WebSocket tunnels and the admission each was made under. A request is admitted against the
// snapshot of its moment; a tunnel lives on for hours, so on every snapshot swap each tunnel's
// admission is checked again (the same check as its upgrade request had) and those the new
// configuration no longer admits (an IP rule that now excludes the client, external: false, a
// stricter client-certificate mode, allowInsecure off) are closed.
import type { Duplex } from 'node:stream';
import type { RouteSnapshot } from '../snapshot.ts';

/** Whether the tunnel's upgrade request would still be admitted under `snapshot`. */
export type TunnelCheck = (snapshot: RouteSnapshot) => boolean;

export class TunnelRegistry {
  /** One entry per open upgraded client socket (removed when it closes): as many as tunnels. */
  readonly #open = new Map<Duplex, TunnelCheck>();

  add(socket: Duplex, check: TunnelCheck): void {
    if (socket.destroyed) return;
    this.#open.set(socket, check);
    socket.once('close', () => this.#open.delete(socket));
  }

  /** Closes the tunnels `snapshot` no longer admits; returns how many. */
  recheck(snapshot: RouteSnapshot): number {
    let closed = 0;
    for (const [socket, check] of this.#open) {
      if (check(snapshot)) continue;
      this.#open.delete(socket);
      socket.destroy();
      closed++;
    }
    return closed;
  }

  get size(): number {
    return this.#open.size;
  }
}
