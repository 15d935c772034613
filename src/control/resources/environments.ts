// Microsoft.App/managedEnvironments: a default domain computed once at creation.
import { defaultDomainFor } from '../../model/documents.ts';
import { APP_TYPE, ENVIRONMENT_TYPE, appView, resourceKey, type StoredResource } from '../../model/resources.ts';
import { errors } from '../arm/errors.ts';
import { ENVIRONMENT_SCHEMA } from '../validation/schemas.ts';
import { renderTracked } from './render.ts';
import type { ResourceKind } from './tracked.ts';

const NAME = /^[a-z][a-z0-9-]{0,58}[a-z0-9]$/;

export const environmentKind: ResourceKind = {
  type: ENVIRONMENT_TYPE,
  schema: ENVIRONMENT_SCHEMA,
  readOnlyProperties: ['provisioningState', 'deploymentErrors', 'defaultDomain', 'staticIp', 'eventStreamEndpoint'],
  storedEnvelope: ['kind', 'identity'],
  prepare(context, id, name, body, current) {
    if (!current && !NAME.test(name)) {
      throw errors.invalidParameter(`The environment name '${name}' is not valid: use 2 to 60 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen.`, 'name');
    }
    const workloadProfile = (body.properties?.['ingressConfiguration'] as { workloadProfileName?: string } | undefined)?.workloadProfileName;
    if (workloadProfile !== undefined && workloadProfile !== '') {
      throw errors.invalidParameter('ingressConfiguration.workloadProfileName is not supported: certgate has no workload profiles (its ingress runs in the certgate process). Leave it empty or unset.', 'properties.ingressConfiguration.workloadProfileName');
    }
    const taken = new Set(context.store.list({ type: ENVIRONMENT_TYPE }).filter((env) => resourceKey(env.id) !== resourceKey(id)).map((env) => String(env.properties['defaultDomain']).toLowerCase()));
    const defaultDomain = current ? String(current.properties['defaultDomain']) : defaultDomainFor(id, name, context.baseDomain, (domain) => taken.has(domain));
    return {
      doc: {
        ...body,
        id: current?.id ?? id,
        name: current?.name ?? name,
        type: ENVIRONMENT_TYPE,
        properties: { ...body.properties, defaultDomain },
      },
    };
  },
  render(_context, doc) {
    return renderTracked(doc, { ...doc.properties, provisioningState: 'Succeeded', staticIp: '127.0.0.1' });
  },
  checkDelete(context, doc) {
    const users = appsOfEnvironment(context.store.list({ type: APP_TYPE }), doc.id);
    if (users.length > 0) {
      throw errors.conflict('ManagedEnvironmentHasContainerApps', `The environment '${doc.name}' still has container apps: ${users.map((app) => app.name).join(', ')}. Delete them first.`);
    }
  },
};

export function appsOfEnvironment(apps: readonly StoredResource[], environmentResourceId: string): StoredResource[] {
  return apps.filter((app) => resourceKey(appView(app).environmentId) === resourceKey(environmentResourceId));
}
