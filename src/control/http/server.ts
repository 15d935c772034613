// The management endpoint: HTTPS (certificate from certgate's local CA), bearer tokens, the ARM
// error envelope for every failure, and one catch-all route whose path is parsed by arm/path.ts
// (so `//subscriptions` and `resourcegroups` work as az sends them).
import JSON5 from 'json5';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ArmError, errors } from '../arm/errors.ts';
import { StoreError } from '../../store/store.ts';
import { parseArmPath, splitRequestTarget } from '../arm/path.ts';
import { handleArmRequest } from '../resources/router.ts';
import type { ArmResponse, ControlContext } from '../resources/context.ts';
import { LIMITS, checkJsonShape } from '../validation/limits.ts';
import { cloudMetadata, jsonWebKeys, openIdConfiguration, tokenEndpoint, tokenExpectation, type OAuthResponse } from './oauth.ts';
import { CIPHERS } from '../../ingress/snapshot.ts';

export const MAX_BODY_BYTES = LIMITS.bodyBytes;

/**
 * Connection bounds (docs/management-api.md, Limits): a client that trickles a request, or sits on an
 * idle socket, is cut off instead of holding the port (red team: a 1 byte/s body held 320 s).
 */
export const TIMEOUTS = {
  /** The whole request, head and body, must arrive within this. */
  requestMs: 30_000,
  /** A socket with no traffic either way (a slow write is also awaited here) is closed. */
  idleMs: 60_000,
  /** An idle keep-alive connection between requests. */
  keepAliveMs: 5_000,
} as const;

/** The paths answered without a bearer token (the token endpoint and the discovery documents). */
const OPEN_PATHS = new Set(['GET /adfs/.well-known/openid-configuration', 'GET /adfs/discovery/keys', 'POST /adfs/oauth2/token', 'GET /metadata/endpoints']);

const utf8 = new TextDecoder('utf-8', { fatal: true });

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
    requestTimeout: TIMEOUTS.requestMs,
    connectionTimeout: TIMEOUTS.idleMs,
    keepAliveTimeout: TIMEOUTS.keepAliveMs,
  });

  // `Expect: 100-continue` with a Content-Length over the limit: 413 before the client sends the
  // body (Node would answer 100 Continue by itself, then the body was cut without an answer).
  app.server.on('checkContinue', (request, response) => {
    const length = Number(request.headers['content-length']);
    if (Number.isFinite(length) && length > MAX_BODY_BYTES) {
      const error = errors.bodyTooLarge(MAX_BODY_BYTES);
      const body = JSON.stringify(error.toJSON());
      response.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
      response.end(body);
      return;
    }
    response.writeContinue();
    app.server.emit('request', request, response);
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'text/json'], { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      // Never replaced by U+FFFD: a name or value certgate stores is what the client sent.
      text = utf8.decode(body as Buffer);
    } catch {
      done(errors.invalidContent('The request body is not valid UTF-8.'), undefined);
      return;
    }
    if (text === '') {
      done(null, undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = parseBody(text, request.url);
    } catch (error) {
      done(errors.invalidContent(`The request body is not valid JSON: ${(error as Error).message}`), undefined);
      return;
    }
    // Depth, lengths and counts before any handler walks the body (recursively) or merges it.
    try {
      checkJsonShape(parsed);
      refusePoisoning(parsed);
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

  // Authentication from the request head alone, before the body is read: a client without a valid
  // token gets its 401 at once and the connection is closed, never waited on while it trickles a body.
  app.decorateRequest('claims', undefined);
  app.addHook('onRequest', async (request, reply) => {
    const { path } = splitRequestTarget(request.raw.url ?? '/');
    if (OPEN_PATHS.has(`${request.method} ${path.toLowerCase()}`)) return;
    try {
      (request as FastifyRequest & { claims?: unknown }).claims = await authenticate(context, request.headers.authorization, baseUrlOf(request));
    } catch (error) {
      if (hasBody(request)) reply.header('connection', 'close');
      throw error;
    }
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
  const baseUrl = baseUrlOf(request);
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

  const claims = (request as FastifyRequest & { claims?: Awaited<ReturnType<typeof authenticate>> }).claims;
  if (!claims) throw errors.internal();
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

/**
 * JSON, except for deployments: az splices the template file into the body as it is
 * (`…, template:{…}}}`: an unquoted member name, and the file's comments), which ARM reads as
 * JSONC. Those bodies are read with JSON5, a superset; the same shape and poisoning checks follow.
 */
function parseBody(text: string, url: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (!/\/providers\/microsoft\.resources\/deployments\//i.test(splitRequestTarget(url).path)) throw error;
    return JSON5.parse(text);
  }
}

function baseUrlOf(request: FastifyRequest): string {
  return `https://${request.headers.host ?? 'localhost'}`;
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}

/**
 * JSON.parse keeps `__proto__` as an own member, which a later copy or merge may drop or turn into
 * a prototype (skipping the unknown-member 400): refused, as is `constructor.prototype`. Walked
 * after checkJsonShape, so the depth is bounded; escapes (`"\u005f_proto__"`) are decoded by then.
 */
function refusePoisoning(parsed: unknown): void {
  const pending = [parsed];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      pending.push(...value);
      continue;
    }
    const constructor = Object.hasOwn(value, 'constructor') ? (value as Record<string, unknown>)['constructor'] : undefined;
    const poisoned = Object.hasOwn(value, '__proto__') ? '__proto__' : typeof constructor === 'object' && constructor !== null && Object.hasOwn(constructor, 'prototype') ? 'constructor.prototype' : undefined;
    if (poisoned) throw errors.invalidContent(`The request body has a member named '${poisoned}', which certgate refuses (prototype poisoning).`);
    pending.push(...Object.values(value));
  }
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
  if (error instanceof StoreError && error.code === 'Unavailable') return errors.storeUnavailable(request.method !== 'GET' && request.method !== 'HEAD', error);
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
