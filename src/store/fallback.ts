// A replica that starts while PostgreSQL is down serves the configuration it saved last
// (mirror.ts), read-only, and keeps trying the database; once it answers, this store switches to
// it and announces its revision, so the ingress catches up by itself.
import type { RevisionOutcome } from '../model/outcome.ts';
import type { ResourceDocument, StoredResource } from '../model/resources.ts';
import type { ReplicaRegistry } from './replicas.ts';
import type { ClientCertificateInventory } from './inventory.ts';
import { StoreError, type Change, type ChangeListener, type ChangeSet, type ListQuery, type PutOptions, type PutResult, type Store, type WriteOptions } from './store.ts';
import type { ConsoleSessionStore } from './console-sessions.ts';

const RETRY_MS = 2_000;

export class FallbackStore implements Store {
  #current: Store;
  readonly #connect: () => Promise<Store>;
  readonly #onConnected: () => void;
  readonly #listeners = new Set<ChangeListener>();
  readonly #reportListeners = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly replicas: ReplicaRegistry;
  /** The inventory of the store it serves through (the saved one's refuses: it is in the database). */
  readonly inventory: ClientCertificateInventory = {
    recordBatch: (batch) => this.#current.inventory.recordBatch(batch),
    list: (query) => this.#current.inventory.list(query),
    get: (app, thumbprint) => this.#current.inventory.get(app, thumbprint),
    prune: (before) => this.#current.inventory.prune(before),
    expiring: (before, limit) => this.#current.inventory.expiring(before, limit),
  };

  /** The database's, once it answers; until then the console cannot sign anyone in or recognise a session. */
  readonly consoleSessions: ConsoleSessionStore = {
    insert: (session, bounds) => this.#sessions().insert(session, bounds),
    find: (idHash) => this.#sessions().find(idHash),
    touch: (idHash, at) => this.#sessions().touch(idHash, at),
    remove: (idHash) => this.#sessions().remove(idHash),
  };

  #sessions(): ConsoleSessionStore {
    const sessions = this.#current.consoleSessions;
    if (!sessions) throw new StoreError('Unavailable', 'the PostgreSQL store cannot be reached (the console needs it for sessions)');
    return sessions;
  }

  constructor(saved: Store, connect: () => Promise<Store>, onConnected: () => void) {
    this.#current = saved;
    this.#connect = connect;
    this.#onConnected = onConnected;
    // Until the database answers there is no registry to report to: reports wait for it.
    this.replicas = {
      report: (name: string, outcome: RevisionOutcome) => this.#current.replicas?.report(name, outcome) ?? Promise.resolve(),
      remove: (name: string) => this.#current.replicas?.remove(name) ?? Promise.resolve(),
      list: () => this.#current.replicas?.list() ?? Promise.resolve([]),
      onReport: (listener: () => void) => {
        this.#reportListeners.add(listener);
        return () => this.#reportListeners.delete(listener);
      },
    };
    this.#retry();
  }

  /** Whether it still serves the saved configuration (the database has not answered yet). */
  get degraded(): boolean {
    return this.#current.replicas === undefined;
  }

  get(id: string): Promise<StoredResource | undefined> {
    return this.#current.get(id);
  }
  list(query: ListQuery): Promise<StoredResource[]> {
    return this.#current.list(query);
  }
  put(doc: ResourceDocument, options?: PutOptions): Promise<PutResult> {
    return this.#current.put(doc, options);
  }
  update(id: string, change: (current: StoredResource | undefined) => Change | Promise<Change>, options?: WriteOptions): Promise<PutResult> {
    return this.#current.update(id, change, options);
  }
  delete(id: string, options?: WriteOptions): Promise<{ deleted: boolean; revision: number }> {
    return this.#current.delete(id, options);
  }
  getSecret(id: string): Promise<Uint8Array | undefined> {
    return this.#current.getSecret(id);
  }
  revision(): Promise<number> {
    return this.#current.revision();
  }
  /** The database's log continues the mirror's revision (the mirror is one revision's state). */
  changesSince(revision: number): Promise<ChangeSet | undefined> {
    return this.#current.changesSince(revision);
  }
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#listeners.clear();
    await this.#current.close();
  }

  #retry(): void {
    this.#timer = setTimeout(() => {
      this.#connect().then(
        (store) => void this.#switchTo(store),
        () => {
          if (!this.#closed) this.#retry();
        },
      );
    }, RETRY_MS);
    this.#timer.unref();
  }

  async #switchTo(store: Store): Promise<void> {
    if (this.#closed) {
      await store.close();
      return;
    }
    const saved = this.#current;
    this.#current = store;
    store.subscribe((revision) => this.#announce(revision));
    store.replicas?.onReport(() => {
      for (const listener of this.#reportListeners) listener();
    });
    await saved.close();
    this.#onConnected();
    this.#announce(await store.revision());
  }

  #announce(revision: number): void {
    for (const listener of this.#listeners) listener(revision);
  }
}
