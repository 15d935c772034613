// Microsoft.App/managedEnvironments: a default domain computed once at creation.
import { defaultDomainFor } from '../../model/documents.ts';
import { APP_TYPE, ENVIRONMENT_TYPE, appView, resourceKey, type StoredResource } from '../../model/resources.ts';
import { errors } from '../arm/errors.ts';
import { ENVIRONMENT_SCHEMA } from '../validation/schemas.ts';
import { ENVIRONMENT_INGRESS_MEMBERS, refusedMember } from '../validation/ingress-members.ts';
import { refusedEnvironmentMember, withoutEnvironmentSecrets } from '../validation/environment-members.ts';
import { renderTracked } from './render.ts';
import type { ResourceKind } from './tracked.ts';

const NAME = /^[a-z][a-z0-9-]{0,58}[a-z0-9]$/;

export const environmentKind: ResourceKind = {
  type: ENVIRONMENT_TYPE,
  schema: ENVIRONMENT_SCHEMA,
  readOnlyProperties: ['provisioningState', 'deploymentErrors', 'defaultDomain', 'staticIp', 'eventStreamEndpoint'],
  storedEnvelope: ['kind', 'identity'],
  async prepare(context, id, name, body, current) {
    if (!current && !NAME.test(name)) {
      throw errors.invalidParameter(`The environment name '${name}' is not valid: use 2 to 60 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen.`, 'name');
    }
    // Never stored and ignored: a network or security claim certgate does not enforce is a 400.
    const refused = refusedEnvironmentMember(body.properties) ?? refusedMember(body.properties?.['ingressConfiguration'] as Record<string, unknown> | undefined, ENVIRONMENT_INGRESS_MEMBERS, 'properties.ingressConfiguration');
    if (refused) throw refused;
    const taken = new Set((await context.store.list({ type: ENVIRONMENT_TYPE })).filter((env) => resourceKey(env.id) !== resourceKey(id)).map((env) => String(env.properties['defaultDomain']).toLowerCase()));
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
    // Secrets (Dapr AI keys, the Log Analytics shared key) are never returned, as in ACA.
    return renderTracked(doc, { ...withoutEnvironmentSecrets(doc.properties), provisioningState: 'Succeeded', staticIp: '127.0.0.1' });
  },
  async checkDelete(context, doc) {
    const users = appsOfEnvironment(await context.store.list({ type: APP_TYPE }), doc.id);
    if (users.length > 0) {
      throw errors.conflict('ManagedEnvironmentHasContainerApps', `The environment '${doc.name}' still has container apps: ${users.map((app) => app.name).join(', ')}. Delete them first.`);
    }
  },
};

export function appsOfEnvironment(apps: readonly StoredResource[], environmentResourceId: string): StoredResource[] {
  return apps.filter((app) => resourceKey(appView(app).environmentId) === resourceKey(environmentResourceId));
}
