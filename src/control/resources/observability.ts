// certgate extensions of the management API for what the gateway observes (docs/observability.md):
// the Gateway status and its recent refusals, and each app's inventory of client certificates in
// ARM's list shape (paged with nextLink). Read-only; the management token is checked as for every call.
import { hostname } from 'node:os';
import { APP_TYPE, appId, resourceKey } from '../../model/resources.ts';
import type { SeenCertificate } from '../../store/inventory.ts';
import { errors } from '../arm/errors.ts';
import type { ArmRequest, ArmResponse, ControlContext } from './context.ts';

export const CLIENT_CERTIFICATE_TYPE = 'Microsoft.App/containerApps/clientCertificates';
const DEFAULT_TOP = 100;
const MAX_TOP = 1_000;
const REFUSALS_DEFAULT_TOP = 50;
const DAY_MS = 86_400_000;

function top(request: ArmRequest, fallback: number): number {
  const value = request.query.get('$top');
  if (value === null) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_TOP) throw errors.invalidParameter(`$top must be a whole number from 1 to ${MAX_TOP}.`, '$top');
  return Number(value);
}

export async function gatewayView(context: ControlContext, request: ArmRequest, view: 'status' | 'refusals'): Promise<ArmResponse> {
  const host = context.observed;
  if (!host) throw errors.noRoute(request.method, request.pathname);
  if (view === 'refusals') return { status: 200, body: { value: await host.refusals(top(request, REFUSALS_DEFAULT_TOP)) } };
  const readiness = await host.readiness();
  // One machine: one replica, named after the host; a store replicas share lists every replica it knows.
  const registry = context.store.replicas;
  const replicas = registry
    ? (await registry.list()).map((replica) => ({ name: replica.name, revision: replica.revision, lastHeartbeat: replica.lastHeartbeat, live: replica.live }))
    : [{ name: hostname(), revision: readiness.revision, lastHeartbeat: new Date().toISOString(), live: readiness.ready }];
  return {
    status: 200,
    body: {
      revision: readiness.revision,
      ready: readiness.ready,
      replicas,
      workers: host.workerCount,
    },
  };
}

function render(appResourceId: string, seen: SeenCertificate): Record<string, unknown> {
  return {
    id: `${appResourceId}/clientCertificates/${seen.thumbprint}`,
    name: seen.thumbprint,
    type: CLIENT_CERTIFICATE_TYPE,
    properties: {
      thumbprint: seen.thumbprint,
      subject: seen.subject,
      issuer: seen.issuer,
      serialNumber: seen.serialNumber,
      subjectAlternativeNames: seen.subjectAlternativeNames,
      notBefore: seen.notBefore,
      notAfter: seen.notAfter,
      firstSeen: seen.firstSeen,
      lastSeen: seen.lastSeen,
      connectionCount: seen.connectionCount,
      lastVerdict: seen.lastVerdict,
    },
  };
}

/** The app's stored id (its casing), or a 404 naming it. */
async function requireApp(context: ControlContext, subscription: string, group: string, name: string): Promise<string> {
  const app = await context.store.get(appId(subscription, group, name));
  if (!app) throw errors.notFound(APP_TYPE, name, group);
  return app.id;
}

export async function listClientCertificates(context: ControlContext, request: ArmRequest, subscription: string, group: string, name: string): Promise<ArmResponse> {
  const id = await requireApp(context, subscription, group, name);
  const inventory = context.store.inventory;
  const size = top(request, DEFAULT_TOP);
  const token = request.query.get('$skipToken') ?? request.query.get('$skiptoken');
  let after: string | undefined;
  if (token !== null) {
    after = Buffer.from(token, 'base64url').toString('utf8');
    if (!/^[0-9a-f]{1,64}$/.test(after)) throw errors.invalidParameter('$skipToken is not one this API gave out (take it from nextLink).', '$skipToken');
  }
  const days = request.query.get('expiringWithinDays');
  let expiringBefore: string | undefined;
  if (days !== null) {
    if (!/^\d{1,5}$/.test(days)) throw errors.invalidParameter('expiringWithinDays must be a whole number of days (0 to 99999).', 'expiringWithinDays');
    expiringBefore = new Date(Date.now() + Number(days) * DAY_MS).toISOString();
  }
  const search = request.query.get('search') ?? undefined;
  if (search !== undefined && search.length > 256) throw errors.invalidParameter('search is at most 256 characters.', 'search');
  const page = await inventory.list({ app: resourceKey(id), top: size, after, expiringBefore, search });
  const value = page.items.map((seen) => render(id, seen));
  if (page.next === undefined) return { status: 200, body: { value } };
  const query = new URLSearchParams(request.query);
  query.delete('$skiptoken');
  query.set('$skipToken', Buffer.from(page.next).toString('base64url'));
  return { status: 200, body: { value, nextLink: `${request.baseUrl}${request.pathname}?${query.toString()}` } };
}

export async function getClientCertificate(context: ControlContext, subscription: string, group: string, name: string, thumbprint: string): Promise<ArmResponse> {
  const id = await requireApp(context, subscription, group, name);
  const seen = await context.store.inventory.get(resourceKey(id), thumbprint.toLowerCase());
  if (!seen) throw errors.notFound(CLIENT_CERTIFICATE_TYPE, `${name}/${thumbprint}`, group);
  return { status: 200, body: render(id, seen) };
}
