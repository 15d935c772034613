// The most recent refusals, for the Gateway refusals API (TEAM.md): a ring of fixed size, so a
// flood of refused handshakes costs a slot overwrite each and never grows memory.
export interface RefusalEntry {
  readonly time: string;
  readonly app?: string;
  readonly host?: string;
  readonly reason: string;
  readonly verdict?: string;
  readonly thumbprint?: string;
  readonly subject?: string;
  readonly clientAddress: string;
}

export const REFUSAL_RING_SIZE = 1_000;

export class RefusalRing {
  readonly #entries: (RefusalEntry | undefined)[];
  #next = 0;
  #count = 0;

  constructor(size = REFUSAL_RING_SIZE) {
    this.#entries = new Array(Math.max(1, size));
  }

  push(entry: RefusalEntry): void {
    this.#entries[this.#next] = entry;
    this.#next = (this.#next + 1) % this.#entries.length;
    if (this.#count < this.#entries.length) this.#count++;
  }

  /** The newest first, at most `top`. */
  recent(top: number): RefusalEntry[] {
    const out: RefusalEntry[] = [];
    const size = this.#entries.length;
    for (let i = 1; i <= Math.min(top, this.#count); i++) out.push(this.#entries[(this.#next - i + size) % size]!);
    return out;
  }
}

/** Several rings' newest entries (the workers'), newest first. */
export function mergeRecent(lists: readonly (readonly RefusalEntry[])[], top: number): RefusalEntry[] {
  return lists
    .flat()
    .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0))
    .slice(0, top);
}
