// Microsoft.App/managedEnvironments: a default domain computed once at creation, and the
// environment's own DNS suffix with its wildcard certificate (environment-domain.ts).
import { defaultDomainFor } from '../../model/documents.ts';
import { appFqdn, hostNamesOf } from '../../model/hostnames.ts';
import { customDomainConfigurationToStore, storedDnsSuffix, type CustomDomainCertificate } from './environment-domain.ts';
import { APP_TYPE, ENVIRONMENT_TYPE, appView, resourceKey, type StoredResource } from '../../model/resources.ts';
import { errors } from '../arm/errors.ts';
import { ENVIRONMENT_SCHEMA } from '../validation/schemas.ts';
import { ENVIRONMENT_INGRESS_MEMBERS, refusedMember } from '../validation/ingress-members.ts';
import { refusedEnvironmentMember, withoutEnvironmentSecrets } from '../validation/environment-members.ts';
import { renderTracked } from './render.ts';
import type { ResourceKind } from './tracked.ts';
import type { ControlContext } from './context.ts';

const NAME = /^[a-z][a-z0-9-]{0,58}[a-z0-9]$/;

export const environmentKind: ResourceKind = {
  type: ENVIRONMENT_TYPE,
  schema: ENVIRONMENT_SCHEMA,
  readOnlyProperties: ['provisioningState', 'deploymentErrors', 'defaultDomain', 'staticIp', 'eventStreamEndpoint'],
  storedEnvelope: ['kind', 'identity'],
  async prepare(context, id, name, body, current, read) {
    if (!current && !NAME.test(name)) {
      throw errors.invalidParameter(`The environment name '${name}' is not valid: use 2 to 60 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen.`, 'name');
    }
    // Never stored and ignored: a network or security claim certgate does not enforce is a 400.
    const refused = refusedEnvironmentMember(body.properties) ?? refusedMember(body.properties?.['ingressConfiguration'] as Record<string, unknown> | undefined, ENVIRONMENT_INGRESS_MEMBERS, 'properties.ingressConfiguration');
    if (refused) throw refused;
    const others = (await context.store.list({ type: ENVIRONMENT_TYPE })).filter((env) => resourceKey(env.id) !== resourceKey(id));
    // Both the default domains and the DNS suffixes: each names one environment's apps.
    const taken = new Set(others.flatMap((env) => [String(env.properties['defaultDomain']).toLowerCase(), storedDnsSuffix(env)].filter((domain): domain is string => domain !== undefined)));
    const defaultDomain = current ? String(current.properties['defaultDomain']) : defaultDomainFor(id, name, context.baseDomain, (domain) => taken.has(domain));
    const uploaded = read as CustomDomainCertificate | undefined;
    const customDomainConfiguration = customDomainConfigurationToStore(body.properties?.['customDomainConfiguration'], current, uploaded);
    const dnsSuffix = customDomainConfiguration?.['dnsSuffix'] as string | undefined;
    if (dnsSuffix !== undefined) await checkDnsSuffix(context, id, current?.name ?? name, dnsSuffix, defaultDomain, taken);
    const { customDomainConfiguration: _given, ...properties } = body.properties ?? {};
    // The key material is kept only while a suffix uses it: removing the suffix overwrites it.
    const secret = uploaded?.secret ?? (dnsSuffix === undefined && storedDnsSuffix(current) !== undefined ? new Uint8Array(0) : undefined);
    return {
      doc: {
        ...body,
        id: current?.id ?? id,
        name: current?.name ?? name,
        type: ENVIRONMENT_TYPE,
        properties: { ...properties, ...(customDomainConfiguration ? { customDomainConfiguration } : {}), defaultDomain },
      },
      ...(secret ? { secret } : {}),
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

/**
 * A DNS suffix names one environment's apps only: not another environment's default domain or
 * suffix (two environments would claim the same names), not this one's default domain, and no
 * `<app>.<suffix>` of this environment's apps may be another app's custom domain.
 */
async function checkDnsSuffix(context: ControlContext, id: string, name: string, dnsSuffix: string, defaultDomain: string, taken: ReadonlySet<string>): Promise<void> {
  const at = 'properties.customDomainConfiguration.dnsSuffix';
  if (taken.has(dnsSuffix) || dnsSuffix === defaultDomain.toLowerCase()) {
    throw errors.conflict('DnsSuffixInUse', `The DNS suffix '${dnsSuffix}' is already the domain of an environment${dnsSuffix === defaultDomain.toLowerCase() ? ` (the default domain of '${name}')` : ''}.`, at);
  }
  const apps = await context.store.list({ type: APP_TYPE });
  const mine = appsOfEnvironment(apps, id);
  const names = new Map(mine.map((app) => [appFqdn(app.name, dnsSuffix), app.name]));
  for (const other of apps) {
    for (const host of hostNamesOf(other.name, undefined, appView(other).ingress?.customDomains)) {
      const app = names.get(host.name);
      if (app !== undefined) throw errors.conflict('HostNameInUse', `The host name '${host.name}' of the app '${app}' under the DNS suffix is already a custom domain of the container app '${other.id}'.`, at);
    }
  }
}
