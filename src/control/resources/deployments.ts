// Microsoft.Resources/deployments at resource-group scope: what `az deployment group create` and
// the SDKs use. PUT validates the template (deployments/template.ts) and answers 201 Accepted with
// an Azure-AsyncOperation URL; the deployment then runs in the background, one resource after the
// other in dependency order, each applied through the same handlers as a REST call (validation,
// semantic checks, waiting until the ingress enforces it). The first failing resource stops it
// (incremental mode: the resources before it stay). GET, the operations list, validate, and the
// operation status az polls. The record is stored (persisted), never the template or secure values.
import { randomUUID, createHash } from 'node:crypto';
import { APP_TYPE, CERTIFICATE_TYPE, ENVIRONMENT_TYPE, resourceGroupId, resourceKey, type StoredResource } from '../../model/resources.ts';
import { ArmError, errors } from '../arm/errors.ts';
import { isPlainObject } from '../arm/merge-patch.ts';
import { parseArmPath } from '../arm/path.ts';
import { planDeployment, TemplateError, type DeploymentPlan, type PlannedResource } from '../deployments/template.ts';
import type { ArmRequest, ArmResponse, ControlContext } from './context.ts';
import { requireGroup } from './resource-manager.ts';
import { listPage } from './tracked.ts';

export const DEPLOYMENT_TYPE = 'Microsoft.Resources/deployments';
/** Resource types a template may deploy. */
const DEPLOYABLE = [ENVIRONMENT_TYPE, CERTIFICATE_TYPE, APP_TYPE];
/** Deployments running at once, in this process (each applies its resources one at a time). */
const MAX_RUNNING = 4;
/** ARM keeps 800 deployments per group; certgate deletes the oldest finished ones past that. */
const MAX_HISTORY = 800;
const running = new Set<string>();

type Dispatch = (context: ControlContext, request: ArmRequest) => Promise<ArmResponse>;
type Path = { subscription: string; group: string; name: string; sub?: string; operation?: string };

interface Operation {
  operationId: string;
  provisioningState: 'Succeeded' | 'Failed';
  timestamp: string;
  duration: string;
  statusCode: string;
  statusMessage?: unknown;
  targetResource: { id: string; resourceType: string; resourceName: string };
}

export async function listDeployments(context: ControlContext, request: ArmRequest, subscription: string, group: string): Promise<ArmResponse> {
  if (request.method !== 'GET') throw errors.methodNotAllowed(request.method, request.pathname);
  await requireGroup(context, subscription, group);
  const docs = await context.store.list({ type: DEPLOYMENT_TYPE, scope: resourceGroupId(subscription, group) });
  return listPage(request, docs.map(render));
}

export async function handleDeployment(context: ControlContext, request: ArmRequest, path: Path, dispatch: Dispatch): Promise<ArmResponse> {
  const groupDoc = await requireGroup(context, path.subscription, path.group);
  const id = `${resourceGroupId(path.subscription, path.group)}/providers/${DEPLOYMENT_TYPE}/${path.name}`;
  const method = request.method;
  if (path.sub === 'validate') {
    if (method !== 'POST') throw errors.methodNotAllowed(method, request.pathname);
    let prepared: ReturnType<typeof prepare>;
    try {
      prepared = prepare(context, request, groupDoc);
    } catch (error) {
      // The validation result carries the error (ARM's DeploymentValidateResult): az 2.74 prints it
      // from a 200, while a 400 makes it fail reading the body ("content … already consumed").
      if (error instanceof ArmError && error.status === 400) return { status: 200, body: { error: error.toJSON().error } };
      throw error;
    }
    const { plan, mode } = prepared;
    const properties = { provisioningState: 'Succeeded', mode, timestamp: new Date().toISOString(), parameters: plan.parameters, templateHash: templateHash(request), validatedResources: plan.resources.map((resource) => ({ id: resource.id })) };
    return { status: 200, body: { id, name: path.name, type: DEPLOYMENT_TYPE, properties } };
  }
  if (path.sub === 'cancel') throw errors.methodNotAllowed(method, request.pathname);
  if (path.sub === undefined && method === 'PUT') return startDeployment(context, request, id, path, groupDoc, dispatch);
  if (path.sub === undefined && method === 'DELETE') {
    if (running.has(resourceKey(id))) throw errors.deploymentActive(path.name);
    const result = await context.store.delete(id);
    return { status: result.deleted ? 200 : 204 };
  }
  if (method !== 'GET' && !(method === 'HEAD' && path.sub === undefined)) throw errors.methodNotAllowed(method, request.pathname);
  const doc = await context.store.get(id);
  if (!doc || doc.type !== DEPLOYMENT_TYPE) {
    if (method === 'HEAD') return { status: 404 };
    throw errors.deploymentNotFound(path.name, path.group);
  }
  if (method === 'HEAD') return { status: 204 };
  switch (path.sub) {
    case undefined:
      return { status: 200, body: render(doc) };
    case 'operations': {
      const operations = ((doc['operations'] as Operation[] | undefined) ?? []).map((operation) => renderOperation(id, operation));
      if (path.operation === undefined) return listPage(request, operations);
      const found = operations.find((operation) => operation.operationId === path.operation);
      if (!found) throw errors.notFound(`${DEPLOYMENT_TYPE}/operations`, `${path.name}/${path.operation}`, path.group);
      return { status: 200, body: found };
    }
    case 'operationStatuses': {
      const properties = renderedProperties(doc);
      if (path.operation !== properties['correlationId']) throw errors.notFound(`${DEPLOYMENT_TYPE}/operationStatuses`, `${path.name}/${path.operation}`, path.group);
      const status = String(properties['provisioningState']);
      const done = status === 'Succeeded' || status === 'Failed';
      return {
        status: 200,
        body: { id: request.pathname, name: path.operation, status, startTime: properties['timestamp'], ...(properties['error'] ? { error: properties['error'] } : {}) },
        ...(done ? {} : { headers: { 'retry-after': '1' } }),
      };
    }
    default:
      throw errors.methodNotAllowed(method, request.pathname);
  }
}

function prepare(context: ControlContext, request: ArmRequest, groupDoc: StoredResource): { plan: DeploymentPlan; mode: string } {
  const body = request.body;
  if (!isPlainObject(body) || !isPlainObject(body['properties'])) throw errors.invalidContent("The request body must be {\"properties\": {\"template\": …, \"parameters\": …, \"mode\": \"Incremental\"}}.", 'properties');
  const properties = body['properties'];
  for (const member of Object.keys(properties)) {
    if (!['template', 'parameters', 'mode', 'debugSetting', 'expressionEvaluationOptions', 'validationLevel'].includes(member)) {
      // templateLink, parametersLink, onErrorDeployment: certgate fetches no URL and does not roll back.
      throw errors.invalidParameter(`'properties.${member}' is not supported by certgate: give the template inline (az deployment group create --template-file) and no rollback.`, `properties.${member}`);
    }
  }
  const mode = String(properties['mode'] ?? 'Incremental');
  if (mode.toLowerCase() !== 'incremental') {
    throw errors.invalidParameter(`The deployment mode '${mode}' is not supported by certgate: only Incremental (Complete would delete what the template does not name).`, 'properties.mode');
  }
  if (properties['template'] === undefined) throw errors.invalidContent("'properties.template' is required (templateLink is not supported).", 'properties.template');
  try {
    const plan = planDeployment(properties['template'], properties['parameters'], {
      subscriptionId: groupDoc.id.split('/')[2]!,
      tenantId: context.tokens.tenantId,
      group: { id: groupDoc.id, name: groupDoc.name, location: String(groupDoc.location ?? 'local') },
    }, DEPLOYABLE);
    return { plan, mode: 'Incremental' };
  } catch (error) {
    if (error instanceof TemplateError) throw errors.invalidTemplate(error.message, error.target);
    throw error;
  }
}

async function startDeployment(context: ControlContext, request: ArmRequest, id: string, path: Path, groupDoc: StoredResource, dispatch: Dispatch): Promise<ArmResponse> {
  const key = resourceKey(id);
  if (running.has(key)) throw errors.deploymentActive(path.name);
  const { plan, mode } = prepare(context, request, groupDoc);
  if (running.size >= MAX_RUNNING) throw errors.tooManyDeployments(MAX_RUNNING);
  running.add(key);
  try {
    const existing = await context.store.get(id);
    const correlationId = randomUUID();
    const started = new Date();
    const properties = {
      provisioningState: 'Accepted', mode, timestamp: started.toISOString(), correlationId, parameters: plan.parameters,
      templateHash: templateHash(request), outputResources: [], dependencies: dependenciesOf(plan.resources),
    };
    const record = { id, name: path.name, type: DEPLOYMENT_TYPE, properties, operations: [] };
    await context.store.put(record, { actor: request.actor });
    await pruneHistory(context, groupDoc.id, key);
    // The answer shows the deployment as accepted: rendered before the run starts changing the record.
    const accepted = structuredClone(renderParts(record));
    void run(context, request, record, plan, started, dispatch).finally(() => running.delete(key));
    const apiVersion = request.query.get('api-version') ?? '2024-03-01';
    return {
      status: existing ? 200 : 201,
      body: accepted,
      headers: {
        'azure-asyncoperation': `${request.baseUrl}${id}/operationStatuses/${correlationId}?api-version=${encodeURIComponent(apiVersion)}`,
        'retry-after': '1',
      },
    };
  } catch (error) {
    running.delete(key);
    throw error;
  }
}

/** Applies the plan's resources in order; records each as an operation; stops at the first failure. */
async function run(context: ControlContext, request: ArmRequest, record: { id: string; name: string; properties: Record<string, unknown>; operations: Operation[] }, plan: DeploymentPlan, started: Date, dispatch: Dispatch): Promise<void> {
  const save = async (properties: Record<string, unknown>) => {
    Object.assign(record.properties, properties);
    await context.store.put({ ...record, type: DEPLOYMENT_TYPE, properties: { ...record.properties }, operations: [...record.operations] }, { actor: request.actor });
  };
  const reference = (cache: Map<string, unknown>) => (id: string, _apiVersion: string | undefined, full: boolean) => {
    const found = cache.get(resourceKey(id));
    if (found === undefined) throw new TemplateError(`reference('${id}'): the resource is not deployed (yet); add it to dependsOn, or deploy it first.`, 'reference');
    return full ? found : (found as { properties?: unknown }).properties;
  };
  const deployed = new Map<string, unknown>();
  try {
    await save({ provisioningState: 'Running' });
    for (const resource of plan.resources) {
      const at = new Date();
      const operation = (state: Operation['provisioningState'], statusCode: string, statusMessage?: unknown): Operation => ({
        operationId: randomUUID().replaceAll('-', '').slice(0, 16).toUpperCase(), provisioningState: state, timestamp: new Date().toISOString(),
        duration: isoDuration(Date.now() - at.getTime()), statusCode, ...(statusMessage === undefined ? {} : { statusMessage }),
        targetResource: { id: resource.id, resourceType: resource.type, resourceName: resource.name },
      });
      try {
        for (const dep of resource.dependsOn) if (!deployed.has(resourceKey(dep))) deployed.set(resourceKey(dep), await readBack(context, request, dep, dispatch));
        const body = plan.body(resource, reference(deployed));
        const response = await dispatch(context, resourceRequest(request, resource, 'PUT', body));
        deployed.set(resourceKey(resource.id), response.body);
        record.operations.push(operation('Succeeded', response.status === 201 ? 'Created' : 'OK'));
        (record.properties['outputResources'] as { id: string }[]).push({ id: resource.id });
        await save({});
      } catch (error) {
        const detail = errorOf(error);
        record.operations.push(operation('Failed', error instanceof ArmError ? statusText(error.status) : 'BadRequest', { error: detail }));
        await save({
          provisioningState: 'Failed',
          duration: isoDuration(Date.now() - started.getTime()),
          error: {
            code: 'DeploymentFailed',
            target: resource.id,
            message: `At least one resource deployment operation failed: the resource '${resource.name}' (${resource.type}, ${resource.path}) failed: ${detail.code}: ${detail.message.replace(/\.$/, '')}. The resources before it stay deployed. List the deployment operations for details.`,
            details: [{ code: detail.code, message: detail.message, target: resource.id }],
          },
        });
        return;
      }
    }
    const final = plan.outputs(reference(await readAll(context, request, plan, deployed, dispatch)));
    await save({ provisioningState: 'Succeeded', duration: isoDuration(Date.now() - started.getTime()), outputs: final });
  } catch (error) {
    // A failure outside any resource (outputs, the store): the deployment fails with it.
    const detail = errorOf(error);
    await save({ provisioningState: 'Failed', duration: isoDuration(Date.now() - started.getTime()), error: { code: 'DeploymentFailed', message: `${detail.code}: ${detail.message}`, details: [detail] } }).catch(() => undefined);
  }
}

async function readAll(context: ControlContext, request: ArmRequest, plan: DeploymentPlan, deployed: Map<string, unknown>, dispatch: Dispatch): Promise<Map<string, unknown>> {
  for (const resource of plan.resources) deployed.set(resourceKey(resource.id), await readBack(context, request, resource.id, dispatch));
  return deployed;
}

/** A resource as GET renders it (for reference()). */
async function readBack(context: ControlContext, request: ArmRequest, id: string, dispatch: Dispatch): Promise<unknown> {
  const path = parseArmPath(id);
  if (!path) return undefined;
  const response = await dispatch(context, { ...request, method: 'GET', path, pathname: id, query: new URLSearchParams({ 'api-version': '2025-01-01' }), body: undefined, ifMatch: undefined, ifNoneMatch: undefined });
  return response.body;
}

function resourceRequest(request: ArmRequest, resource: PlannedResource, method: string, body: unknown): ArmRequest {
  const path = parseArmPath(resource.id);
  if (!path) throw errors.invalidTemplate(`The resource id '${resource.id}' is not one certgate serves.`, resource.path);
  return { ...request, method, path, pathname: resource.id, query: new URLSearchParams({ 'api-version': resource.apiVersion }), body, ifMatch: undefined, ifNoneMatch: undefined };
}

function errorOf(error: unknown): { code: string; message: string; target?: string } {
  if (error instanceof ArmError) return error.toJSON().error;
  if (error instanceof TemplateError) return { code: 'InvalidTemplate', message: error.message, target: error.target };
  return { code: 'InternalServerError', message: 'An internal error occurred; see the server log.' };
}

function statusText(status: number): string {
  return ({ 400: 'BadRequest', 404: 'NotFound', 409: 'Conflict', 412: 'PreconditionFailed', 500: 'InternalServerError' } as Record<number, string>)[status] ?? String(status);
}

async function pruneHistory(context: ControlContext, groupId: string, keep: string): Promise<void> {
  const all = await context.store.list({ type: DEPLOYMENT_TYPE, scope: groupId });
  if (all.length <= MAX_HISTORY) return;
  const finished = all
    .filter((doc) => resourceKey(doc.id) !== keep && !running.has(resourceKey(doc.id)))
    .sort((a, b) => String(a.properties['timestamp']).localeCompare(String(b.properties['timestamp'])));
  for (const doc of finished.slice(0, all.length - MAX_HISTORY)) await context.store.delete(doc.id);
}

function dependenciesOf(resources: readonly PlannedResource[]): unknown[] {
  return resources
    .filter((resource) => resource.dependsOn.length > 0)
    .map((resource) => ({
      id: resource.id, resourceType: resource.type, resourceName: resource.name,
      dependsOn: resource.dependsOn.map((dep) => ({ id: dep, resourceType: resources.find((r) => r.id === dep)?.type, resourceName: resources.find((r) => r.id === dep)?.name })),
    }));
}

function templateHash(request: ArmRequest): string {
  const template = (request.body as { properties?: { template?: unknown } }).properties?.template;
  return BigInt(`0x${createHash('sha256').update(JSON.stringify(template ?? null)).digest('hex').slice(0, 15)}`).toString();
}

function isoDuration(ms: number): string {
  return `PT${(ms / 1000).toFixed(3)}S`;
}

/** A deployment whose run is not in this process (certgate restarted while it ran) reads as failed. */
function renderedProperties(doc: StoredResource): Record<string, unknown> {
  const properties = { ...doc.properties };
  const state = String(properties['provisioningState']);
  if ((state === 'Accepted' || state === 'Running') && !running.has(resourceKey(doc.id))) {
    properties['provisioningState'] = 'Failed';
    properties['error'] = { code: 'DeploymentFailed', message: 'certgate restarted while this deployment ran; the resources deployed before stay. Deploy it again.' };
  }
  return properties;
}

function render(doc: StoredResource): Record<string, unknown> {
  return renderParts({ id: doc.id, name: doc.name, properties: renderedProperties(doc) });
}

function renderParts(doc: { id: string; name: string; properties: Record<string, unknown> }): Record<string, unknown> {
  return { id: doc.id, name: doc.name, type: DEPLOYMENT_TYPE, properties: { ...doc.properties } };
}

function renderOperation(deploymentId: string, operation: Operation): Record<string, unknown> & { operationId: string } {
  const { operationId, ...properties } = operation;
  return { id: `${deploymentId}/operations/${operationId}`, operationId, properties: { provisioningOperation: 'Create', trackingId: operationId, ...properties } };
}
