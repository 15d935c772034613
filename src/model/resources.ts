// ARM resource identities and the three resource kinds the ingress consumes. Documents are kept in
// the ARM shape (id, name, type, location, properties) so the control plane can store and return
// them as they are; the ingress reads typed views made by the functions below.
import type { IngressSettings } from './ingress.ts';

export const ENVIRONMENT_TYPE = 'Microsoft.App/managedEnvironments';
export const CERTIFICATE_TYPE = 'Microsoft.App/managedEnvironments/certificates';
export const APP_TYPE = 'Microsoft.App/containerApps';
export const MANAGED_CERTIFICATE_TYPE = 'Microsoft.App/managedEnvironments/managedCertificates';
/** Where a managed certificate keeps the ACME HTTP-01 challenge being answered (server-written, never rendered). */
export const ACME_CHALLENGE_MEMBER = 'certgateAcmeChallenge';
export interface AcmeChallengeRecord {
  readonly token: string;
  readonly keyAuthorization: string;
}

export interface SystemData {
  readonly createdAt: string;
  readonly createdBy?: string;
  readonly createdByType?: string;
  readonly lastModifiedAt: string;
  readonly lastModifiedBy?: string;
  readonly lastModifiedByType?: string;
}

/** A resource as stored: the ARM envelope plus properties. */
export interface ResourceDocument {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly location?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly [field: string]: unknown;
}

export interface StoredResource extends ResourceDocument {
  readonly etag: string;
  readonly systemData: SystemData;
}

/** ARM ids compare case-insensitively; this is the key they are stored under. */
export function resourceKey(id: string): string {
  return id.toLowerCase();
}

export function resourceGroupId(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

export function environmentId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `${resourceGroupId(subscriptionId, resourceGroup)}/providers/${ENVIRONMENT_TYPE}/${name}`;
}

export function appId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `${resourceGroupId(subscriptionId, resourceGroup)}/providers/${APP_TYPE}/${name}`;
}

export function certificateId(environmentResourceId: string, name: string): string {
  return `${environmentResourceId}/certificates/${name}`;
}

export function managedCertificateId(environmentResourceId: string, name: string): string {
  return `${environmentResourceId}/managedCertificates/${name}`;
}

/** What the ingress needs of an environment. */
export interface EnvironmentView {
  readonly id: string;
  readonly name: string;
  readonly defaultDomain: string;
  /** `properties.customDomainConfiguration.dnsSuffix`: the apps are also served at `<app>.<dnsSuffix>` (with the environment's uploaded wildcard). */
  readonly dnsSuffix?: string;
  /** certgate extension `properties.certgate.stripHeaders`: more request headers its apps never get from clients. */
  readonly stripHeaders?: readonly string[];
  /** `properties.ingressConfiguration` as validated by the control plane (undefined: ACA's defaults). */
  readonly ingressConfiguration?: EnvironmentIngressConfiguration;
}

/** The environment's ingress settings (Microsoft.App, stable since 2025-07-01). */
export interface EnvironmentIngressConfiguration {
  /** Minutes (4-30). */
  readonly requestIdleTimeout?: number;
  readonly headerCountLimit?: number;
  readonly terminationGracePeriodSeconds?: number;
  readonly workloadProfileName?: string;
}

/** What the ingress needs of a container app. `ingress` is undefined when ingress is disabled. */
export interface AppView {
  readonly id: string;
  readonly name: string;
  readonly environmentId: string;
  readonly ingress: IngressSettings | undefined;
}

export function environmentView(doc: ResourceDocument): EnvironmentView {
  const certgate = doc.properties['certgate'] as { stripHeaders?: unknown } | undefined;
  const strip = certgate?.stripHeaders;
  const ingressConfiguration = doc.properties['ingressConfiguration'] as EnvironmentIngressConfiguration | undefined;
  const dnsSuffix = (doc.properties['customDomainConfiguration'] as { dnsSuffix?: unknown } | undefined)?.dnsSuffix;
  return {
    id: doc.id,
    name: doc.name,
    defaultDomain: String(doc.properties['defaultDomain'] ?? ''),
    ...(typeof dnsSuffix === 'string' && dnsSuffix !== '' ? { dnsSuffix } : {}),
    stripHeaders: Array.isArray(strip) ? strip.filter((name): name is string => typeof name === 'string') : [],
    ...(ingressConfiguration ? { ingressConfiguration } : {}),
  };
}

export function appView(doc: ResourceDocument): AppView {
  const props = doc.properties;
  const configuration = props['configuration'] as { ingress?: IngressSettings | null } | undefined;
  const environment = (props['managedEnvironmentId'] ?? props['environmentId']) as string | undefined;
  return {
    id: doc.id,
    name: doc.name,
    environmentId: environment ?? '',
    ingress: configuration?.ingress ?? undefined,
  };
}
