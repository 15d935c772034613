// Microsoft.Resources: subscriptions (made at initialisation), resource groups and the provider
// registration az checks before `az containerapp` commands.
import { randomUUID } from 'node:crypto';
import { resourceGroupId, type StoredResource } from '../../model/resources.ts';
import { errors } from '../arm/errors.ts';
import { APP_API_VERSIONS } from '../arm/api-versions.ts';
import { dropNulls, validateBody } from '../validation/validate.ts';
import { RESOURCE_GROUP_SCHEMA } from '../validation/schemas.ts';
import { isPlainObject, mergePatch } from '../arm/merge-patch.ts';
import type { Store } from '../../store/store.ts';
import { createFirstOfType } from '../../store/create-first.ts';
import type { ArmRequest, ArmResponse, ControlContext } from './context.ts';
import { listPage, writeOrThrow } from './tracked.ts';
import { awaitEnforced } from './enforced.ts';

export const SUBSCRIPTION_TYPE = 'Microsoft.Resources/subscriptions';
export const GROUP_TYPE = 'Microsoft.Resources/resourceGroups';

/** The subscription certgate creates on first start; returns every subscription's id. */
export async function ensureDefaultSubscription(store: Store): Promise<string> {
  const id = randomUUID();
  const existing = await createFirstOfType(store, SUBSCRIPTION_TYPE, { id: `/subscriptions/${id}`, name: id, type: SUBSCRIPTION_TYPE, properties: { displayName: 'certgate' } });
  return existing?.name ?? id;
}

export function renderSubscription(context: ControlContext, doc: StoredResource): Record<string, unknown> {
  return {
    id: doc.id,
    subscriptionId: doc.name,
    displayName: doc.properties['displayName'] ?? doc.name,
    state: 'Enabled',
    tenantId: context.tokens.tenantId,
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'certgate', spendingLimit: 'Off' },
    authorizationSource: 'RoleBased',
    managedByTenants: [],
  };
}

export async function requireSubscription(context: ControlContext, subscription: string): Promise<StoredResource> {
  const doc = await context.store.get(`/subscriptions/${subscription}`);
  if (!doc) throw errors.subscriptionNotFound(subscription);
  return doc;
}

export async function requireGroup(context: ControlContext, subscription: string, group: string): Promise<StoredResource> {
  await requireSubscription(context, subscription);
  const doc = await context.store.get(resourceGroupId(subscription, group));
  if (!doc) throw errors.groupNotFound(group);
  return doc;
}

const GROUP_NAME = /^[-\w._()]{1,90}$/;

function renderGroup(doc: StoredResource): Record<string, unknown> {
  const out: Record<string, unknown> = { id: doc.id, name: doc.name, type: GROUP_TYPE, location: doc.location };
  if (doc.tags) out['tags'] = doc.tags;
  if (doc['managedBy'] !== undefined) out['managedBy'] = doc['managedBy'];
  out['properties'] = { provisioningState: 'Succeeded' };
  return out;
}

export async function handleGroup(context: ControlContext, request: ArmRequest, subscription: string, group: string): Promise<ArmResponse> {
  await requireSubscription(context, subscription);
  const id = resourceGroupId(subscription, group);
  switch (request.method) {
    case 'GET': {
      const doc = await context.store.get(id);
      if (!doc) throw errors.groupNotFound(group);
      return { status: 200, body: renderGroup(doc) };
    }
    case 'HEAD':
      return { status: (await context.store.get(id)) ? 204 : 404 };
    case 'PUT':
    case 'PATCH': {
      if (request.method === 'PUT' && (!GROUP_NAME.test(group) || group.endsWith('.'))) {
        throw errors.invalidParameter(`The resource group name '${group}' is not valid: 1 to 90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'.`, 'name');
      }
      if (!isPlainObject(request.body)) throw errors.invalidContent('The request body must be a JSON object.');
      const patch = request.body;
      const result = await writeOrThrow(() =>
        context.store.update(
          id,
          (current) => {
            if (request.method === 'PATCH' && !current) throw errors.groupNotFound(group);
            const input = request.method === 'PUT' ? dropNulls(patch) : mergePatch({ location: current?.location, tags: current?.tags, managedBy: current?.['managedBy'] }, patch);
            const body = validateBody<{ location?: string; tags?: Record<string, string>; managedBy?: string }>(input, RESOURCE_GROUP_SCHEMA);
            if (!body.location) throw errors.invalidContent("The property 'location' is required.", 'location');
            if (current?.location && current.location.toLowerCase() !== body.location.toLowerCase()) {
              throw errors.resourceGroupLocation(group, current.location);
            }
            const doc: Record<string, unknown> = { id: current?.id ?? id, name: current?.name ?? group, type: GROUP_TYPE, location: body.location, properties: {} };
            if (body.tags) doc['tags'] = body.tags;
            if (body.managedBy) doc['managedBy'] = body.managedBy;
            return { doc: doc as unknown as StoredResource };
          },
          { actor: request.actor, ...(request.ifMatch === undefined ? {} : { ifMatch: request.ifMatch }) },
        ),
      );
      await awaitEnforced(context, result.revision, id, group);
      return { status: result.created ? 201 : 200, body: renderGroup(result.resource) };
    }
    case 'DELETE': {
      // Deleting a group deletes everything in it.
      const result = await context.store.delete(id);
      await awaitEnforced(context, result.revision, id, group);
      return { status: result.deleted ? 200 : 204 };
    }
    default:
      throw errors.methodNotAllowed(request.method, request.pathname);
  }
}

export async function listGroups(context: ControlContext, request: ArmRequest, subscription: string): Promise<ArmResponse> {
  await requireSubscription(context, subscription);
  const groups = await context.store.list({ type: GROUP_TYPE, scope: `/subscriptions/${subscription}` });
  return listPage(request, groups.map(renderGroup));
}

const APP_RESOURCE_TYPES = ['containerApps', 'managedEnvironments', 'managedEnvironments/certificates'];

export function renderProvider(subscription: string): Record<string, unknown> {
  return {
    id: `/subscriptions/${subscription}/providers/Microsoft.App`,
    namespace: 'Microsoft.App',
    registrationState: 'Registered',
    registrationPolicy: 'RegistrationRequired',
    resourceTypes: APP_RESOURCE_TYPES.map((resourceType) => ({ resourceType, locations: ['local'], apiVersions: [...APP_API_VERSIONS].reverse() })),
  };
}

export async function handleProvider(context: ControlContext, subscription: string, namespace: string): Promise<ArmResponse> {
  await requireSubscription(context, subscription);
  if (namespace.toLowerCase() !== 'microsoft.app') {
    throw errors.providerNotFound(namespace);
  }
  return { status: 200, body: renderProvider(subscription) };
}
