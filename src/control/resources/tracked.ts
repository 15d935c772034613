// The generic lifecycle of a tracked ARM resource (environments, certificates, container apps):
// PUT create-or-replace, PATCH merge patch, GET, DELETE, list with paging. Each kind supplies its
// schema, its semantic checks and how it is rendered. A write is validated completely before the
// store sees it (a rejected request changes nothing), is one store transaction, and is answered
// only once the ingress enforces it (an error when it cannot: enforced.ts).
import { isPlainObject, mergePatch } from '../arm/merge-patch.ts';
import { errors } from '../arm/errors.ts';
import { dropNulls, validateBody } from '../validation/validate.ts';
import { StoreError, type WriteOptions } from '../../store/store.ts';
import type { ResourceDocument, StoredResource } from '../../model/resources.ts';
import type { ArmRequest, ArmResponse, ControlContext } from './context.ts';
import { awaitEnforced } from './enforced.ts';

type Schema = Record<string, unknown>;
type MaybePromise<T> = T | Promise<T>;

/** A validated request body in ARM shape. */
export interface ResourceBody {
  readonly location?: string;
  readonly tags?: Record<string, string>;
  readonly properties?: Record<string, unknown>;
  readonly [member: string]: unknown;
}

export interface ResourceKind {
  /** The ARM type, e.g. Microsoft.App/containerApps. */
  readonly type: string;
  readonly schema: Schema;
  /** Properties the server computes; clients may send them back, they are never stored from input. */
  readonly readOnlyProperties: readonly string[];
  /** Envelope members stored besides location/tags (e.g. identity, kind). */
  readonly storedEnvelope?: readonly string[];
  /**
   * Checks what a schema cannot (references, uniqueness) and returns the document to store. It runs
   * inside the store's read-modify-write (Store.update): writes are serialised around it, so what it
   * reads through `context.store` is what the write is based on.
   * `read` is what the router read from the request before the write (slow, fallible work: a PKCS12 opened).
   */
  prepare(context: ControlContext, id: string, name: string, body: ResourceBody, current: StoredResource | undefined, read?: unknown): MaybePromise<{ doc: ResourceDocument; secret?: Uint8Array }>;
  render(context: ControlContext, doc: StoredResource): MaybePromise<Record<string, unknown>>;
  /** Refuses a delete (e.g. an environment that apps still use). */
  checkDelete?(context: ControlContext, doc: StoredResource): MaybePromise<void>;
  /** Members a PATCH may change; undefined: any. */
  readonly patchable?: readonly string[];
}

export interface ResourceAddress {
  readonly id: string;
  readonly name: string;
  /** For messages: "Microsoft.App/containerApps/name under resource group 'rg'". */
  readonly group: string;
}

/** What the router read from a request before the write: a secret and facts to store, or a kind's own reading (`read`). */
export interface PreparedWrite {
  readonly secret?: Uint8Array;
  readonly properties?: Record<string, unknown>;
  readonly read?: unknown;
}

export async function putResource(context: ControlContext, request: ArmRequest, kind: ResourceKind, address: ResourceAddress, prepared?: PreparedWrite): Promise<ArmResponse> {
  const body = requireObjectBody(request.body);
  const validated = validateBody<ResourceBody>(dropNulls(body), kind.schema);
  checkEnvelope(validated, kind, address);
  if (!validated.location) throw errors.invalidContent('The property \'location\' is required.', 'location');
  const result = await writeOrThrow(() =>
    context.store.update(
      address.id,
      async (current) => {
        if (current && current.location && validated.location && normalizeLocation(current.location) !== normalizeLocation(validated.location)) {
          throw errors.invalidLocation(`The resource '${address.name}' already exists in location '${current.location}'; the location of a resource cannot be changed.`);
        }
        const input = stripReadOnly(validated, kind);
        // What the server worked out from the body (a certificate's facts) goes in after read-only members are dropped.
        const withPrepared = prepared?.properties ? { ...input, properties: { ...input.properties, ...prepared.properties } } : input;
        const { doc, secret } = await kind.prepare(context, address.id, address.name, withPrepared, current, prepared?.read);
        const newSecret = prepared?.secret ?? secret;
        return newSecret ? { doc, secret: newSecret } : { doc };
      },
      writeOptions(request),
    ),
  );
  const diagnostics = await awaitEnforced(context, result.revision, address.id, address.name);
  return { status: result.created ? 201 : 200, body: await kind.render(context, result.resource), headers: { ...diagnostics, etag: result.resource.etag } };
}

export async function patchResource(context: ControlContext, request: ArmRequest, kind: ResourceKind, address: ResourceAddress, prepared?: PreparedWrite): Promise<ArmResponse> {
  const patch = requireObjectBody(request.body);
  if (kind.patchable) {
    for (const member of Object.keys(patch)) {
      if (!kind.patchable.includes(member)) {
        throw errors.invalidContent(`The property '${member}' cannot be changed by PATCH on ${kind.type}; PATCH accepts: ${kind.patchable.join(', ')}.`, member);
      }
    }
  }
  for (const member of ['name', 'type', 'id'] as const) {
    if (member in patch) {
      const value = patch[member];
      const expected = member === 'id' ? address.id : member === 'name' ? address.name : kind.type;
      if (typeof value !== 'string' || value.toLowerCase() !== expected.toLowerCase()) {
        throw errors.invalidContent(`The property '${member}' of a resource cannot be changed.`, member);
      }
    }
  }
  const result = await writeOrThrow(() =>
    context.store.update(
      address.id,
      async (current) => {
        if (!current) throw errors.notFound(kind.type, address.name, address.group);
        // Nulls left after the merge sit inside arrays (which a patch replaces whole): absent, as in a PUT
        // (az's `ingress access-restriction set` sends `"description": null`).
        const merged = dropNulls(mergePatch(writableView(current, kind), patch));
        const validated = validateBody<ResourceBody>(merged, kind.schema);
        if (validated.location && current.location && normalizeLocation(validated.location) !== normalizeLocation(current.location)) {
          throw errors.invalidLocation(`The location of '${address.name}' is '${current.location}' and cannot be changed.`);
        }
        const { doc, secret } = await kind.prepare(context, address.id, address.name, stripReadOnly(validated, kind), current, prepared?.read);
        return secret ? { doc, secret } : { doc };
      },
      writeOptions(request),
    ),
  );
  const diagnostics = await awaitEnforced(context, result.revision, address.id, address.name);
  return { status: 200, body: await kind.render(context, result.resource), headers: { ...diagnostics, etag: result.resource.etag } };
}

export async function getResource(context: ControlContext, kind: ResourceKind, address: ResourceAddress): Promise<ArmResponse> {
  const doc = await context.store.get(address.id);
  if (!doc || doc.type.toLowerCase() !== kind.type.toLowerCase()) throw errors.notFound(kind.type, address.name, address.group);
  return { status: 200, body: await kind.render(context, doc), headers: { etag: doc.etag } };
}

export async function deleteResource(context: ControlContext, request: ArmRequest, kind: ResourceKind, address: ResourceAddress): Promise<ArmResponse> {
  const doc = await context.store.get(address.id);
  if (!doc) {
    if (request.ifMatch !== undefined && request.ifMatch !== '*') throw errors.preconditionFailed(`${address.id} does not exist.`);
    return { status: 204 };
  }
  await kind.checkDelete?.(context, doc);
  const result = await writeOrThrow(() => context.store.delete(address.id, request.ifMatch === undefined ? {} : { ifMatch: request.ifMatch }));
  const diagnostics = await awaitEnforced(context, result.revision, address.id, address.name);
  return { status: result.deleted ? 200 : 204, headers: diagnostics };
}

const PAGE_SIZE = 100;

/** `{"value": [...], "nextLink"?}`: pages of $top (default 100) items, continued by $skiptoken. */
export function listPage(request: ArmRequest, items: readonly unknown[]): ArmResponse {
  const top = Number(request.query.get('$top') ?? PAGE_SIZE);
  const size = Number.isInteger(top) && top > 0 ? Math.min(top, 1000) : PAGE_SIZE;
  const skip = Number(request.query.get('$skiptoken') ?? 0);
  const start = Number.isInteger(skip) && skip >= 0 ? skip : 0;
  const value = items.slice(start, start + size);
  if (start + size >= items.length) return { status: 200, body: { value } };
  const query = new URLSearchParams(request.query);
  query.set('$skiptoken', String(start + size));
  return { status: 200, body: { value, nextLink: `${request.baseUrl}${request.pathname}?${query.toString()}` } };
}

function requireObjectBody(body: unknown): Record<string, unknown> {
  if (body === undefined) throw errors.invalidContent('The request body is required.');
  if (!isPlainObject(body)) throw errors.invalidContent('The request body must be a JSON object.');
  return body;
}

function checkEnvelope(body: ResourceBody, kind: ResourceKind, address: ResourceAddress): void {
  if (body['name'] !== undefined && String(body['name']).toLowerCase() !== address.name.toLowerCase()) {
    throw errors.invalidContent(`The name '${String(body['name'])}' in the body does not match '${address.name}' in the URL.`, 'name');
  }
  if (body['type'] !== undefined && String(body['type']).toLowerCase() !== kind.type.toLowerCase()) {
    throw errors.invalidContent(`The type '${String(body['type'])}' in the body does not match '${kind.type}'.`, 'type');
  }
  if (body['id'] !== undefined && String(body['id']).toLowerCase() !== address.id.toLowerCase()) {
    throw errors.invalidContent(`The id in the body does not match the URL.`, 'id');
  }
}

function normalizeLocation(location: string): string {
  return location.toLowerCase().replace(/\s+/g, '');
}

/** The stored document as a client could have PUT it: what a PATCH merges into. */
function writableView(doc: StoredResource, kind: ResourceKind): ResourceBody {
  const view: Record<string, unknown> = { location: doc.location, properties: doc.properties };
  if (doc.tags) view['tags'] = doc.tags;
  for (const member of kind.storedEnvelope ?? []) if (doc[member] !== undefined) view[member] = doc[member];
  return view;
}

function stripReadOnly(body: ResourceBody, kind: ResourceKind): ResourceBody {
  const properties = { ...body.properties };
  for (const name of kind.readOnlyProperties) delete properties[name];
  const out: Record<string, unknown> = { location: body.location, properties };
  if (body.tags) out['tags'] = body.tags;
  for (const member of kind.storedEnvelope ?? []) if (body[member] !== undefined) out[member] = body[member];
  return out;
}

function writeOptions(request: ArmRequest): WriteOptions {
  return {
    actor: request.actor,
    ...(request.ifMatch === undefined ? {} : { ifMatch: request.ifMatch }),
    ...(request.ifNoneMatch === '*' ? { ifNoneMatch: '*' as const } : {}),
  };
}

/** Runs a store write, turning a failed If-Match / If-None-Match into ARM's 412. */
export async function writeOrThrow<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof StoreError && error.code === 'PreconditionFailed') throw errors.preconditionFailed(error.message);
    throw error;
  }
}
