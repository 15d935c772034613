// The management endpoint: HTTPS (certificate from certgate's local CA), bearer tokens, the ARM
// error envelope for every failure, and one catch-all route whose path is parsed by arm/path.ts
// (so `//subscriptions` and `resourcegroups` work as az sends them).
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ArmError, errors } from '../arm/errors.ts';
import { parseArmPath, splitRequestTarget } from '../arm/path.ts';
import { handleArmRequest } from '../resources/router.ts';
import type { ArmResponse, ControlContext } from '../resources/context.ts';
import { LIMITS, checkJsonShape } from '../validation/limits.ts';
import { cloudMetadata, jsonWebKeys, openIdConfiguration, tokenEndpoint, tokenExpectation, type OAuthResponse } from './oauth.ts';
import { CIPHERS } from '../../ingress/snapshot.ts';

export const MAX_BODY_BYTES = LIMITS.bodyBytes;

export interface ManagementServerOptions {
  readonly context: ControlContext;
  readonly tls: { readonly cert: string; readonly key: string };
  readonly log: Logger;
}

export function createManagementServer(options: ManagementServerOptions) {
  const { context, log } = options;
  const app = Fastify({
    // The ingress's default suites (TLS 1.2 AEAD only): its clients (az, the SDKs) all have them.
    https: { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2', ciphers: CIPHERS.modern },
    loggerInstance: log,
    // One line per request is logged by the route itself (method, path, status, time; never headers).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    exposeHeadRoutes: false,
    return503OnClosing: true,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'text/json'], { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') {
      done(null, undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body as string);
    } catch (error) {
      done(errors.invalidContent(`The request body is not valid JSON: ${(error as Error).message}`), undefined);
      return;
    }
    // Depth, lengths and counts before any handler walks the body (recursively) or merges it.
    try {
      checkJsonShape(parsed);
    } catch (error) {
      done(error as Error, undefined);
      return;
    }
    done(null, parsed);
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, new URLSearchParams(body as string));
  });

  app.setErrorHandler((error: Error & { code?: string; statusCode?: number }, request, reply) => {
    const arm = toArmError(error, request);
    if (arm.status >= 500) log.error({ err: error, method: request.method, path: splitRequestTarget(request.url).path }, 'management request failed');
    void sendArm(reply, { status: arm.status, body: arm.toJSON(), headers: arm.headers });
  });
  app.setNotFoundHandler((request, reply) => {
    const arm = errors.noRoute(request.method, splitRequestTarget(request.url).path);
    void sendArm(reply, { status: arm.status, body: arm.toJSON() });
  });

  // One line per request, errors included: method, path, status and time; never headers or bodies.
  app.addHook('onResponse', async (request, reply) => {
    log.info({ method: request.method, path: splitRequestTarget(request.url).path, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'management request');
  });

  app.route({
    method: ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'POST'],
    url: '*',
    handler: async (request, reply) => sendArm(reply, await dispatch(context, request)),
  });
  return app;
}

async function dispatch(context: ControlContext, request: FastifyRequest): Promise<ArmResponse | OAuthResponse> {
  const { path, query } = splitRequestTarget(request.raw.url ?? '/');
  const baseUrl = `https://${request.headers.host ?? 'localhost'}`;
  const lower = path.toLowerCase();
  if (lower === '/adfs/.well-known/openid-configuration' && request.method === 'GET') return openIdConfiguration(baseUrl);
  if (lower === '/adfs/discovery/keys' && request.method === 'GET') return jsonWebKeys();
  if (lower === '/adfs/oauth2/token' && request.method === 'POST') {
    if (!(request.body instanceof URLSearchParams)) {
      return { status: 400, body: { error: 'invalid_request', error_description: 'Send the token request as application/x-www-form-urlencoded.' } };
    }
    return tokenEndpoint(context.store, context.tokens, baseUrl, request.body, request.headers.authorization);
  }
  if (lower === '/metadata/endpoints' && request.method === 'GET') return cloudMetadata(baseUrl);

  const claims = await authenticate(context, request.headers.authorization, baseUrl);
  const armPath = parseArmPath(path);
  if (!armPath) throw errors.noRoute(request.method, path);
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return handleArmRequest(context, {
    method: request.method,
    path: armPath,
    pathname: path,
    query,
    body: request.body,
    ifMatch: header('if-match'),
    ifNoneMatch: header('if-none-match'),
    baseUrl,
    actor: claims.appid,
  });
}

async function authenticate(context: ControlContext, authorization: string | undefined, baseUrl: string) {
  const authorizationUri = `${baseUrl}/adfs`;
  if (!authorization) throw errors.unauthenticated('Authentication failed: the Authorization header is missing. Send a bearer token from the token endpoint.', authorizationUri);
  const match = /^Bearer +(\S+)$/i.exec(authorization);
  if (!match) throw errors.unauthenticated("Authentication failed: the Authorization header must be 'Bearer <token>'.", authorizationUri);
  const expected = tokenExpectation(baseUrl);
  const verdict = await context.tokens.verify(match[1]!, expected);
  if (!verdict.ok) throw errors.tokenRefused(verdict, `${baseUrl}/`, authorizationUri);
  return verdict.claims;
}

function sendArm(reply: FastifyReply, response: ArmResponse | OAuthResponse) {
  reply.code(response.status);
  for (const [name, value] of Object.entries(response.headers ?? {})) reply.header(name, value);
  reply.header('x-ms-request-id', reply.request.id);
  if (response.body === undefined) return reply.send();
  reply.header('content-type', 'application/json; charset=utf-8');
  return reply.send(JSON.stringify(response.body));
}

function toArmError(error: Error & { code?: string; statusCode?: number }, request: FastifyRequest): ArmError {
  if (error instanceof ArmError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupportedMediaType(String(request.headers['content-type'] ?? ''));
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.bodyTooLarge(MAX_BODY_BYTES);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.invalidContent('The request body is empty.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.invalidContent('The Content-Length does not match the body.');
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return errors.badRequest(error.message, error);
  }
  return errors.internal();
}
