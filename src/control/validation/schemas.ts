// JSON Schemas of the request bodies certgate accepts. Every object lists its known members and
// allows no others: an unknown or misspelt property (say `clientCertMode`) is an error that names
// it, because accepting it silently would leave its author believing the app is protected.
// Read-only members that clients send back after a GET (provisioningState, fqdn, ...) are known and
// ignored. Where certgate only stores a value (template containers, dapr, ...), the schema says
// "any" below that point.

import { MAX_HEADER_COUNT_LIMIT } from '../../model/ingress.ts';

type Schema = Record<string, unknown>;

const any: Schema = {};
const string: Schema = { type: 'string' };
const boolean: Schema = { type: 'boolean' };
const integer = (minimum?: number, maximum?: number): Schema => ({
  type: 'integer',
  ...(minimum === undefined ? {} : { minimum }),
  ...(maximum === undefined ? {} : { maximum }),
});
const arrayOf = (items: Schema): Schema => ({ type: 'array', items });
const stringMap: Schema = { type: 'object', additionalProperties: { type: 'string' } };
const object = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties,
  additionalProperties: false,
  ...(required.length > 0 ? { required } : {}),
});
/** Values compared case-insensitively: the input is lower-cased before validation (see canonicalize). */
const caseInsensitiveEnum = (values: string[]): Schema => ({ type: 'string', enum: values, 'x-lowercase': true });

/** Members of every tracked resource's envelope. */
const envelope = {
  id: string,
  name: string,
  type: string,
  location: string,
  tags: stringMap,
  systemData: any,
  etag: string,
  identity: any,
  kind: string,
  managedBy: string,
  extendedLocation: any,
};

export const INGRESS_SCHEMA: Schema = object({
  fqdn: string,
  external: boolean,
  targetPort: integer(1, 65535),
  exposedPort: integer(0, 65535),
  transport: caseInsensitiveEnum(['auto', 'http', 'http2', 'tcp']),
  traffic: arrayOf(object({ revisionName: string, weight: integer(0, 100), latestRevision: boolean, label: string })),
  customDomains: arrayOf(
    object({ name: { type: 'string', minLength: 1 }, bindingType: { type: 'string', enum: ['Disabled', 'SniEnabled', 'Auto'] }, certificateId: string }, ['name']),
  ),
  allowInsecure: boolean,
  ipSecurityRestrictions: arrayOf(
    object({ name: string, description: string, ipAddressRange: string, action: { type: 'string', enum: ['Allow', 'Deny'] } }, ['name', 'ipAddressRange', 'action']),
  ),
  stickySessions: object({ affinity: caseInsensitiveEnum(['sticky', 'none']) }),
  clientCertificateMode: caseInsensitiveEnum(['ignore', 'accept', 'require']),
  corsPolicy: object(
    {
      allowedOrigins: arrayOf(string),
      allowedMethods: arrayOf(string),
      allowedHeaders: arrayOf(string),
      exposeHeaders: arrayOf(string),
      maxAge: integer(0),
      allowCredentials: boolean,
    },
    ['allowedOrigins'],
  ),
  additionalPortMappings: arrayOf(object({ external: boolean, targetPort: integer(1, 65535), exposedPort: integer(0, 65535) }, ['external', 'targetPort'])),
  // Preview api-versions only (from 2023-11-02-preview); refused on stable ones (apps.ts).
  targetPortHttpScheme: caseInsensitiveEnum(['http', 'https']),
  // certgate: where the app listens (a host name or IP address; certgate runs no containers).
  targetHost: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:_-]+$' },
});

export const APP_SCHEMA: Schema = object({
  ...envelope,
  properties: object({
    managedEnvironmentId: string,
    environmentId: string,
    workloadProfileName: string,
    networking: any,
    configuration: object({
      secrets: arrayOf(any),
      activeRevisionsMode: string,
      ingress: INGRESS_SCHEMA,
      registries: arrayOf(any),
      dapr: any,
      runtime: any,
      maxInactiveRevisions: integer(0),
      service: any,
      identitySettings: arrayOf(any),
    }),
    template: object({
      revisionSuffix: string,
      terminationGracePeriodSeconds: integer(0),
      initContainers: arrayOf(any),
      containers: arrayOf(any),
      scale: any,
      volumes: arrayOf(any),
      serviceBinds: arrayOf(any),
    }),
    // Read-only: accepted and ignored.
    provisioningState: any,
    runningStatus: any,
    deploymentErrors: any,
    latestRevisionName: any,
    latestReadyRevisionName: any,
    latestRevisionFqdn: any,
    customDomainVerificationId: any,
    outboundIpAddresses: any,
    eventStreamEndpoint: any,
    delegatedIdentities: any,
  }),
});

export const ENVIRONMENT_SCHEMA: Schema = object({
  ...envelope,
  properties: object({
    daprAIInstrumentationKey: string,
    daprAIConnectionString: string,
    vnetConfiguration: any,
    appLogsConfiguration: any,
    appInsightsConfiguration: any,
    openTelemetryConfiguration: any,
    zoneRedundant: boolean,
    customDomainConfiguration: any,
    workloadProfiles: arrayOf(any),
    kedaConfiguration: any,
    daprConfiguration: any,
    infrastructureResourceGroup: string,
    peerAuthentication: any,
    peerTrafficConfiguration: any,
    ingressConfiguration: object({
      workloadProfileName: string,
      requestIdleTimeout: integer(4, 30),
      headerCountLimit: integer(1, MAX_HEADER_COUNT_LIMIT),
      terminationGracePeriodSeconds: integer(0, 3600),
    }),
    environmentMode: string,
    publicNetworkAccess: string,
    // Read-only: accepted and ignored.
    provisioningState: any,
    deploymentErrors: any,
    defaultDomain: any,
    staticIp: any,
    eventStreamEndpoint: any,
  }),
});

export const CERTIFICATE_SCHEMA: Schema = object({
  ...envelope,
  properties: object({
    password: string,
    value: string,
    certificateKeyVaultProperties: any,
    // Read-only: accepted and ignored.
    provisioningState: any,
    deploymentErrors: any,
    subjectName: any,
    subjectAlternativeNames: any,
    issuer: any,
    issueDate: any,
    expirationDate: any,
    thumbprint: any,
    thumbprintSha256: any,
    valid: any,
    publicKeyHash: any,
    certificateType: any,
  }),
});

export const RESOURCE_GROUP_SCHEMA: Schema = object({
  id: string,
  name: string,
  type: string,
  location: string,
  tags: stringMap,
  managedBy: string,
  properties: object({ provisioningState: any }),
});
