// What every backend does the same way on a write: preconditions (If-Match / If-None-Match), the
// etag and systemData a stored document gets, and the key prefix of a subtree.
import { randomUUID } from 'node:crypto';
import { resourceKey, type ResourceDocument, type StoredResource } from '../model/resources.ts';
import { StoreError, type WriteOptions } from './store.ts';

export function checkPreconditions(id: string, current: StoredResource | undefined, options: WriteOptions): void {
  if (options.ifNoneMatch === '*' && current) {
    throw new StoreError('PreconditionFailed', `${id} already exists`);
  }
  if (options.ifMatch !== undefined) {
    if (!current) throw new StoreError('PreconditionFailed', `${id} does not exist`);
    if (options.ifMatch !== '*' && options.ifMatch !== current.etag) {
      throw new StoreError('PreconditionFailed', `the etag of ${id} is ${current.etag}, not ${options.ifMatch}`);
    }
  }
}

/** The document as stored: a new etag, systemData carried over from `current`. */
export function stampDocument(id: string, next: ResourceDocument, current: StoredResource | undefined, options: WriteOptions): StoredResource {
  if (resourceKey(next.id) !== resourceKey(id)) throw new Error(`update of ${id} returned a document for ${next.id}`);
  const now = (options.now ?? new Date()).toISOString();
  return {
    ...next,
    etag: `"${randomUUID()}"`,
    systemData: {
      createdAt: current?.systemData.createdAt ?? now,
      createdBy: current?.systemData.createdBy ?? options.actor ?? 'certgate',
      createdByType: current?.systemData.createdByType ?? 'Application',
      lastModifiedAt: now,
      lastModifiedBy: options.actor ?? 'certgate',
      lastModifiedByType: 'Application',
    },
  };
}

/** The key prefix of everything below `id`. */
export function scopePrefix(id: string): string {
  return `${resourceKey(id).replace(/\/+$/, '')}/`;
}
