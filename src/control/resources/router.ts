// Which handler answers which ARM path and method.
import { APP_TYPE, CERTIFICATE_TYPE, ENVIRONMENT_TYPE, MANAGED_CERTIFICATE_TYPE, certificateId, managedCertificateId, environmentId, appId, resourceGroupId } from '../../model/resources.ts';
import { checkApiVersion } from '../arm/api-versions.ts';
import { errors } from '../arm/errors.ts';
import type { ArmPath } from '../arm/path.ts';
import { appKind, checkAppMembersForVersion } from './apps.ts';
import { certificateKind, readUploadedCertificate } from './certificates.ts';
import { readTrustMaterial } from './trust-material.ts';
import { TRUST_MATERIAL_TYPES, trustMaterialType } from '../../model/trust.ts';
import type { ArmRequest, ArmResponse, ControlContext } from './context.ts';
import { environmentKind } from './environments.ts';
import { runtimeOperationRefused } from './app-runtime.ts';
import { customHostnameAnalysis } from './hostname-analysis.ts';
import { checkEnvironmentChildName } from './name-availability.ts';
import { DEPLOYMENT_TYPE, handleDeployment, listDeployments } from './deployments.ts';
import { managedCertificateKind } from './managed-certificates.ts';
import { readCustomDomainCertificate } from './environment-domain.ts';
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
    case 'certificates':
    case 'managedCertificates': {
      onlyGet(request);
      const environment = await requireEnvironment(context, path);
      const kind = path.kind === 'certificates' ? certificateKind : managedCertificateKind;
      return listPage(request, await Promise.all((await context.store.list({ type: kind.type, scope: environment })).map((doc) => kind.render(context, doc))));
    }
    case 'hostnameAnalysis':
      await requireGroup(context, path.subscription, path.group);
      return customHostnameAnalysis(context, request, path.subscription, path.group, path.name);
    case 'environmentNameCheck':
      return checkEnvironmentChildName(context, request, await requireEnvironment(context, path));
    case 'deployments':
      return listDeployments(context, request, path.subscription, path.group);
    case 'deployment':
      return handleDeployment(context, request, path, handleArmRequest);
    case 'appRuntime':
      throw runtimeOperationRefused(request.method, path.segment, path.name);
    case 'certificate':
    case 'managedCertificate': {
      const environment = await requireEnvironment(context, path);
      const [kind, id] = path.kind === 'certificate' ? [certificateKind, certificateId(environment, path.name)] : [managedCertificateKind, managedCertificateId(environment, path.name)];
      return handleTracked(context, request, kind, { id, name: path.name, group: path.group });
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
        // Trust material (a certgate certificateType) is public: a certificate or a CRL, checked before the write.
        const properties = (request.body as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
        const trust = trustMaterialType(properties['certificateType']);
        const current = await context.store.get(address.id);
        const currentType = current ? String(current.properties['certificateType'] ?? 'ServerSSLCertificate') : undefined;
        if (currentType !== undefined && currentType !== (trust ?? 'ServerSSLCertificate')) {
          // Apps reference a certificate for what it is: a trust anchor silently becoming a CRL (or a server certificate) would change their trust.
          throw errors.invalidParameter(`The certificate '${address.name}' is a ${currentType}; its certificateType cannot change. Upload under another name.`, 'properties.certificateType');
        }
        if (trust !== undefined) return putResource(context, request, kind, address, await readTrustMaterial(trust, properties, context.store, address.id.slice(0, address.id.toLowerCase().lastIndexOf('/certificates/'))));
        if (properties['certificateType'] !== undefined && properties['certificateType'] !== 'ServerSSLCertificate') {
          throw errors.invalidParameter(`certificateType '${String(properties['certificateType'])}' is not supported: use ServerSSLCertificate (a PKCS12) or certgate's ${TRUST_MATERIAL_TYPES.join(', ')}.`, 'properties.certificateType');
        }
        // The PKCS12 is opened before the write (it is slow and may fail): nothing is stored if it fails.
        return putResource(context, request, kind, address, await readUploadedCertificate(request.body));
      }
      if (kind === environmentKind) return putResource(context, request, kind, address, { read: await environmentCertificate(context, request, address) });
      return putResource(context, request, kind, address);
    case 'PATCH':
      if (kind === environmentKind) return patchResource(context, request, kind, address, { read: await environmentCertificate(context, request, address) });
      return patchResource(context, request, kind, address);
    case 'DELETE':
      return deleteResource(context, request, kind, address);
    default:
      throw errors.methodNotAllowed(request.method, request.pathname);
  }
}

/** The wildcard certificate a PUT or PATCH of an environment uploads (customDomainConfiguration), opened before the write. */
async function environmentCertificate(context: ControlContext, request: ArmRequest, address: ResourceAddress) {
  const properties = (request.body as { properties?: { customDomainConfiguration?: unknown } } | undefined)?.properties;
  return readCustomDomainCertificate(properties?.customDomainConfiguration, await context.store.get(address.id));
}

/** The id of the environment a certificate path is under; 404 when it (or its group) does not exist. */
async function requireEnvironment(context: ControlContext, path: { subscription: string; group: string; environment: string }): Promise<string> {
  await requireGroup(context, path.subscription, path.group);
  const environment = environmentId(path.subscription, path.group, path.environment);
  if (!(await context.store.get(environment))) throw errors.notFound(ENVIRONMENT_TYPE, path.environment, path.group);
  return environment;
}

function onlyGet(request: ArmRequest): void {
  if (request.method !== 'GET') throw errors.methodNotAllowed(request.method, request.pathname);
}

function apiFamily(path: ArmPath): 'app' | 'resources' {
  return path.kind === 'collection' || path.kind === 'resource' || path.kind === 'certificates' || path.kind === 'certificate' || path.kind === 'managedCertificates' || path.kind === 'managedCertificate' || path.kind === 'hostnameAnalysis' || path.kind === 'appRuntime' || path.kind === 'environmentNameCheck' ? 'app' : 'resources';
}

function typeName(path: ArmPath): string {
  switch (path.kind) {
    case 'hostnameAnalysis':
    case 'appRuntime':
      return APP_TYPE;
    case 'environmentNameCheck':
      return ENVIRONMENT_TYPE;
    case 'deployments':
    case 'deployment':
      return DEPLOYMENT_TYPE;
    case 'collection':
    case 'resource':
      return path.resourceType === 'containerApps' ? APP_TYPE : ENVIRONMENT_TYPE;
    case 'certificates':
    case 'certificate':
      return CERTIFICATE_TYPE;
    case 'managedCertificates':
    case 'managedCertificate':
      return MANAGED_CERTIFICATE_TYPE;
    case 'group':
    case 'groups':
      return 'Microsoft.Resources/resourceGroups';
    default:
      return 'Microsoft.Resources';
  }
}
