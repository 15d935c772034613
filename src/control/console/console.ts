// The web console at /console, on the management API's HTTPS server (never in an ingress process).
// Server-rendered pages and plain HTML forms, no script at all: the Content-Security-Policy forbids
// every script, inline style and plugin, so even a markup-injection bug could not run code. Every
// read and change goes through the management API itself (api.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import type { ControlContext } from '../resources/context.ts';
import { authenticatePrincipal } from '../auth/principals.ts';
import { consoleApi, isResourceId, type ApiError, type ConsoleApi, type Inject } from './api.ts';
import { SessionTable, csrfTokenMatches, type ConsoleSession } from './sessions.ts';
import { SignInThrottle } from './sign-in-throttle.ts';
import { StoreError } from '../../store/store.ts';
import { renderPage, notAvailable, notice, type Node } from './views/layout.ts';
import { signInView } from './views/sign-in.ts';
import { ALLOW_LISTS, appHref, appView, environmentsView, type AppViewOptions, type EnvironmentRow } from './views/apps.ts';
import { certificatesView, uploadForm, type CertificateSection } from './views/certificates.ts';
import { gatewayView, inventoryForm, inventoryTable, refusalsView } from './views/observe.ts';

export const CONSOLE_PREFIX = '/console';
/** `__Host-`: the browser keeps it only if Secure, Path=/ and without Domain (no subdomain can plant it). */
export const SESSION_COOKIE = '__Host-certgate-console';

/**
 * No script, no inline style, no plugin, no framing, forms only to this origin: the page can do
 * nothing but show text, follow links and submit its own forms.
 */
export const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** An uploaded certificate file: PKCS12 and PEM bundles are a few KiB; this bounds the body read. */
const MAX_UPLOAD_BYTES = 256 * 1024;

const STYLESHEET = readFileSync(join(import.meta.dirname, 'assets', 'console.css'));

export interface ConsoleOptions {
  readonly context: ControlContext;
  /** The management server's own entry: the console calls the API through it. */
  readonly inject: Inject;
  readonly sessions?: SessionTable;
  readonly throttle?: SignInThrottle;
}

type Authed = { session: ConsoleSession; api: ConsoleApi };

export async function consolePlugin(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const { context, inject } = options;
  // Where replicas share the store, so do their sessions: any replica serves a signed-in user.
  const sessions = options.sessions ?? new SessionTable({}, context.store.consoleSessions);
  const throttle = options.throttle ?? new SignInThrottle();
  // Multipart only here (the ARM routes keep JSON): one file, a few small fields.
  await app.register(multipart, { throwFileSizeLimit: false, limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 8, fieldSize: 4096, parts: 9, headerPairs: 20 } });

  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-resource-policy', 'same-origin');
    reply.header('cache-control', 'no-store');
  });

  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, request, reply) => {
    // Sessions live in the store where replicas share it: while it cannot be reached, say so.
    if (error instanceof StoreError && error.code === 'Unavailable') {
      request.log.warn({ path: CONSOLE_PREFIX, reason: 'store_unavailable' }, 'console request: the store cannot be reached');
      return sendPage(reply.code(503).header('retry-after', '5'), { title: 'Unavailable' }, notice('error', 'The configuration store cannot be reached: try again in a moment.'));
    }
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error, path: CONSOLE_PREFIX }, 'console request failed');
    const text = status >= 500 ? 'The console failed to answer; the error is in the server log.' : `The request was refused: ${error.message}`;
    return sendPage(reply.code(status), { title: 'Error' }, notice('error', text));
  });
  const notFound = async (_request: FastifyRequest, reply: FastifyReply) => sendPage(reply.code(404), { title: 'Not found' }, notice('error', 'There is no such console page.'));
  app.setNotFoundHandler(notFound);
  // Any other path or method under /console is the console's 404, never the ARM catch-all route
  // (which would find no bearer token's claims: the console's paths skip that check).
  app.route({ method: ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'POST', 'OPTIONS'], url: '/*', handler: notFound });
  app.route({ method: ['HEAD', 'PUT', 'PATCH', 'DELETE', 'POST', 'OPTIONS'], url: '/', handler: notFound });

  const sessionOf = (request: FastifyRequest): Promise<ConsoleSession | undefined> => sessions.get(cookieValue(request.headers.cookie, SESSION_COOKIE));
  const authed = async (request: FastifyRequest): Promise<Authed | undefined> => {
    const session = await sessionOf(request);
    return session ? { session, api: consoleApi(inject, context.tokens, session, request.headers.host ?? 'localhost') } : undefined;
  };
  /** A page for a signed-in principal; anyone else is sent to sign in. */
  const page = (handler: (request: FastifyRequest, reply: FastifyReply, auth: Authed) => Promise<unknown>) => async (request: FastifyRequest, reply: FastifyReply) => {
    const auth = await authed(request);
    if (!auth) {
      // A cookie the table no longer has: the session ended (lifetime, idle time, sign-out, restart).
      const ended = cookieValue(request.headers.cookie, SESSION_COOKIE) !== undefined;
      return reply.code(303).header('location', `${CONSOLE_PREFIX}/sign-in${ended ? '?ended=1' : ''}`).send();
    }
    return handler(request, reply, auth);
  };
  /** A state-changing call: same origin, a session, and that session's CSRF token. */
  const action = (handler: (request: FastifyRequest, reply: FastifyReply, auth: Authed, form: FormFields) => Promise<unknown>) => async (request: FastifyRequest, reply: FastifyReply) => {
    if (!sameOrigin(request)) return refuse(reply, 'The request did not come from a console page (cross-site requests are refused).');
    const auth = await authed(request);
    if (!auth) return refuse(reply, 'Not signed in, or the session has ended: sign in again.');
    const form = await readForm(request);
    if (!csrfTokenMatches(auth.session, form.fields.get('csrf'))) return refuse(reply, 'The form is missing its CSRF token or has a stale one: reload the page and try again.');
    return handler(request, reply, auth, form);
  };
  const send = (reply: FastifyReply, auth: Authed, title: string, current: string, body: Node) =>
    sendPage(reply, { title, current, csrfToken: auth.session.csrfToken, signedInAs: auth.session.clientId }, body);

  app.get('/assets/console.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(STYLESHEET));

  app.get('/', async (request, reply) => reply.code(303).header('location', `${CONSOLE_PREFIX}/${(await sessionOf(request)) ? 'environments' : 'sign-in'}`).send());

  app.get('/sign-in', async (request, reply) => {
    if (await sessionOf(request)) return reply.code(303).header('location', `${CONSOLE_PREFIX}/environments`).send();
    const { ended, out } = request.query as { ended?: string; out?: string };
    const note = out === '1' ? 'You are signed out.' : ended === '1' ? 'Your session has ended: sign in again.' : undefined;
    return sendPage(reply, { title: 'Sign in' }, signInView(undefined, '', note));
  });

  app.post('/sign-in', async (request, reply) => {
    // No session yet, so no token to check: the Origin check stops a login-CSRF into the attacker's principal.
    if (!sameOrigin(request)) return refuse(reply, 'The request did not come from the console sign-in page.');
    const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
    const clientId = (form.get('clientId') ?? '').trim().slice(0, 64);
    const secret = (form.get('clientSecret') ?? '').slice(0, 256);
    const wait = throttle.retryAfterSeconds(request.ip);
    if (wait > 0) {
      return sendPage(reply.code(429).header('retry-after', String(wait)), { title: 'Sign in' }, signInView(`Too many failed sign-ins from this address: try again in ${wait} seconds.`, clientId));
    }
    if (!throttle.begin()) {
      return sendPage(reply.code(503).header('retry-after', '1'), { title: 'Sign in' }, signInView('The server is busy checking other sign-ins: try again in a moment.', clientId));
    }
    let principal;
    try {
      principal = clientId && secret ? await authenticatePrincipal(context.store, clientId, secret) : undefined;
    } finally {
      throttle.end();
    }
    if (!principal) {
      throttle.recordFailure(request.ip);
      request.log.warn({ path: `${CONSOLE_PREFIX}/sign-in`, client: request.ip }, 'console sign-in refused');
      return sendPage(reply.code(401), { title: 'Sign in' }, signInView('The client id or secret is not valid.', clientId));
    }
    throttle.recordSuccess(request.ip);
    const session = await sessions.create(principal.clientId);
    reply.header('set-cookie', `${SESSION_COOKIE}=${session.id}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${sessions.maxAgeSeconds(session)}`);
    return reply.code(303).header('location', `${CONSOLE_PREFIX}/environments`).send();
  });

  app.post('/sign-out', action(async (_request, reply, auth) => {
    await sessions.delete(auth.session.id);
    return reply.code(303).header('set-cookie', `${SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`).header('location', `${CONSOLE_PREFIX}/sign-in?out=1`).send();
  }));

  app.get('/environments', page(async (request, reply, auth) => {
    const { mode } = request.query as { mode?: string };
    const loaded = await loadEnvironments(auth.api);
    if (!loaded.ok) return apiFailure(reply, auth, loaded.error);
    const filter = typeof mode === 'string' && mode !== '' ? mode.slice(0, 32) : undefined;
    return send(reply, auth, 'Environments and apps', '/console/environments', environmentsView(loaded.rows, filter));
  }));

  /** An app's page: its facts and forms, with the environment's certificates for the verification choices. */
  const appPage = async (reply: FastifyReply, auth: Authed, id: string, status: number, view: Omit<AppViewOptions, 'app' | 'csrfToken' | 'certificates'>) => {
    const result = await auth.api.call('GET', id);
    if (!result.ok) return apiFailure(reply, auth, result.error, result.status);
    const environment = String(result.body.properties?.managedEnvironmentId ?? '');
    const certificates = isResourceId(environment, 'managedEnvironments') ? await auth.api.list(`${environment}/certificates`) : undefined;
    return send(reply.code(status), auth, `App ${result.body.name}`, '/console/environments', appView({ app: result.body, csrfToken: auth.session.csrfToken, certificates: certificates?.ok ? certificates.body : [], ...view }));
  };

  app.get('/app', page(async (request, reply, auth) => {
    const { id, saved, verification } = request.query as { id?: string; saved?: string; verification?: string };
    if (!isResourceId(id, 'containerApps')) return send(reply.code(400), auth, 'App', '/console/environments', notice('error', 'The link does not name a container app.'));
    return appPage(reply, auth, id, 200, { saved: saved === '1', verificationSaved: verification === 'saved' });
  }));

  app.post('/app/mode', action(async (_request, reply, auth, form) => {
    const id = form.fields.get('id');
    if (!isResourceId(id, 'containerApps')) return send(reply.code(400), auth, 'App', '/console/environments', notice('error', 'The form does not name a container app.'));
    const mode = form.fields.get('clientCertificateMode') ?? '';
    // A PATCH of the app, as any ARM client sends: validated and awaited until enforced by the API.
    const result = await auth.api.call('PATCH', id, { properties: { configuration: { ingress: { clientCertificateMode: mode } } } });
    if (result.ok) return reply.code(303).header('location', `${appHref(id)}&saved=1`).send();
    return appPage(reply, auth, id, result.status, { error: result.error, submitted: mode });
  }));

  app.post('/app/verification', action(async (_request, reply, auth, form) => {
    const id = form.fields.get('id');
    if (!isResourceId(id, 'containerApps')) return send(reply.code(400), auth, 'App', '/console/environments', notice('error', 'The form does not name a container app.'));
    // A merge patch: an empty choice removes the member (null), so the policy is what the form shows.
    const list = (field: string) => form.fields.getAll(field).map((value) => value.trim()).filter((value) => value !== '');
    const lines = (field: string) => (form.fields.get(field) ?? '').split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
    const orNull = (values: string[]) => (values.length > 0 ? values : null);
    const allow = Object.fromEntries(ALLOW_LISTS.map((item) => [item.key, lines(item.field)]).filter(([, values]) => values!.length > 0));
    const mode = form.fields.get('validationMode') ?? '';
    const ingress = {
      clientCertificateTrustAnchors: orNull(list('anchors')),
      clientCertificateIntermediates: orNull(list('intermediates')),
      clientCertificateRevocationLists: orNull(list('crls')),
      clientCertificateValidationMode: mode === '' || mode === 'AllowValidOnly' ? null : mode,
      clientCertificateAllow: Object.keys(allow).length > 0 ? allow : null,
    };
    const result = await auth.api.call('PATCH', id, { properties: { configuration: { ingress } } });
    if (result.ok) return reply.code(303).header('location', `${appHref(id)}&verification=saved`).send();
    return appPage(reply, auth, id, result.status, { verificationError: result.error });
  }));

  const certificatesPage = async (reply: FastifyReply, auth: Authed, status: number, form: Parameters<typeof uploadForm>[0] extends infer O ? Omit<O & object, 'environments' | 'csrfToken'> : never) => {
    const loaded = await loadEnvironments(auth.api);
    if (!loaded.ok) return apiFailure(reply, auth, loaded.error);
    const sections: CertificateSection[] = [];
    for (const row of loaded.rows) {
      const certificates = await auth.api.list(`${row.environment.id}/certificates`);
      if (!certificates.ok) return apiFailure(reply, auth, certificates.error, certificates.status);
      // Managed (ACME) certificates, where the server has them.
      const managed = await auth.api.list(`${row.environment.id}/managedCertificates`);
      sections.push({ environment: row.environment, certificates: certificates.body, apps: row.apps, managed: managed.ok ? managed.body : undefined });
    }
    const environments = loaded.rows.map((row) => row.environment);
    // A link's ?uploaded= names a certificate only if it exists: a crafted link cannot make up a message.
    const uploaded = form.uploaded !== undefined && sections.some((section) => section.certificates.some((certificate) => certificate.name === form.uploaded)) ? form.uploaded : undefined;
    return send(reply.code(status), auth, 'Certificates', '/console/certificates', [
      certificatesView(sections),
      uploadForm({ environments, csrfToken: auth.session.csrfToken, ...form, uploaded }),
    ] as Node);
  };

  app.get('/certificates', page(async (request, reply, auth) => {
    const { uploaded } = request.query as { uploaded?: string };
    return certificatesPage(reply, auth, 200, { uploaded: typeof uploaded === 'string' ? uploaded : undefined });
  }));

  app.post('/certificates', action(async (_request, reply, auth, form) => {
    const environment = form.fields.get('environment') ?? undefined;
    const name = (form.fields.get('name') ?? '').trim();
    const certificateType = form.fields.get('certificateType') ?? 'ServerSSLCertificate';
    const values = { environment, name, certificateType };
    const refused = (error: ApiError, status = 400) => certificatesPage(reply, auth, status, { error, values });
    if (!isResourceId(environment, 'managedEnvironments')) return refused({ code: 'InvalidParameter', message: 'Choose an environment.', target: 'environment' });
    if (name === '') return refused({ code: 'InvalidParameter', message: 'Give the certificate a name.', target: 'name' });
    if (form.fileTooLarge) return refused({ code: 'RequestEntityTooLarge', message: `The file is larger than ${MAX_UPLOAD_BYTES / 1024} KiB.`, target: 'properties.value' }, 413);
    if (!form.file || form.file.length === 0) return refused({ code: 'InvalidRequestContent', message: 'Choose the certificate file.', target: 'properties.value' });
    const env = await auth.api.call('GET', environment);
    if (!env.ok) return refused(env.error, env.status);
    const properties: Record<string, unknown> = { value: form.file.toString('base64'), password: form.fields.get('password') ?? '' };
    // ACA's own type is the default the API applies; certgate's trust types are sent as chosen.
    if (certificateType !== 'ServerSSLCertificate') properties['certificateType'] = certificateType;
    const result = await auth.api.call('PUT', `${environment}/certificates/${encodeURIComponent(name)}`, { location: env.body.location, properties });
    if (!result.ok) return refused(result.error, result.status);
    return reply.code(303).header('location', `${CONSOLE_PREFIX}/certificates?uploaded=${encodeURIComponent(name)}`).send();
  }));

  app.get('/inventory', page(async (request, reply, auth) => {
    const query = request.query as Record<string, string | undefined>;
    const loaded = await loadEnvironments(auth.api);
    if (!loaded.ok) return apiFailure(reply, auth, loaded.error);
    const apps = loaded.rows.flatMap((row) => row.apps);
    const chosen = isResourceId(query['app'], 'containerApps') ? query['app'] : apps[0]?.id;
    const form = { app: chosen, search: textParam(query['search']), expiringWithinDays: /^\d{1,4}$/.test(query['expiringWithinDays'] ?? '') ? query['expiringWithinDays'] : undefined };
    const title = 'Client certificates seen';
    if (!chosen) return send(reply, auth, title, '/console/inventory', notice('info', 'No apps yet.'));
    const params = new URLSearchParams({ $top: '50' });
    if (form.search) params.set('search', form.search);
    if (form.expiringWithinDays) params.set('expiringWithinDays', form.expiringWithinDays);
    const skip = textParam(query['skipToken']);
    if (skip) params.set('$skipToken', skip);
    const result = await auth.api.call('GET', `${chosen}/clientCertificates?${params}`);
    if (!result.ok && isMissingApi(result)) return send(reply, auth, title, '/console/inventory', [inventoryForm(apps, form), notAvailable('The client-certificate inventory')] as Node);
    if (!result.ok) return send(reply.code(result.status), auth, title, '/console/inventory', [inventoryForm(apps, form), notice('error', `${result.error.message} (${result.error.code})`)] as Node);
    const nextToken = typeof result.body?.nextLink === 'string' ? new URL(result.body.nextLink, 'https://certgate.invalid').searchParams.get('$skipToken') : null;
    const next = nextToken ? `${CONSOLE_PREFIX}/inventory?${new URLSearchParams({ app: chosen, ...(form.search ? { search: form.search } : {}), ...(form.expiringWithinDays ? { expiringWithinDays: form.expiringWithinDays } : {}), skipToken: nextToken })}` : undefined;
    return send(reply, auth, title, '/console/inventory', [inventoryForm(apps, form), inventoryTable(result.body?.value ?? [], next)] as Node);
  }));

  app.get('/refusals', page(async (_request, reply, auth) => {
    const result = await auth.api.call('GET', '/providers/Certgate.Gateway/refusals?$top=50');
    if (!result.ok && isMissingApi(result)) return send(reply, auth, 'Refusals', '/console/refusals', notAvailable('Recent refusals'));
    if (!result.ok) return apiFailure(reply, auth, result.error, result.status);
    return send(reply, auth, 'Refusals', '/console/refusals', refusalsView(result.body?.value ?? []));
  }));

  app.get('/gateway', page(async (_request, reply, auth) => {
    const result = await auth.api.call('GET', '/providers/Certgate.Gateway/status');
    if (!result.ok && isMissingApi(result)) return send(reply, auth, 'Gateway', '/console/gateway', notAvailable('The gateway status'));
    if (!result.ok) return apiFailure(reply, auth, result.error, result.status);
    return send(reply, auth, 'Gateway', '/console/gateway', gatewayView(result.body));
  }));

  /** An API error on a page: shown as such; a refused token (principal deleted) ends the session. */
  async function apiFailure(reply: FastifyReply, auth: Authed, error: ApiError, status = 502) {
    if (status === 401) {
      await sessions.delete(auth.session.id);
      return reply.code(303).header('location', `${CONSOLE_PREFIX}/sign-in`).send();
    }
    return send(reply.code(status), auth, 'Error', '', notice('error', `${error.message} (${error.code})`));
  }
}

/** An API the server does not have (yet): the management API's no-route answer. */
function isMissingApi(result: { status: number; error: ApiError }): boolean {
  return result.status === 404 && result.error.code === 'InvalidResourceType';
}

function textParam(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value.slice(0, 256) : undefined;
}

async function loadEnvironments(api: ConsoleApi): Promise<{ ok: true; rows: EnvironmentRow[] } | { ok: false; error: ApiError }> {
  const subscriptions = await api.list('/subscriptions');
  if (!subscriptions.ok) return subscriptions;
  const rows: EnvironmentRow[] = [];
  for (const subscription of subscriptions.body) {
    const environments = await api.list(`${subscription.id}/providers/Microsoft.App/managedEnvironments`);
    if (!environments.ok) return environments;
    const apps = await api.list(`${subscription.id}/providers/Microsoft.App/containerApps`);
    if (!apps.ok) return apps;
    for (const environment of environments.body) {
      const key = String(environment.id).toLowerCase();
      rows.push({ environment, apps: apps.body.filter((app) => String(app.properties?.managedEnvironmentId ?? '').toLowerCase() === key) });
    }
  }
  return { ok: true, rows };
}

/**
 * The browser's own statement of where a POST comes from: Origin must be this server (browsers send
 * it on every POST), and Sec-Fetch-Site, when sent, same-origin. A form on another site fails here
 * even before SameSite=Strict keeps the cookie away.
 */
function sameOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = request.headers.origin;
  return origin !== undefined && origin === `https://${request.headers.host}`;
}

function refuse(reply: FastifyReply, text: string) {
  return sendPage(reply.code(403), { title: 'Refused' }, notice('error', text));
}

function sendPage(reply: FastifyReply, options: Parameters<typeof renderPage>[0], body: Node) {
  return reply.type('text/html; charset=utf-8').send(renderPage(options, body));
}

/** One cookie's value from a Cookie header (the session id is base64url: nothing to decode). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

interface FormFields {
  readonly fields: URLSearchParams;
  readonly file?: Buffer;
  readonly fileTooLarge?: boolean;
}

/** A form body: urlencoded (parsed by the server) or multipart (one bounded file). */
async function readForm(request: FastifyRequest): Promise<FormFields> {
  if (request.body instanceof URLSearchParams) return { fields: request.body };
  if (!request.isMultipart()) return { fields: new URLSearchParams() };
  const fields = new URLSearchParams();
  let file: Buffer | undefined;
  let fileTooLarge = false;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      const content = await part.toBuffer();
      if (part.file.truncated) fileTooLarge = true;
      else file = content;
    } else if (typeof part.value === 'string') {
      fields.append(part.fieldname, part.value);
    }
  }
  return { fields, file, fileTooLarge };
}
