// Microsoft.App/containerApps. The ingress settings are what certgate enforces; `template` and the
// rest of `configuration` are stored as given (certgate runs no containers: the app is whatever
// listens at ingress.targetHost, default 127.0.0.1, and ingress.targetPort).
import { APP_TYPE, CERTIFICATE_TYPE, MANAGED_CERTIFICATE_TYPE, ENVIRONMENT_TYPE, appView, environmentView, resourceKey, type StoredResource } from '../../model/resources.ts';
import { appFqdn, hostNamesOf, normalizeHostname } from '../../model/hostnames.ts';
import { clientCertificatePolicy, type IngressSettings } from '../../model/ingress.ts';
import { ipRulesProblem } from '../../ingress/listener/ip-rules.ts';
import { errors } from '../arm/errors.ts';
import { APP_SCHEMA } from '../validation/schemas.ts';
import { APP_INGRESS_MEMBERS, refusedMember } from '../validation/ingress-members.ts';
import { certificateCovers } from './certificates.ts';
import { environmentTrustMaterial } from './trust-material.ts';
import { compileVerification, type VerificationSettings } from '../../ingress/verify/policy.ts';
import { checkExposedPorts, checkIngressFeatures } from './ingress-features.ts';
import { checkAppConfiguration, keepSecretValues, withoutSecretValues } from './app-configuration.ts';
import { renderTracked } from './render.ts';
import type { ResourceKind } from './tracked.ts';
import type { ControlContext } from './context.ts';
import { problemsOf } from '../../model/outcome.ts';
import { checkTemplateUnchanged } from './app-runtime.ts';

/** Azure's rule: 2-32 lower-case letters, digits and hyphens, starting with a letter. */
const NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

export const appKind: ResourceKind = {
  type: APP_TYPE,
  schema: APP_SCHEMA,
  readOnlyProperties: [
    'provisioningState', 'runningStatus', 'deploymentErrors', 'latestRevisionName', 'latestReadyRevisionName',
    'latestRevisionFqdn', 'customDomainVerificationId', 'outboundIpAddresses', 'eventStreamEndpoint', 'delegatedIdentities',
  ],
  storedEnvelope: ['kind', 'identity', 'managedBy', 'extendedLocation'],
  async prepare(context, id, name, body, current) {
    if (!current && !NAME.test(name)) {
      throw errors.invalidParameter(`The container app name '${name}' is not valid: use 2 to 32 lower-case letters, digits and hyphens, starting with a letter and ending with a letter or digit.`, 'name');
    }
    const properties = { ...body.properties };
    if (current) {
      // As in Azure Container Apps, an app stays in the environment it was created in.
      const currentEnvironment = resourceKey(String(current.properties['managedEnvironmentId']));
      for (const member of ['managedEnvironmentId', 'environmentId']) {
        const given = properties[member];
        if (given !== undefined && resourceKey(String(given)) !== currentEnvironment) {
          throw errors.invalidParameter(`The environment of a container app cannot be changed (it is '${String(current.properties['managedEnvironmentId'])}').`, `properties.${member}`);
        }
      }
    }
    if (current) checkTemplateUnchanged(properties['template'], current.properties['template']);
    const environment = await findEnvironment(context, properties);
    properties['managedEnvironmentId'] = environment.id;
    properties['environmentId'] = environment.id;
    const configuration = { ...(properties['configuration'] as Record<string, unknown> | undefined) };
    checkAppConfiguration(configuration);
    keepSecretValues(configuration, current?.properties['configuration'] as Record<string, unknown> | undefined);
    const ingress = configuration['ingress'] as (IngressSettings & { fqdn?: string }) | undefined;
    if (ingress) {
      const { fqdn: _computed, ...settings } = ingress;
      // The precise checks first (they name the entry at fault), then the members table's refusals.
      checkModeTransport(settings);
      checkIngressFeatures(current?.name ?? name, settings);
      await checkIngress(context, settings, environment);
      const others = (await context.store.list({ type: APP_TYPE })).filter((app) => resourceKey(app.id) !== resourceKey(id)).map((app) => ({ id: app.id, ingress: appView(app).ingress }));
      checkExposedPorts(settings, context.reservedPorts?.() ?? [], others);
      await checkHostNames(context, id, name, environment, settings);
      configuration['ingress'] = settings;
    }
    properties['configuration'] = configuration;
    return { doc: { ...body, id: current?.id ?? id, name: current?.name ?? name, type: APP_TYPE, properties } };
  },
  async render(context, doc) {
    const properties = { ...doc.properties };
    const environment = await context.store.get(String(properties['managedEnvironmentId'] ?? ''));
    const configuration: Record<string, unknown> = { activeRevisionsMode: 'Single', ...withoutSecretValues((properties['configuration'] as Record<string, unknown> | undefined) ?? {}) };
    const ingress = configuration['ingress'] as Record<string, unknown> | undefined;
    // With a DNS suffix (customDomainConfiguration) the app's name is under it, as in ACA; the default name is served too.
    const domains = environment ? environmentView(environment) : undefined;
    const fqdn = domains ? appFqdn(doc.name, domains.dnsSuffix ?? domains.defaultDomain) : undefined;
    if (ingress) configuration['ingress'] = { ...ingress, ...(fqdn ? { fqdn } : {}) };
    // What the ingress left out of this app (a write answered ConfigurationNotEnforced) shows on every read.
    const problems = problemsOf(context.outcome(), doc.id);
    return renderTracked(doc, {
      ...properties,
      configuration,
      provisioningState: problems.length > 0 ? 'Failed' : 'Succeeded',
      ...(problems.length > 0 ? { deploymentErrors: problems.map((problem) => problem.message).join('; ') } : {}),
      runningStatus: 'Running',
      latestRevisionName: `${doc.name}--certgate`,
      latestReadyRevisionName: `${doc.name}--certgate`,
      ...(ingress && fqdn ? { latestRevisionFqdn: fqdn } : {}),
      outboundIpAddresses: [],
    });
  },
};

async function findEnvironment(context: ControlContext, properties: Record<string, unknown>): Promise<StoredResource> {
  const given = properties['managedEnvironmentId'] ?? properties['environmentId'];
  const target = properties['managedEnvironmentId'] === undefined ? 'properties.environmentId' : 'properties.managedEnvironmentId';
  if (typeof given !== 'string' || given === '') {
    throw errors.invalidContent("The property 'properties.managedEnvironmentId' (the environment's resource id) is required.", 'properties.managedEnvironmentId');
  }
  if (properties['managedEnvironmentId'] !== undefined && properties['environmentId'] !== undefined && resourceKey(String(properties['environmentId'])) !== resourceKey(given)) {
    throw errors.invalidContent('properties.managedEnvironmentId and properties.environmentId name different environments.', 'properties.environmentId');
  }
  const environment = await context.store.get(given.replace(/\/+$/, ''));
  if (!environment || environment.type.toLowerCase() !== ENVIRONMENT_TYPE.toLowerCase()) {
    throw errors.invalidParameter(`The managed environment '${given}' does not exist.`, target);
  }
  return environment;
}

/** A client-certificate mode needs an HTTP transport: said before anything else about TCP apps. */
function checkModeTransport(ingress: IngressSettings): void {
  // The schema refused anything but a mode, in any casing.
  const policy = clientCertificatePolicy(ingress.clientCertificateMode);
  if (ingress.transport === 'tcp' && policy?.requestCert) {
    throw errors.invalidParameter(`clientCertificateMode '${policy.mode}' needs an HTTP transport; with transport 'tcp' only 'ignore' is possible.`, 'properties.configuration.ingress.clientCertificateMode');
  }
}

async function checkIngress(context: ControlContext, ingress: IngressSettings, environment: StoredResource): Promise<void> {
  // Never stored and ignored: a value the ingress cannot apply is refused (ingress-members.ts).
  const refused = refusedMember(ingress as Record<string, unknown>, APP_INGRESS_MEMBERS, 'properties.configuration.ingress');
  if (refused) throw refused;
  // The same rules the ingress compiles: a list it could not enforce as written is refused here.
  const ipProblem = ipRulesProblem(ingress.ipSecurityRestrictions ?? []);
  if (ipProblem) {
    throw errors.invalidParameter(ipProblem.message, `properties.configuration.ingress.ipSecurityRestrictions[${ipProblem.index}].${ipProblem.member}`);
  }
  // Verification: the same compilation the ingress makes, on the environment's own trust material.
  const mode = clientCertificatePolicy(ingress.clientCertificateMode)?.mode ?? 'ignore';
  const verification = compileVerification(ingress as VerificationSettings, mode, await environmentTrustMaterial(context.store, environment.id));
  if (ingress['clientCertificateForwarding'] !== undefined && mode === 'ignore') {
    throw errors.invalidParameter("properties.configuration.ingress.clientCertificateForwarding: needs clientCertificateMode 'accept' or 'require' (with 'ignore' no certificate is asked for).", 'properties.configuration.ingress.clientCertificateForwarding');
  }
  if (!verification.ok) throw errors.invalidParameter(`properties.configuration.ingress.${verification.path}: ${verification.message}.`, `properties.configuration.ingress.${verification.path}`);
  const seen = new Set<string>();
  for (const [index, domain] of (ingress.customDomains ?? []).entries()) {
    const target = `properties.configuration.ingress.customDomains[${index}]`;
    const hostname = normalizeHostname(domain.name);
    if (!hostname) {
      throw errors.invalidParameter(`'${domain.name}' is not a valid custom domain name: use DNS labels of letters, digits, hyphens and underscores, none starting or ending with a hyphen.`, `${target}.name`);
    }
    if (seen.has(hostname)) throw errors.invalidParameter(`The custom domain '${hostname}' is listed twice.`, `${target}.name`);
    seen.add(hostname);
    if (domain.bindingType === 'Disabled' && domain.certificateId === undefined) continue;
    if (domain.certificateId === undefined) {
      throw errors.invalidParameter(`The custom domain '${hostname}' needs a certificateId (an environment certificate) unless bindingType is 'Disabled'.`, `${target}.certificateId`);
    }
    const certificate = await context.store.get(domain.certificateId);
    const type = certificate?.type.toLowerCase();
    if (!certificate || (type !== CERTIFICATE_TYPE.toLowerCase() && type !== MANAGED_CERTIFICATE_TYPE.toLowerCase())) {
      throw errors.invalidParameter(`The certificate '${domain.certificateId}' does not exist.`, `${target}.certificateId`);
    }
    if (!resourceKey(certificate.id).startsWith(`${resourceKey(environment.id)}/`)) {
      throw errors.invalidParameter(`The certificate '${domain.certificateId}' belongs to another environment than the app's.`, `${target}.certificateId`);
    }
    if (type === MANAGED_CERTIFICATE_TYPE.toLowerCase()) {
      // A managed certificate is for its subjectName only; until it is issued, only `Auto` may bind it
      // (served once it is ready), as in ACA.
      if (String(certificate.properties['subjectName']) !== hostname) {
        throw errors.invalidParameter(`The managed certificate '${certificate.name}' is for '${String(certificate.properties['subjectName'])}', not '${hostname}'.`, `${target}.certificateId`);
      }
      if (certificate.properties['provisioningState'] !== 'Succeeded' && domain.bindingType !== 'Auto') {
        throw errors.invalidParameter(`The managed certificate '${certificate.name}' is ${String(certificate.properties['provisioningState'])}, not issued yet: bind it with bindingType 'Auto' (served once issued) or wait for provisioningState Succeeded.`, `${target}.bindingType`);
      }
      continue;
    }
    if (!certificateCovers(certificate, hostname)) {
      throw errors.invalidParameter(`The certificate '${certificate.name}' does not cover '${hostname}' (its names: ${((certificate.properties['subjectAlternativeNames'] as string[]) ?? []).join(', ') || 'none'}).`, `${target}.certificateId`);
    }
  }
}

/** The host names every other app claims (default and custom domains), with the app's id. */
export async function otherAppsHostNames(context: ControlContext, id: string): Promise<{ hostname: string; appId: string }[]> {
  const claims: { hostname: string; appId: string }[] = [];
  for (const other of await context.store.list({ type: APP_TYPE })) {
    if (resourceKey(other.id) === resourceKey(id)) continue;
    const view = appView(other);
    const otherEnvironment = await context.store.get(view.environmentId);
    const otherView = otherEnvironment ? environmentView(otherEnvironment) : undefined;
    for (const { name: hostname } of hostNamesOf(other.name, otherView?.defaultDomain, view.ingress?.customDomains, otherView?.dnsSuffix)) claims.push({ hostname, appId: other.id });
  }
  return claims;
}

/** The host names an app is served at (hostNamesOf, as the ingress routes them) must not be served for another app. */
async function checkHostNames(context: ControlContext, id: string, name: string, environment: StoredResource, ingress: IngressSettings): Promise<void> {
  const mine = new Map<string, string>();
  const env = environmentView(environment);
  for (const host of hostNamesOf(name, env.defaultDomain, ingress.customDomains, env.dnsSuffix)) {
    mine.set(host.name, host.source === 'customDomain' ? `properties.configuration.ingress.customDomains[${host.index}].name` : 'properties.configuration.ingress.fqdn');
  }
  for (const { hostname, appId: other } of await otherAppsHostNames(context, id)) {
    const target = mine.get(hostname);
    if (target) throw errors.conflict('HostNameInUse', `The host name '${hostname}' is already used by the container app '${other}'.`, target);
  }
}

/**
 * Members that exist only in some api-versions: `targetPortHttpScheme` is in every preview version
 * from 2023-11-02-preview and in no stable one, so a stable-version request that sends it is refused
 * as ARM's schema for that version would.
 */
export function checkAppMembersForVersion(apiVersion: string, body: unknown): void {
  if (apiVersion.endsWith('-preview') && apiVersion >= '2023-11-02-preview') return;
  const ingress = member(member(member(body, 'properties'), 'configuration'), 'ingress');
  if (ingress !== undefined && member(ingress, 'targetPortHttpScheme') !== undefined) {
    throw errors.invalidContent(
      `The property 'properties.configuration.ingress.targetPortHttpScheme' is not known in api-version ${apiVersion}: it exists only in preview api-versions (2023-11-02-preview and later, e.g. 2025-10-02-preview).`,
      'properties.configuration.ingress.targetPortHttpScheme',
    );
  }
}

/** An object member by ARM's case-insensitive name (null counts as absent). */
function member(value: unknown, name: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const lower = name.toLowerCase();
  for (const [key, found] of Object.entries(value)) if (key.toLowerCase() === lower && found !== null) return found;
  return undefined;
}
