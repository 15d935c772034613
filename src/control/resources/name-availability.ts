// POST managedEnvironments/{env}/checkNameAvailability {"name", "type"}: what `az containerapp env
// certificate upload` (and `hostname bind`, for a managed certificate) asks before creating an
// environment certificate. Answered from the store; the name rules are the PUT's own.
import { CERTIFICATE_TYPE, MANAGED_CERTIFICATE_TYPE } from '../../model/resources.ts';
import { isPlainObject } from '../arm/merge-patch.ts';
import { errors } from '../arm/errors.ts';
import type { ArmRequest, ArmResponse, ControlContext } from './context.ts';

/** The child types of an environment whose names can be checked, and their path segment. */
const CHILD_TYPES: Record<string, string> = {
  [CERTIFICATE_TYPE.toLowerCase()]: 'certificates',
  [MANAGED_CERTIFICATE_TYPE.toLowerCase()]: 'managedCertificates',
};

export async function checkEnvironmentChildName(context: ControlContext, request: ArmRequest, environmentId: string): Promise<ArmResponse> {
  if (request.method !== 'POST') throw errors.methodNotAllowed(request.method, request.pathname);
  const body = request.body;
  if (!isPlainObject(body) || typeof body['name'] !== 'string' || typeof body['type'] !== 'string') {
    throw errors.invalidContent("The body must be {\"name\": string, \"type\": string}.");
  }
  const segment = CHILD_TYPES[body['type'].toLowerCase()];
  if (!segment) throw errors.invalidParameter(`The type '${body['type']}' cannot be checked here; use ${Object.keys(CHILD_TYPES).join(' or ')}.`, 'type');
  const taken = (await context.store.get(`${environmentId}/${segment}/${body['name']}`)) !== undefined;
  return {
    status: 200,
    body: taken
      ? { nameAvailable: false, reason: 'AlreadyExists', message: `The name '${body['name']}' is already used in the environment.` }
      : { nameAvailable: true },
  };
}
