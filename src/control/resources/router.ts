// Which handler answers which ARM path and method.
import { APP_TYPE, CERTIFICATE_TYPE, ENVIRONMENT_TYPE, certificateId, environmentId, appId, resourceGroupId } from '../../model/resources.ts';
import { checkApiVersion } from '../arm/api-versions.ts';
import { errors } from '../arm/errors.ts';
import type { ArmPath } from '../arm/path.ts';
import { appKind, checkAppMembersForVersion } from './apps.ts';
import { certificateKind, readUploadedCertificate } from './certificates.ts';
import type { ArmRequest, ArmResponse, ControlContext } from './context.ts';
import { environmentKind } from './environments.ts';
import { checkResourceName } from '../validation/limits.ts';
import {
  SUBSCRIPTION_TYPE,
  handleGroup,
  handleProvider,
  listGroups,
  renderProvider,
  renderSubscription,
  requireGroup,
  requireSubscription,
} from './resource-manager.ts';
import { deleteResource, getResource, listPage, patchResource, putResource, type ResourceAddress, type ResourceKind } from './tracked.ts';

export async function handleArmRequest(context: ControlContext, request: ArmRequest): Promise<ArmResponse> {
  const { path } = request;
  checkApiVersion(request.query.get('api-version') ?? undefined, apiFamily(path), typeName(path));
  switch (path.kind) {
    case 'metadata':
      throw errors.noRoute(request.method, request.pathname);
    case 'subscriptions':
      onlyGet(request);
      return listPage(request, (await context.store.list({ type: SUBSCRIPTION_TYPE })).map((doc) => renderSubscription(context, doc)));
    case 'subscription':
      onlyGet(request);
      return { status: 200, body: renderSubscription(context, await requireSubscription(context, path.subscription)) };
    case 'providers':
      onlyGet(request);
      await requireSubscription(context, path.subscription);
      return listPage(request, [renderProvider(path.subscription)]);
    case 'provider':
      onlyGet(request);
      return handleProvider(context, path.subscription, path.namespace);
    case 'groups':
      onlyGet(request);
      return listGroups(context, request, path.subscription);
    case 'group':
      return handleGroup(context, request, path.subscription, path.group);
    case 'collection': {
      onlyGet(request);
      if (path.group === undefined) await requireSubscription(context, path.subscription);
      else await requireGroup(context, path.subscription, path.group);
      const kind = path.resourceType === 'containerApps' ? appKind : environmentKind;
      const scope = path.group === undefined ? `/subscriptions/${path.subscription}` : resourceGroupId(path.subscription, path.group);
      return listPage(request, await Promise.all((await context.store.list({ type: kind.type, scope })).map((doc) => kind.render(context, doc))));
    }
    case 'resource': {
      await requireGroup(context, path.subscription, path.group);
      const kind = path.resourceType === 'containerApps' ? appKind : environmentKind;
      const id = path.resourceType === 'containerApps' ? appId(path.subscription, path.group, path.name) : environmentId(path.subscription, path.group, path.name);
      return handleTracked(context, request, kind, { id, name: path.name, group: path.group });
    }
    case 'certificates': {
      await requireGroup(context, path.subscription, path.group);
      onlyGet(request);
      const environment = environmentId(path.subscription, path.group, path.environment);
      if (!(await context.store.get(environment))) throw errors.notFound(ENVIRONMENT_TYPE, path.environment, path.group);
      return listPage(request, await Promise.all((await context.store.list({ type: CERTIFICATE_TYPE, scope: environment })).map((doc) => certificateKind.render(context, doc))));
    }
    case 'certificate': {
      await requireGroup(context, path.subscription, path.group);
      const environment = environmentId(path.subscription, path.group, path.environment);
      if (!(await context.store.get(environment))) throw errors.notFound(ENVIRONMENT_TYPE, path.environment, path.group);
      return handleTracked(context, request, certificateKind, { id: certificateId(environment, path.name), name: path.name, group: path.group });
    }
  }
}

async function handleTracked(context: ControlContext, request: ArmRequest, kind: ResourceKind, address: ResourceAddress): Promise<ArmResponse> {
  if (kind === appKind && (request.method === 'PUT' || request.method === 'PATCH')) {
    checkAppMembersForVersion(request.query.get('api-version') ?? '', request.body);
  }
  switch (request.method) {
    case 'GET':
      return getResource(context, kind, address);
    case 'PUT':
      checkResourceName(address.name);
      if (kind === certificateKind) {
        // The PKCS12 is opened before the write (it is slow and may fail): nothing is stored if it fails.
        return putResource(context, request, kind, address, await readUploadedCertificate(request.body));
      }
      return putResource(context, request, kind, address);
    case 'PATCH':
      return patchResource(context, request, kind, address);
    case 'DELETE':
      return deleteResource(context, request, kind, address);
    default:
      throw errors.methodNotAllowed(request.method, request.pathname);
  }
}

function onlyGet(request: ArmRequest): void {
  if (request.method !== 'GET') throw errors.methodNotAllowed(request.method, request.pathname);
}

function apiFamily(path: ArmPath): 'app' | 'resources' {
  return path.kind === 'collection' || path.kind === 'resource' || path.kind === 'certificates' || path.kind === 'certificate' ? 'app' : 'resources';
}

function typeName(path: ArmPath): string {
  switch (path.kind) {
    case 'collection':
    case 'resource':
      return path.resourceType === 'containerApps' ? APP_TYPE : ENVIRONMENT_TYPE;
    case 'certificates':
    case 'certificate':
      return CERTIFICATE_TYPE;
    case 'group':
    case 'groups':
      return 'Microsoft.Resources/resourceGroups';
    default:
      return 'Microsoft.Resources';
  }
}
