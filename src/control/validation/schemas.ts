// JSON Schemas of the request bodies certgate accepts. Every object lists its known members and
// allows no others: an unknown or misspelt property (say `clientCertMode`) is an error that names
// it, because accepting it silently would leave its author believing the app is protected.
// Read-only members that clients send back after a GET (provisioningState, fqdn, ...) are known and
// ignored. Where certgate only stores a value (template containers, dapr, ...), the schema says
// "any" below that point.
import { CLIENT_CERTIFICATE_MODES } from '../../model/ingress.ts';

import { MAX_HEADER_COUNT_LIMIT } from '../../model/ingress.ts';
import { MAX_TRUST_REFERENCES } from '../../model/trust.ts';

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

/** An HTTP field name (RFC 9110 5.1 token). */
const HEADER_NAME: Schema = { type: 'string', minLength: 1, maxLength: 128, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" };

/** Two years, the longest max-age browsers' preload lists ask for. */
export const HSTS_MAX_AGE_LIMIT = 63_072_000;
/** The HSTS preload list requires at least a year and includeSubDomains (hstspreload.org). */
export const HSTS_PRELOAD_MIN_AGE = 31_536_000;

const HSTS_SCHEMA: Schema = {
  ...object({ maxAge: integer(0, HSTS_MAX_AGE_LIMIT), includeSubDomains: boolean, preload: boolean }, ['maxAge']),
  if: { properties: { preload: { const: true } }, required: ['preload'] },
  then: {
    properties: { maxAge: integer(HSTS_PRELOAD_MIN_AGE), includeSubDomains: { const: true, 'x-message': 'must be true when preload is true' } },
    required: ['includeSubDomains'],
  },
};

/** certgate's per-environment extensions (`properties.certgate`). */
export const ENVIRONMENT_EXTENSION_SCHEMA: Schema = object({
  // More request headers removed from every client request to the environment's apps.
  stripHeaders: { type: 'array', maxItems: 100, items: HEADER_NAME },
});

/** Environment certificate ids (trust material); at most MAX_TRUST_REFERENCES each. */
const TRUST_REFERENCES: Schema = { type: 'array', minItems: 1, maxItems: MAX_TRUST_REFERENCES, items: { type: 'string', minLength: 1, maxLength: 1024 } };
const PATH_RULES: Schema = { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 512 } };
const ALLOW_LIST: Schema = { type: 'array', minItems: 1, maxItems: 256, items: { type: 'string', minLength: 1, maxLength: 1024 } };

/** Each member is enforced, refused in the values the ingress cannot apply, or read-only: ingress-members.ts. */
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
  clientCertificateMode: caseInsensitiveEnum([...CLIENT_CERTIFICATE_MODES]),
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
  // certgate: Strict-Transport-Security on the app's HTTPS responses (never on plain HTTP).
  hsts: HSTS_SCHEMA,
  // certgate: client-certificate verification at the edge (docs/ingress.md, Client-certificate verification).
  clientCertificateTrustAnchors: TRUST_REFERENCES,
  clientCertificateIntermediates: TRUST_REFERENCES,
  clientCertificateRevocationLists: TRUST_REFERENCES,
  clientCertificateValidationMode: { type: 'string', enum: ['AllowValidOnly', 'AllowInsecureFallback'] },
  clientCertificateForwarding: { type: 'string', enum: ['Xfcc', 'Rfc9440', 'Both'] },
  clientCertificateNameAnchors: boolean,
  clientCertificateRevocationMode: { type: 'string', enum: ['SoftFail', 'HardFail', 'RequireCrl'] },
  clientCertificateOnlineRevocation: { type: 'string', enum: ['Off', 'Crl', 'Ocsp'] },
  clientCertificateExemptPaths: PATH_RULES,
  clientCertificateVerifiedPaths: PATH_RULES,
  clientCertificateAllow: object({ thumbprints: ALLOW_LIST, spkiSha256: ALLOW_LIST, subjects: ALLOW_LIST, sans: ALLOW_LIST }),
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
    // Each member is enforced or refused: ingress-members.ts.
    ingressConfiguration: object({
      workloadProfileName: string,
      requestIdleTimeout: integer(4, 30),
      headerCountLimit: integer(1, MAX_HEADER_COUNT_LIMIT),
      terminationGracePeriodSeconds: integer(0, 3600),
    }),
    environmentMode: string,
    publicNetworkAccess: string,
    // certgate extensions (docs/management-api.md).
    certgate: ENVIRONMENT_EXTENSION_SCHEMA,
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

export const MANAGED_CERTIFICATE_SCHEMA: Schema = object({
  ...envelope,
  properties: object({
    subjectName: string,
    domainControlValidation: string,
    // Read-only: accepted and ignored.
    provisioningState: any,
    validationToken: any,
    error: any,
    certgateAcmeChallenge: any,
    issueDate: any,
    expirationDate: any,
    thumbprint: any,
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
