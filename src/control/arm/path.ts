// ARM request paths, parsed without `new URL(path, base)` (which reads `//subscriptions` as a host).
// Repeated slashes collapse and fixed segments match in any casing: az sends `//subscriptions`,
// `resourcegroups` and `Microsoft.App//containerApps`.

export type ArmResourceType = 'containerApps' | 'managedEnvironments';

export type ArmPath =
  | { readonly kind: 'metadata' }
  | { readonly kind: 'subscriptions' }
  | { readonly kind: 'subscription'; readonly subscription: string }
  | { readonly kind: 'providers'; readonly subscription: string }
  | { readonly kind: 'provider'; readonly subscription: string; readonly namespace: string }
  | { readonly kind: 'groups'; readonly subscription: string }
  | { readonly kind: 'group'; readonly subscription: string; readonly group: string }
  | { readonly kind: 'collection'; readonly subscription: string; readonly group: string | undefined; readonly resourceType: ArmResourceType }
  | { readonly kind: 'resource'; readonly subscription: string; readonly group: string; readonly resourceType: ArmResourceType; readonly name: string }
  | { readonly kind: 'certificates'; readonly subscription: string; readonly group: string; readonly environment: string }
  | { readonly kind: 'certificate'; readonly subscription: string; readonly group: string; readonly environment: string; readonly name: string }
  | { readonly kind: 'managedCertificates'; readonly subscription: string; readonly group: string; readonly environment: string }
  | { readonly kind: 'managedCertificate'; readonly subscription: string; readonly group: string; readonly environment: string; readonly name: string }
  /** POST containerApps/{name}/listCustomHostNameAnalysis (az containerapp hostname bind). */
  | { readonly kind: 'hostnameAnalysis'; readonly subscription: string; readonly group: string; readonly name: string }
  /** POST managedEnvironments/{environment}/checkNameAvailability. */
  | { readonly kind: 'environmentNameCheck'; readonly subscription: string; readonly group: string; readonly environment: string }
  /** Microsoft.Resources/deployments at resource-group scope: the list, one deployment, or below it (validate, operations, operationStatuses/{id}). */
  | { readonly kind: 'deployments'; readonly subscription: string; readonly group: string }
  | { readonly kind: 'deployment'; readonly subscription: string; readonly group: string; readonly name: string; readonly sub?: 'validate' | 'operations' | 'operationStatuses' | 'cancel'; readonly operation?: string }
  /** What lies below an app and belongs to running containers (revisions, replicas, …): refused. */
  | { readonly kind: 'appRuntime'; readonly subscription: string; readonly group: string; readonly name: string; readonly segment: string };

export interface ParsedRequestTarget {
  /** The path with repeated slashes collapsed and no trailing slash. */
  readonly path: string;
  readonly query: URLSearchParams;
}

export function splitRequestTarget(rawUrl: string): ParsedRequestTarget {
  const queryStart = rawUrl.indexOf('?');
  const rawPath = queryStart < 0 ? rawUrl : rawUrl.slice(0, queryStart);
  const path = `/${rawPath.split('/').filter((segment) => segment !== '').join('/')}`;
  return { path, query: new URLSearchParams(queryStart < 0 ? '' : rawUrl.slice(queryStart + 1)) };
}

/** Path segments below `containerApps/{name}` that belong to running containers (lower case): refused by resources/app-runtime.ts. */
const APP_RUNTIME_SEGMENTS: readonly string[] = [
  'revisions', 'replicas', 'detectors', 'logstream', 'getauthtoken', 'authconfigs', 'sourcecontrols', 'start', 'stop',
  'listsecrets', 'builds', 'patches', 'resiliencypolicies', 'diagnostics',
];

const DEPLOYMENT_SUBPATHS: Record<string, 'validate' | 'operations' | 'operationStatuses' | 'cancel'> = {
  validate: 'validate',
  operations: 'operations',
  operationstatuses: 'operationStatuses',
  cancel: 'cancel',
};

const RESOURCE_TYPES: Record<string, ArmResourceType> = {
  containerapps: 'containerApps',
  managedenvironments: 'managedEnvironments',
};

/** Undefined when the path is not one certgate serves (or a segment is not valid percent-encoding). */
export function parseArmPath(path: string): ArmPath | undefined {
  let segments: string[];
  try {
    segments = path.split('/').filter((segment) => segment !== '').map((segment) => decodeURIComponent(segment));
  } catch {
    return undefined;
  }
  const lower = segments.map((segment) => segment.toLowerCase());
  const is = (index: number, literal: string) => lower[index] === literal;
  const n = segments.length;

  if (n === 2 && is(0, 'metadata') && is(1, 'endpoints')) return { kind: 'metadata' };
  if (!is(0, 'subscriptions')) return undefined;
  if (n === 1) return { kind: 'subscriptions' };
  const subscription = segments[1]!;
  if (n === 2) return { kind: 'subscription', subscription };
  if (is(2, 'providers')) {
    if (n === 3) return { kind: 'providers', subscription };
    if (n === 4) return { kind: 'provider', subscription, namespace: segments[3]! };
    const resourceType = RESOURCE_TYPES[lower[4]!];
    if (n === 5 && is(3, 'microsoft.app') && resourceType) return { kind: 'collection', subscription, group: undefined, resourceType };
    return undefined;
  }
  if (!is(2, 'resourcegroups')) return undefined;
  if (n === 3) return { kind: 'groups', subscription };
  const group = segments[3]!;
  if (n === 4) return { kind: 'group', subscription, group };
  // Deployments live at …/providers/Microsoft.Resources/deployments and, for az's operation commands, at …/deployments.
  const at = is(4, 'providers') && is(5, 'microsoft.resources') && is(6, 'deployments') ? 7 : is(4, 'deployments') ? 5 : undefined;
  if (at !== undefined) {
    if (n === at) return { kind: 'deployments', subscription, group };
    const name = segments[at]!;
    if (n === at + 1) return { kind: 'deployment', subscription, group, name };
    const sub = DEPLOYMENT_SUBPATHS[lower[at + 1]!];
    if (sub && n === at + 2 && sub !== 'operationStatuses') return { kind: 'deployment', subscription, group, name, sub };
    if (sub && n === at + 3 && (sub === 'operations' || sub === 'operationStatuses')) return { kind: 'deployment', subscription, group, name, sub, operation: segments[at + 2]! };
    return undefined;
  }
  if (!is(4, 'providers') || !is(5, 'microsoft.app') || n < 7) return undefined;
  const resourceType = RESOURCE_TYPES[lower[6]!];
  if (!resourceType) return undefined;
  if (n === 7) return { kind: 'collection', subscription, group, resourceType };
  const name = segments[7]!;
  if (n === 8) return { kind: 'resource', subscription, group, resourceType, name };
  if (resourceType === 'containerApps') {
    if (n === 9 && is(8, 'listcustomhostnameanalysis')) return { kind: 'hostnameAnalysis', subscription, group, name };
    if (APP_RUNTIME_SEGMENTS.includes(lower[8]!)) return { kind: 'appRuntime', subscription, group, name, segment: segments[8]! };
  }
  if (resourceType === 'managedEnvironments' && n === 9 && is(8, 'checknameavailability')) return { kind: 'environmentNameCheck', subscription, group, environment: name };
  if (resourceType === 'managedEnvironments' && is(8, 'certificates')) {
    if (n === 9) return { kind: 'certificates', subscription, group, environment: name };
    if (n === 10) return { kind: 'certificate', subscription, group, environment: name, name: segments[9]! };
  }
  if (resourceType === 'managedEnvironments' && is(8, 'managedcertificates')) {
    if (n === 9) return { kind: 'managedCertificates', subscription, group, environment: name };
    if (n === 10) return { kind: 'managedCertificate', subscription, group, environment: name, name: segments[9]! };
  }
  return undefined;
}
