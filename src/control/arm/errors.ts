// The ARM error envelope and the one catalog of errors the control plane answers with.
// {"error":{"code":"PascalCase","message":"...","target":"...","details":[...]}}
// Every code is in ARM_ERRORS with its status; docs/management-api.md "Error codes" lists each one
// (test/error-catalogs.test.ts checks both ways, and that src/control builds no error elsewhere).
import type { TokenRefusal } from '../auth/tokens.ts';
import { defineCatalog } from '../../model/error-catalog.ts';

export const ARM_ERRORS = defineCatalog({
  MissingApiVersionParameter: { status: 400, meaning: 'the api-version query parameter is missing' },
  InvalidApiVersionParameter: { status: 400, meaning: 'the api-version is not one certgate serves for the resource type (the supported ones are listed)' },
  InvalidRequestContent: { status: 400, meaning: 'the body is not valid JSON, or does not match the schema or a limit; `target` is the JSON path' },
  InvalidParameter: { status: 400, meaning: 'a value is well-formed but not acceptable (a name, a reference, a member the ingress cannot enforce); `target` is the JSON path' },
  InvalidResourceLocation: { status: 400, meaning: 'the location of an existing resource cannot be changed' },
  InvalidCertificateValue: { status: 400, meaning: 'properties.value is not base64 or not a usable PKCS12 file' },
  InvalidCertificatePassword: { status: 400, meaning: 'properties.password does not open the PKCS12 file' },
  CertificateNotLoadable: { status: 400, meaning: "the PKCS12 file parses but the ingress's TLS cannot load it, even converted (a cipher the legacy provider lacks); the message says how to convert it" },
  ConfigurationNotEnforced: { status: 400, meaning: 'the change was stored but the ingress leaves part of it out; `details` name each part (codes below)' },
  BadRequest: { status: 400, meaning: 'the HTTP request itself is malformed (reported by the HTTP server)' },
  AuthenticationFailed: { status: 401, meaning: 'no bearer token, or an Authorization header that is not `Bearer <token>`' },
  InvalidAuthenticationToken: { status: 401, meaning: 'the token is malformed, badly signed, not ours, not valid yet, or names a principal that does not exist' },
  InvalidAuthenticationTokenAudience: { status: 401, meaning: 'the token was issued for another audience than this endpoint' },
  ExpiredAuthenticationToken: { status: 401, meaning: 'the token has expired' },
  SubscriptionNotFound: { status: 404, meaning: 'the subscription in the path does not exist' },
  ResourceGroupNotFound: { status: 404, meaning: 'the resource group in the path does not exist' },
  ResourceNotFound: { status: 404, meaning: 'the resource (environment, app, certificate) does not exist' },
  ProviderNotFound: { status: 404, meaning: 'a resource provider other than Microsoft.App' },
  InvalidResourceType: { status: 404, meaning: 'no route: the resource type or path is not served by certgate' },
  OperationNotSupported: { status: 400, meaning: "what certgate cannot honour because it runs no containers: a change to an app's `template` (images, scaling), revisions, replicas, logs; `target` is the JSON path when there is one" },
  InvalidTemplate: { status: 400, meaning: 'a deployment template (or its parameters) certgate cannot evaluate: a function or construct it does not support, a missing parameter, a bad value; the message names the place in the template (`target`)' },
  DeploymentFailed: { status: 400, meaning: "a deployment's resource failed (in the deployment's `properties.error` and its operation status, not an HTTP answer); `details` name the failing resource and its error; the resources before it stay deployed" },
  DeploymentNotFound: { status: 404, meaning: 'the deployment does not exist in the resource group' },
  DeploymentActive: { status: 409, meaning: 'a deployment of that name is still running; wait for it to finish' },
  TooManyRequests: { status: 429, meaning: 'too many deployments running at once (4); retry when one has finished' },
  MethodNotAllowed: { status: 405, meaning: 'the method is not allowed on this path' },
  CertificateInUse: { status: 409, meaning: 'the certificate is bound to custom domains; remove the bindings before deleting it' },
  ManagedEnvironmentHasContainerApps: { status: 409, meaning: 'the environment still has container apps; delete them before deleting it' },
  PortInUse: { status: 409, meaning: 'an exposed TCP port is already used by another container app; `target` is the JSON path' },
  HostNameInUse: { status: 409, meaning: 'a custom domain is already used by another container app; `target` is the JSON path' },
  DnsSuffixInUse: { status: 409, meaning: "an environment's `customDomainConfiguration.dnsSuffix` is already another environment's default domain or DNS suffix (or its own default domain)" },
  DnsSuffixChanged: { status: 409, meaning: "the environment's DNS suffix changed while the uploaded certificate was read: send the request again" },
  InvalidResourceGroupLocation: { status: 409, meaning: 'the resource group exists in another location' },
  PreconditionFailed: { status: 412, meaning: 'If-Match or If-None-Match does not hold (the etag changed, or the resource exists or does not)' },
  RequestEntityTooLarge: { status: 413, meaning: 'the body is larger than the management API accepts' },
  UnsupportedMediaType: { status: 415, meaning: 'a body that is not application/json' },
  InternalServerError: { status: 500, meaning: 'a bug in certgate; the request changed nothing (the server log has the cause)' },
  IngressApplyFailed: { status: 500, meaning: 'the change was stored but the ingress could build no configuration from it; the previous one keeps serving' },
  StoreUnavailable: { status: 503, meaning: 'the shared store (PostgreSQL) cannot be reached: nothing was read or written; the ingress keeps serving its last configuration; retry after Retry-After seconds' },
});

export type ArmErrorCode = keyof typeof ARM_ERRORS;

/** The codes whose status is `S` (e.g. the 409s `errors.conflict` takes). */
export type ArmErrorCodeWithStatus<S extends number> = { [C in ArmErrorCode]: (typeof ARM_ERRORS)[C]['status'] extends S ? C : never }[ArmErrorCode];

/**
 * The errors of the OAuth token endpoint (RFC 6749 5.2), in OAuth's shape
 * {"error":"...","error_description":"..."}, not ARM's.
 */
export const OAUTH_ERRORS = defineCatalog({
  unsupported_grant_type: { status: 400, meaning: 'a grant other than client_credentials' },
  invalid_request: { status: 400, meaning: 'client_id or client_secret is missing' },
  invalid_resource: { status: 400, meaning: 'the scope or resource names another audience than this endpoint' },
  invalid_client: { status: 401, meaning: 'the client id or secret is not valid' },
});

export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;

export interface ArmErrorDetail {
  /** A catalog code, or (in ConfigurationNotEnforced) a configuration problem code of model/outcome.ts. */
  readonly code: string;
  readonly message: string;
  readonly target?: string;
}

export interface ArmErrorOptions {
  /** The JSON path or resource concerned. */
  target?: string;
  details?: ArmErrorDetail[];
  /** Extra response headers (e.g. WWW-Authenticate on 401). */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class ArmError extends Error {
  readonly status: number;
  readonly code: ArmErrorCode;
  readonly target: string | undefined;
  readonly details: readonly ArmErrorDetail[] | undefined;
  /** Extra response headers (e.g. WWW-Authenticate on 401). */
  readonly headers: Readonly<Record<string, string>>;

  /** The status is the catalog's for `code`. */
  constructor(code: ArmErrorCode, message: string, options: ArmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ArmError';
    this.status = ARM_ERRORS[code].status;
    this.code = code;
    this.target = options.target;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }

  toJSON(): { error: { code: string; message: string; target?: string; details?: readonly ArmErrorDetail[] } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.target === undefined ? {} : { target: this.target }),
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

const at = (target: string | undefined): ArmErrorOptions => (target === undefined ? {} : { target });

export const errors = {
  missingApiVersion: () =>
    new ArmError('MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests."),
  invalidApiVersion: (version: string, resourceType: string, supported: readonly string[]) =>
    new ArmError('InvalidApiVersionParameter',
      `The api-version '${version}' is invalid for ${resourceType}. The supported versions are '${supported.join(',')}'.`,
    ),
  invalidContent: (message: string, target?: string) => new ArmError('InvalidRequestContent', message, at(target)),
  invalidParameter: (message: string, target?: string) => new ArmError('InvalidParameter', message, at(target)),
  unsupportedMediaType: (contentType: string) =>
    new ArmError('UnsupportedMediaType', `The content media type '${contentType}' is not supported. Only 'application/json' is supported.`),
  bodyTooLarge: (limit: number) => new ArmError('RequestEntityTooLarge', `The request body is larger than ${limit} bytes.`),
  notFound: (type: string, name: string, group?: string) =>
    new ArmError('ResourceNotFound',
      `The Resource '${type}/${name}'${group === undefined ? '' : ` under resource group '${group}'`} was not found.`,
    ),
  groupNotFound: (group: string) => new ArmError('ResourceGroupNotFound', `Resource group '${group}' could not be found.`),
  subscriptionNotFound: (subscription: string) =>
    new ArmError('SubscriptionNotFound', `The subscription '${subscription}' could not be found.`),
  noRoute: (method: string, path: string) =>
    new ArmError('InvalidResourceType', `No route for ${method} ${path}: the resource type or path is not supported by certgate.`),
  methodNotAllowed: (method: string, path: string) =>
    new ArmError('MethodNotAllowed', `The method ${method} is not allowed on ${path}.`),
  preconditionFailed: (message: string) => new ArmError('PreconditionFailed', message),
  conflict: (code: ArmErrorCodeWithStatus<409>, message: string, target?: string) => new ArmError(code, message, at(target)),
  unauthenticated: (message: string, authorizationUri: string, code: ArmErrorCodeWithStatus<401> = 'AuthenticationFailed') =>
    new ArmError(code, message, {
      headers: { 'www-authenticate': `Bearer authorization_uri="${authorizationUri}", error="invalid_token", error_description="${message.replace(/"/g, "'")}"` },
    }),
  /** A bearer token certgate refuses, with ARM's code for the reason. */
  tokenRefused: (refusal: TokenRefusal, audience: string, authorizationUri: string) => {
    switch (refusal.reason) {
      case 'audience':
        return errors.unauthenticated(
          `The access token has been obtained for the wrong audience or resource '${refusal.audience}'. It should be '${audience}' (scope '${audience}.default').`,
          authorizationUri,
          'InvalidAuthenticationTokenAudience',
        );
      case 'expired':
        return errors.unauthenticated('The access token has expired. Get a new token from the token endpoint.', authorizationUri, 'ExpiredAuthenticationToken');
      case 'not_yet_valid':
        return errors.unauthenticated('The access token is not valid yet (nbf is in the future).', authorizationUri, 'InvalidAuthenticationToken');
      case 'subject':
        return errors.unauthenticated('The access token names a principal that does not exist (deleted, or never created).', authorizationUri, 'InvalidAuthenticationToken');
      case 'issuer':
      case 'tenant':
        return errors.unauthenticated(`The access token was not issued by this endpoint (its ${refusal.reason} is not ours).`, authorizationUri, 'InvalidAuthenticationToken');
      case 'signature':
      case 'malformed':
        return errors.unauthenticated('The access token is malformed or its signature is not valid.', authorizationUri, 'InvalidAuthenticationToken');
    }
  },
  /** The ingress could build no snapshot: nothing of the store's latest state is enforced. */
  storeUnavailable: (write: boolean, cause: unknown) =>
    new ArmError('StoreUnavailable',
      write
        ? 'The store (PostgreSQL) cannot be reached: nothing was written. The ingress keeps serving its last configuration; retry later.'
        : 'The store (PostgreSQL) cannot be reached: the resource cannot be read now. The ingress keeps serving its last configuration; retry later.',
      { headers: { 'retry-after': '5' }, cause },
    ),
  ingressApplyFailed: (revision: number, reason: string) =>
    new ArmError('IngressApplyFailed',
      `The change was stored (revision ${revision}) but the ingress could not apply it (${reason}); it keeps serving the previous configuration. Correct or revert the change with another write.`,
    ),
  /** The ingress serves the revision but leaves out part of the written resource. */
  notEnforced: (target: string, name: string, details: ArmErrorDetail[]) =>
    new ArmError('ConfigurationNotEnforced',
      `The change to '${name}' was stored but the ingress does not enforce it: ${details.map((detail) => detail.message).join('; ')}. Correct it with another write.`,
      { target, details },
    ),
  operationNotSupported: (message: string, target?: string) => new ArmError('OperationNotSupported', message, at(target)),
  invalidTemplate: (message: string, target?: string) => new ArmError('InvalidTemplate', `Deployment template validation failed: ${message}`, at(target)),
  deploymentNotFound: (name: string, group: string) => new ArmError('DeploymentNotFound', `Deployment '${name}' could not be found in resource group '${group}'.`),
  deploymentActive: (name: string) => new ArmError('DeploymentActive', `The deployment '${name}' is still running; wait until it finishes.`),
  tooManyDeployments: (limit: number) => new ArmError('TooManyRequests', `${limit} deployments are already running; retry when one has finished.`, { headers: { 'retry-after': '5' } }),
  invalidLocation: (message: string) => new ArmError('InvalidResourceLocation', message, { target: 'location' }),
  resourceGroupLocation: (group: string, location: string) =>
    new ArmError('InvalidResourceGroupLocation', `Resource group '${group}' already exists in location '${location}'; its location cannot be changed.`, { target: 'location' }),
  providerNotFound: (namespace: string) => new ArmError('ProviderNotFound', `The resource provider '${namespace}' is not served by certgate; only Microsoft.App is.`),
  /** A PKCS12 upload that cannot be read; `target` is properties.value or properties.password. */
  invalidCertificate: (code: 'InvalidCertificateValue' | 'InvalidCertificatePassword', message: string, target: string, cause?: unknown) =>
    new ArmError(code, message, { target, cause }),
  certificateNotLoadable: (message: string, target = 'properties.value') => new ArmError('CertificateNotLoadable', message, { target }),
  /** A 4xx the HTTP server (Fastify) reports for a request it could not take. */
  badRequest: (message: string, cause: unknown) => new ArmError('BadRequest', message, { cause }),
  internal: () => new ArmError('InternalServerError', 'An internal error occurred; the request changed nothing. See the server log.'),
} as const;
