import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admitRequest } from './admission.ts';
import { compileIpRules } from '../listener/ip-rules.ts';
import type { CompiledApp, Route, RouteSnapshot, TlsPolicy } from '../snapshot.ts';
import { CLIENT_CERTIFICATE_POLICIES } from '../../model/ingress.ts';

function app(name: string, mode: CompiledApp['mode'], extra: Partial<CompiledApp> = {}): CompiledApp {
  return { key: name, id: name, name, mode, clientCertificate: CLIENT_CERTIFICATE_POLICIES[mode], allowInsecure: false, upstream: { host: '127.0.0.1', port: 1, origin: 'http://127.0.0.1:1' }, external: true, ipRules: undefined, ...extra };
}
// The admission logic compares policies by identity only; these stand in for compiled ones.
const policy = (label: string) => ({ label, admissionKey: label }) as unknown as TlsPolicy;
const open = app('open', 'ignore');
const strict = app('strict', 'require');
const openPolicy = policy('open');
const strictPolicy = policy('strict');
const routes = new Map<string, Route>([
  ['open.env.test', { hostname: 'open.env.test', app: open, tls: openPolicy }],
  ['strict.env.test', { hostname: 'strict.env.test', app: strict, tls: strictPolicy }],
  ['strict.example.com', { hostname: 'strict.example.com', app: strict, tls: policy('strict-custom') }],
]);
const snapshot: RouteSnapshot = { revision: 1, routes, internalRoutes: routes, fallback: policy('fallback') };
const openRoute = routes.get('open.env.test')!;
const strictRoute = routes.get('strict.env.test')!;

test('a Host naming the connection\'s app is admitted, with port and any casing', () => {
  const result = admitRequest(snapshot, strictRoute, 'STRICT.env.test:8443', 'strict.env.test');
  assert.equal(result.admit, true);
  assert.equal(result.admit && result.app, strict);
});

test('a custom domain of the same app is the same app', () => {
  assert.equal(admitRequest(snapshot, strictRoute, 'strict.example.com', 'strict.env.test').admit, true);
});

test('SNI of a lenient app with the Host of a strict app is 421', () => {
  const result = admitRequest(snapshot, openRoute, 'strict.env.test', 'open.env.test');
  assert.deepEqual(result, { admit: false, status: 421, message: 'this connection was made for open.env.test and cannot serve strict.env.test (misdirected_connection)', reason: 'misdirected_connection', closeConnection: false });
});

test('an unknown Host on an app connection is 421', () => {
  const result = admitRequest(snapshot, openRoute, 'nowhere.test', 'open.env.test');
  assert.equal(!result.admit && result.status, 421);
});

test('no SNI: unknown hosts get 404 naming the host, app hosts 421', () => {
  const unknown = admitRequest(snapshot, undefined, 'nowhere.test', undefined);
  assert.equal(!unknown.admit && unknown.status, 404);
  assert.match(!unknown.admit ? unknown.message : '', /nowhere\.test/);
  const known = admitRequest(snapshot, undefined, 'strict.env.test', undefined);
  assert.equal(!known.admit && known.status, 421);
});

test('a connection whose app policy changed is refused and closed', () => {
  const changedRoutes = new Map([...routes, ['open.env.test', { hostname: 'open.env.test', app: app('open', 'require'), tls: policy('open-v2') }]]);
  const changed: RouteSnapshot = { revision: 2, routes: changedRoutes, internalRoutes: changedRoutes, fallback: snapshot.fallback };
  const result = admitRequest(changed, openRoute, 'open.env.test', 'open.env.test');
  assert.equal(!result.admit && result.status, 421);
  assert.equal(!result.admit && result.closeConnection, true);
  const deleted: RouteSnapshot = { revision: 3, routes: new Map(), internalRoutes: new Map(), fallback: snapshot.fallback };
  assert.equal(admitRequest(deleted, openRoute, 'open.env.test', 'open.env.test').admit, false);
});

test('a missing Host falls back to the SNI; a malformed one is 400', () => {
  assert.equal(admitRequest(snapshot, strictRoute, undefined, 'strict.env.test').admit, true);
  const malformed = admitRequest(snapshot, strictRoute, 'strict.env.test:notaport', 'strict.env.test');
  assert.equal(!malformed.admit && malformed.status, 400);
  const none = admitRequest(snapshot, undefined, undefined, undefined);
  assert.equal(!none.admit && none.status, 400);
});

test('an internal app is unknown on the external listener and served on the internal one', () => {
  const inner = app('inner', 'ignore', { external: false });
  const innerRoute: Route = { hostname: 'inner.env.test', app: inner, tls: policy('inner') };
  const split: RouteSnapshot = { revision: 4, routes, internalRoutes: new Map([...routes, ['inner.env.test', innerRoute]]), fallback: snapshot.fallback };
  // On the external listener the SNI found no route (fallback certificate): what any unknown host gets.
  assert.deepEqual(admitRequest(split, undefined, 'inner.env.test', 'inner.env.test', 'external'), { admit: false, status: 404, message: 'no app is served at inner.env.test (no_app)', reason: 'no_app', closeConnection: false });
  assert.equal(admitRequest(split, innerRoute, 'inner.env.test', 'inner.env.test', 'internal').admit, true);
  // External apps are reachable from inside too.
  assert.equal(admitRequest(split, openRoute, 'open.env.test', 'open.env.test', 'internal').admit, true);
});

test("a connection whose client the app's new IP restrictions exclude gets 403 and is closed", () => {
  const restricted = app('open', 'ignore', { ipRules: compileIpRules([{ ipAddressRange: '127.0.0.2', action: 'Deny' }]) });
  const restrictedRoutes = new Map([...routes, ['open.env.test', { hostname: 'open.env.test', app: restricted, tls: openPolicy }]]);
  const now: RouteSnapshot = { revision: 5, routes: restrictedRoutes, internalRoutes: restrictedRoutes, fallback: snapshot.fallback };
  const denied = admitRequest(now, openRoute, 'open.env.test', 'open.env.test', 'external', '127.0.0.2');
  assert.equal(!denied.admit && denied.status, 403);
  assert.equal(!denied.admit && denied.closeConnection, true);
  assert.match(!denied.admit ? denied.message : '', /ip_forbidden/);
  assert.equal(admitRequest(now, openRoute, 'open.env.test', 'open.env.test', 'external', '127.0.0.3').admit, true);
});

test('a name one label under an environment domain that no app claims: 404 naming the app and the environment; other names no_app', () => {
  const env = { domain: 'env.test', environmentId: '/e/env', environmentName: 'env', tls: policy('env-wildcard') };
  const withDomains: RouteSnapshot = { ...snapshot, environmentDomains: new Map([['env.test', env]]) };
  const typo = admitRequest(withDomains, undefined, 'opne.env.test', 'opne.env.test');
  assert.deepEqual(typo, { admit: false, status: 404, message: 'no app named opne in environment env (no_app_in_environment)', reason: 'no_app_in_environment', closeConnection: false });
  for (const host of ['a.opne.env.test', 'opne.other.test', 'env.test']) {
    const other = admitRequest(withDomains, undefined, host, host);
    assert.equal(!other.admit && other.reason, 'no_app', host);
  }
  // A real app's name on a connection made under the wildcard still needs its own SNI.
  const real = admitRequest(withDomains, undefined, 'open.env.test', 'opne.env.test');
  assert.equal(!real.admit && real.reason, 'sni_required');
});
