// "Create it unless one exists", atomic on a store several replicas share: replicas starting
// together on an empty database must agree on one default subscription and one administrator.
// The check runs inside the read-modify-write, where writes are serialised (Store.update).
import type { ResourceDocument, StoredResource } from '../model/resources.ts';
import type { Store } from './store.ts';

class AlreadyThere extends Error {
  readonly resource: StoredResource;
  constructor(resource: StoredResource) {
    super('a resource of this type exists');
    this.resource = resource;
  }
}

/** Writes `doc` (with `secret`) unless a resource of `type` exists; returns the existing one, or undefined when `doc` was written. */
export async function createFirstOfType(store: Store, type: string, doc: ResourceDocument, secret?: Uint8Array): Promise<StoredResource | undefined> {
  const [existing] = await store.list({ type });
  if (existing) return existing;
  try {
    await store.update(doc.id, async () => {
      const [raced] = await store.list({ type });
      if (raced) throw new AlreadyThere(raced);
      return secret ? { doc, secret } : { doc };
    });
    return undefined;
  } catch (error) {
    if (error instanceof AlreadyThere) return error.resource;
    throw error;
  }
}
