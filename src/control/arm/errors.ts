// The ARM error envelope and the one catalog of errors the control plane answers with.
// {"error":{"code":"PascalCase","message":"...","target":"...","details":[...]}}
import type { TokenRefusal } from '../auth/tokens.ts';

export interface ArmErrorDetail {
  readonly code: string;
  readonly message: string;
  readonly target?: string;
}

export class ArmError extends Error {
  readonly status: number;
  readonly code: string;
  readonly target: string | undefined;
  readonly details: readonly ArmErrorDetail[] | undefined;
  /** Extra response headers (e.g. WWW-Authenticate on 401). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { target?: string; details?: ArmErrorDetail[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'ArmError';
    this.status = status;
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

export const errors = {
  missingApiVersion: () =>
    new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests."),
  invalidApiVersion: (version: string, resourceType: string, supported: readonly string[]) =>
    new ArmError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${version}' is invalid for ${resourceType}. The supported versions are '${supported.join(',')}'.`,
    ),
  invalidContent: (message: string, target?: string) => new ArmError(400, 'InvalidRequestContent', message, target === undefined ? {} : { target }),
  invalidParameter: (message: string, target?: string) => new ArmError(400, 'InvalidParameter', message, target === undefined ? {} : { target }),
  unsupportedMediaType: (contentType: string) =>
    new ArmError(415, 'UnsupportedMediaType', `The content media type '${contentType}' is not supported. Only 'application/json' is supported.`),
  bodyTooLarge: (limit: number) => new ArmError(413, 'RequestEntityTooLarge', `The request body is larger than ${limit} bytes.`),
  notFound: (type: string, name: string, group?: string) =>
    new ArmError(
      404,
      'ResourceNotFound',
      `The Resource '${type}/${name}'${group === undefined ? '' : ` under resource group '${group}'`} was not found.`,
    ),
  groupNotFound: (group: string) => new ArmError(404, 'ResourceGroupNotFound', `Resource group '${group}' could not be found.`),
  subscriptionNotFound: (subscription: string) =>
    new ArmError(404, 'SubscriptionNotFound', `The subscription '${subscription}' could not be found.`),
  noRoute: (method: string, path: string) =>
    new ArmError(404, 'InvalidResourceType', `No route for ${method} ${path}: the resource type or path is not supported by certgate.`),
  methodNotAllowed: (method: string, path: string) =>
    new ArmError(405, 'MethodNotAllowed', `The method ${method} is not allowed on ${path}.`),
  preconditionFailed: (message: string) => new ArmError(412, 'PreconditionFailed', message),
  conflict: (code: string, message: string, target?: string) => new ArmError(409, code, message, target === undefined ? {} : { target }),
  unauthenticated: (message: string, authorizationUri: string, code = 'AuthenticationFailed') =>
    new ArmError(401, code, message, {
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
  ingressApplyFailed: (revision: number, reason: string) =>
    new ArmError(
      500,
      'IngressApplyFailed',
      `The change was stored (revision ${revision}) but the ingress could not apply it (${reason}); it keeps serving the previous configuration. Correct or revert the change with another write.`,
    ),
  /** The ingress serves the revision but leaves out part of the written resource. */
  notEnforced: (target: string, name: string, details: ArmErrorDetail[]) =>
    new ArmError(
      400,
      'ConfigurationNotEnforced',
      `The change to '${name}' was stored but the ingress does not enforce it: ${details.map((detail) => detail.message).join('; ')}. Correct it with another write.`,
      { target, details },
    ),
  internal: () => new ArmError(500, 'InternalServerError', 'An internal error occurred; the request changed nothing. See the server log.'),
} as const;
