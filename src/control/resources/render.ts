// Resources as ARM returns them: envelope, systemData, and the properties given.
import type { StoredResource } from '../../model/resources.ts';

export function renderTracked(doc: StoredResource, properties: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { id: doc.id, name: doc.name, type: doc.type, location: doc.location };
  if (doc.tags) out['tags'] = doc.tags;
  for (const member of ['kind', 'identity'] as const) if (doc[member] !== undefined) out[member] = doc[member];
  out['systemData'] = doc.systemData;
  out['etag'] = doc.etag;
  out['properties'] = properties;
  return out;
}
