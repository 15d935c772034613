// Just enough OAuth2 and cloud metadata for `az cloud register` + `az login --service-principal`
// (ADFS-style: the login endpoint ends in /adfs, so MSAL skips instance discovery) and for the
// Azure SDK's ClientSecretCredential. Only the client-credentials grant exists.
import { OAUTH_ERRORS, type OAuthErrorCode } from '../arm/errors.ts';
import type { Store } from '../../store/store.ts';
import { authenticatePrincipal } from '../auth/principals.ts';
import { normaliseAudience, type TokenExpectation, type TokenIssuer } from '../auth/tokens.ts';

// ARM's public-cloud resource ids: the Azure SDK asks for https://management.azure.com/.default
// whatever its endpoint, and az's public-cloud profile for management.core.windows.net. certgate is
// the resource manager of its own cloud, so it answers to them too (its tokens verify nowhere else).
const ARM_AUDIENCES = ['https://management.azure.com/', 'https://management.core.windows.net/'];

/** The audiences and issuer of the tokens this endpoint (as the client addressed it) issues and accepts. */
export function tokenExpectation(baseUrl: string): TokenExpectation {
  return { audiences: [`${baseUrl}/`, ...ARM_AUDIENCES].map(normaliseAudience), issuers: [`${baseUrl}/adfs`] };
}

export interface OAuthResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * GET /metadata/endpoints: what `az cloud register --endpoint-resource-manager` reads. One object that
 * serves both formats: az 2.45 asks for api-version 2015-01-01 (`*Endpoint` names), az 2.74 for
 * 2022-09-01 and refuses a cloud without `graphAudience` (it needs the four endpoints resource
 * manager, login, audience and graph). certgate has no directory graph: the graph audiences name a
 * host that does not exist, and the token endpoint refuses tokens for them (`az ad` fails clearly).
 */
export function cloudMetadata(baseUrl: string): OAuthResponse {
  const endpoint = `${baseUrl}/`;
  const graph = 'https://graph.certgate.invalid/';
  return {
    status: 200,
    body: {
      name: 'certgate',
      // 2015-01-01 names (az 2.45)
      galleryEndpoint: endpoint,
      graphEndpoint: graph,
      portalEndpoint: endpoint,
      // 2022-09-01 names (az 2.74)
      gallery: endpoint,
      graph,
      graphAudience: graph,
      microsoftGraphResourceId: graph,
      portal: endpoint,
      resourceManager: endpoint,
      authentication: { loginEndpoint: `${baseUrl}/adfs`, audiences: [endpoint], tenant: 'adfs', identityProvider: 'ADFS' },
      suffixes: { acrLoginServer: 'certgate.invalid', keyVaultDns: 'vault.certgate.invalid', storage: 'core.certgate.invalid' },
    },
  };
}

/** GET /adfs/.well-known/openid-configuration */
export function openIdConfiguration(baseUrl: string): OAuthResponse {
  const issuer = `${baseUrl}/adfs`;
  return {
    status: 200,
    body: {
      issuer,
      authorization_endpoint: `${issuer}/oauth2/authorize`,
      token_endpoint: `${issuer}/oauth2/token`,
      // MSAL (so @azure/identity's ClientSecretCredential) rejects a configuration without jwks_uri.
      jwks_uri: `${issuer}/discovery/keys`,
      grant_types_supported: ['client_credentials'],
      response_types_supported: ['token'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      scopes_supported: ['openid'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['HS256'],
      access_token_issuer: issuer,
    },
  };
}

/** GET /adfs/discovery/keys: tokens are HS256 (a shared key), so there is no public key to publish. */
export function jsonWebKeys(): OAuthResponse {
  return { status: 200, body: { keys: [] } };
}

/** POST /adfs/oauth2/token with a form body (RFC 6749 4.4). Errors in OAuth's shape, never the secret. */
export async function tokenEndpoint(
  store: Store,
  tokens: TokenIssuer,
  baseUrl: string,
  form: URLSearchParams,
  authorization: string | undefined,
): Promise<OAuthResponse> {
  const oauthError = (error: OAuthErrorCode, description: string): OAuthResponse => ({
    status: OAUTH_ERRORS[error].status,
    body: { error, error_description: description },
    headers: { 'cache-control': 'no-store' },
  });
  if (form.get('grant_type') !== 'client_credentials') {
    return oauthError('unsupported_grant_type', 'certgate issues tokens for the client_credentials grant only.');
  }
  let clientId = form.get('client_id') ?? '';
  let clientSecret = form.get('client_secret') ?? '';
  if (authorization?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      clientId = decodeURIComponent(decoded.slice(0, colon));
      clientSecret = decodeURIComponent(decoded.slice(colon + 1));
    }
  }
  if (!clientId || !clientSecret) return oauthError('invalid_request', 'client_id and client_secret are required.');
  const principal = await authenticatePrincipal(store, clientId, clientSecret);
  if (!principal) return oauthError('invalid_client', 'The client id or secret is not valid.');
  const scope = form.get('scope') ?? '';
  const audience = scope.split(' ').find((item) => item.endsWith('/.default'))?.replace(/\/\.default$/, '') ?? form.get('resource') ?? `${baseUrl}/`;
  const expected = tokenExpectation(baseUrl);
  // Tokens only for this endpoint: a token for any other resource would be refused by it anyway.
  if (!expected.audiences.includes(normaliseAudience(audience))) {
    return oauthError('invalid_resource', `certgate issues tokens only for its management endpoint (resource '${baseUrl}/', scope '${baseUrl}/.default'), not for '${audience}'.`);
  }
  const { token, expiresIn } = await tokens.issue(principal.clientId, audience, expected.issuers[0]!);
  return {
    status: 200,
    body: {
      token_type: 'Bearer',
      access_token: token,
      expires_in: expiresIn,
      ext_expires_in: expiresIn,
      expires_on: Math.floor(Date.now() / 1000) + expiresIn,
      resource: audience,
      scope: scope || undefined,
    },
    headers: { 'cache-control': 'no-store', pragma: 'no-cache' },
  };
}
