import { before, test } from 'node:test';
import assert from 'node:assert/strict';
// ARM documents → route specs → snapshot: what the ingress serves for what the store holds.
import { compileSnapshot, TlsPolicyCache, type CompileResult, type ServerCredentials } from '../ingress/snapshot.ts';
import { buildRouteSpecs, type RouteSpecInput } from './route-specs.ts';
import { createCa, issueCertificate } from '../pki/issue.ts';
import type { AppView } from '../model/resources.ts';
import type { IngressSettings } from '../model/ingress.ts';

let wildcard: ServerCredentials;
let fallback: ServerCredentials;
const ENV = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env';

before(async () => {
  const ca = await createCa({ commonName: 'test CA' });
  const server = await issueCertificate({ issuer: ca, commonName: '*.env.test', kind: 'server', dnsNames: ['*.env.test'] });
  const other = await issueCertificate({ issuer: ca, commonName: 'localhost', kind: 'server', dnsNames: ['localhost'] });
  wildcard = { kind: 'pem', certPem: server.certPem, keyPem: server.keyPem };
  fallback = { kind: 'pem', certPem: other.certPem, keyPem: other.keyPem };
});

function app(name: string, ingress: IngressSettings | undefined): AppView {
  return { id: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/${name}`, name, environmentId: ENV, ingress };
}

function input(apps: AppView[], revision = 1): RouteSpecInput & { revision: number } {
  return {
    revision,
    environments: [{ id: ENV, name: 'env', defaultDomain: 'env.test' }],
    apps,
    environmentCertificates: new Map([[ENV.toLowerCase(), wildcard]]),
    uploadedCertificates: new Map(),
  };
}

/** What the gateway does with one revision's documents. */
function compile(documents: RouteSpecInput & { revision: number }, cache: TlsPolicyCache): CompileResult {
  const built = buildRouteSpecs(documents);
  const compiled = compileSnapshot({ revision: documents.revision, specs: built.specs, tcpPorts: built.tcpPorts, drainGraceMs: built.drainGraceMs, environmentDomains: built.environmentDomains, fallbackCertificate: fallback }, cache);
  return { snapshot: compiled.snapshot, problems: [...built.problems, ...compiled.problems] };
}

test('routes by default domain, with the mode mapped to the TLS settings', () => {
  const cache = new TlsPolicyCache();
  const { snapshot, problems } = compile(
    input([app('a', { targetPort: 1, clientCertificateMode: 'ignore' }), app('b', { targetPort: 2, clientCertificateMode: 'Accept' as never }), app('c', { targetPort: 3, clientCertificateMode: 'require' }), app('d', { targetPort: 4 })]),
    cache,
  );
  assert.deepEqual(problems, []);
  const settings = (host: string) => {
    const route = snapshot.routes.get(host)!;
    return [route.app.mode, route.tls.requestCert, route.tls.rejectUnauthorized, route.app.clientCertificate.forwardCertificate];
  };
  assert.deepEqual(settings('a.env.test'), ['ignore', false, false, false]);
  assert.deepEqual(settings('b.env.test'), ['accept', true, false, true]);
  assert.deepEqual(settings('c.env.test'), ['require', true, true, true]);
  assert.deepEqual(settings('d.env.test'), ['ignore', false, false, false], 'unset is ignore');
  assert.equal(snapshot.routes.get('c.env.test')!.app.upstream?.origin, 'http://127.0.0.1:3');
  assert.ok(Object.isFrozen(snapshot) && Object.isFrozen(snapshot.routes.get('a.env.test')));
});

test('policies are reused while app, mode and certificate are unchanged, and replaced when the mode changes', () => {
  const cache = new TlsPolicyCache();
  const first = compile(input([app('a', { targetPort: 1 }), app('b', { targetPort: 2, clientCertificateMode: 'accept' })]), cache).snapshot;
  const second = compile(input([app('a', { targetPort: 9 }), app('b', { targetPort: 2, clientCertificateMode: 'require' })], 2), cache).snapshot;
  assert.equal(second.routes.get('a.env.test')!.tls, first.routes.get('a.env.test')!.tls, 'a new targetPort keeps the policy');
  assert.notEqual(second.routes.get('b.env.test')!.tls, first.routes.get('b.env.test')!.tls);
  assert.equal(second.fallback, first.fallback);
});

test('an app with an invalid mode in the store is left out (fail closed), as are apps without ingress or environment', () => {
  const cache = new TlsPolicyCache();
  const orphan: AppView = { ...app('orphan', { targetPort: 1 }), environmentId: `${ENV}-gone` };
  const { snapshot, problems } = compile(input([app('bad', { targetPort: 1, clientCertificateMode: 'requier' as never }), app('off', undefined), orphan]), cache);
  assert.equal(snapshot.routes.size, 0);
  assert.equal(problems.length, 2);
  assert.match(problems.map((p) => p.message).join('\n'), /requier.*not valid/);
  assert.match(problems.map((p) => p.message).join('\n'), /does not exist/);
});

test('a custom domain without a usable certificate is left out; an unusable certificate is reported', () => {
  const cache = new TlsPolicyCache();
  const withDomains = app('a', {
    targetPort: 1,
    customDomains: [
      { name: 'missing.example', certificateId: `${ENV}/certificates/none` },
      { name: 'broken.example', certificateId: `${ENV}/certificates/broken` },
      { name: 'off.example', bindingType: 'Disabled', certificateId: `${ENV}/certificates/broken` },
    ],
  });
  const { snapshot, problems } = compile(
    { ...input([withDomains]), uploadedCertificates: new Map([[`${ENV}/certificates/broken`.toLowerCase(), { kind: 'pkcs12', pfx: new Uint8Array([1, 2, 3]), password: 'x' }]]) },
    cache,
  );
  assert.deepEqual([...snapshot.routes.keys()], ['a.env.test']);
  assert.match(problems.map((p) => p.message).join('\n'), /missing\.example has no usable certificate/);
  assert.match(problems.map((p) => p.message).join('\n'), /broken\.example cannot be used/);
});

test("the environment's stripHeaders and the app's HSTS are compiled into the app once", () => {
  const base = input([app('a', { targetPort: 1, hsts: { maxAge: 31_536_000, includeSubDomains: true, preload: true } }), app('b', { targetPort: 2, hsts: { maxAge: 600 } }), app('c', { targetPort: 3 })]);
  const { snapshot } = compile(
    { ...base, environments: [{ id: ENV, name: 'env', defaultDomain: 'env.test', stripHeaders: ['X-Tenant-Id', 'x_internal_USER'] }] },
    new TlsPolicyCache(),
  );
  const compiled = (host: string) => snapshot.routes.get(host)!.app;
  assert.equal(compiled('a.env.test').hsts, 'max-age=31536000; includeSubDomains; preload');
  assert.equal(compiled('b.env.test').hsts, 'max-age=600');
  assert.equal(compiled('c.env.test').hsts, undefined);
  assert.deepEqual([...compiled('c.env.test').stripHeaders!], ['x-tenant-id', 'x-internal-user']);
  const none = compile(input([app('a', { targetPort: 1 })]), new TlsPolicyCache()).snapshot;
  assert.equal(none.routes.get('a.env.test')!.app.stripHeaders, undefined);
});

test("a Disabled custom domain is not served and claims no name: another app's bound domain of that name is served", () => {
  const certificate = `${ENV}/certificates/shop`;
  const { snapshot, problems } = compile(
    {
      ...input([
        app('a', { targetPort: 1, customDomains: [{ name: 'shop.example', bindingType: 'Disabled' }] }),
        app('b', { targetPort: 2, customDomains: [{ name: 'Shop.Example.', bindingType: 'SniEnabled', certificateId: certificate }] }),
      ]),
      uploadedCertificates: new Map([[certificate.toLowerCase(), wildcard]]),
    },
    new TlsPolicyCache(),
  );
  assert.deepEqual(problems, []);
  assert.equal(snapshot.routes.get('shop.example')?.app.name, 'b');
});

test('the specs carry no ARM spelling: the mode is decided in the spec, once, whatever its casing', () => {
  const { specs } = buildRouteSpecs(input([app('a', { targetPort: 1, clientCertificateMode: 'REQUIRE' as never })]));
  assert.equal(specs[0]!.app.mode, 'require');
  assert.deepEqual({ ...specs[0]!.app.clientCertificate }, { mode: 'require', requestCert: true, rejectUnauthorized: true, forwardCertificate: true });
  assert.deepEqual(specs[0]!.hosts.map((host) => [host.hostname, host.credentialsFrom]), [['a.env.test', ENV]]);
});

test('a DNS suffix adds <app>.<suffix> with its own wildcard; both environment domains are kept for names no app claims', () => {
  const cache = new TlsPolicyCache();
  const documents = { ...input([app('a', { targetPort: 1 })]), environments: [{ id: ENV, name: 'env', defaultDomain: 'env.test', dnsSuffix: 'apps.example.test' }], dnsSuffixCertificates: new Map([[ENV.toLowerCase(), fallback]]) };
  const built = buildRouteSpecs(documents);
  assert.deepEqual(built.problems, []);
  assert.deepEqual(built.specs[0]!.hosts.map((host) => [host.hostname, host.credentials === fallback]), [['a.env.test', false], ['a.apps.example.test', true]]);
  assert.deepEqual(built.environmentDomains.map((domain) => [domain.domain, domain.credentials === fallback]), [['env.test', false], ['apps.example.test', true]]);
  const { snapshot } = compile(documents, cache);
  assert.ok(snapshot.routes.has('a.apps.example.test'));
  assert.deepEqual([...snapshot.environmentDomains!.keys()], ['env.test', 'apps.example.test']);
  // Without its certificate the suffix name is a problem naming the environment, not a silent gap.
  const missing = buildRouteSpecs({ ...documents, dnsSuffixCertificates: new Map() });
  assert.deepEqual(missing.problems.map((problem) => problem.reason), ['environment_certificate_missing']);
});

test('bindingType Auto: a custom domain whose certificate is not issued yet is left out silently; SniEnabled is a problem', () => {
  const certificateId = `${ENV}/managedCertificates/shop`;
  const auto = buildRouteSpecs(input([app('a', { targetPort: 1, customDomains: [{ name: 'shop.example.test', bindingType: 'Auto', certificateId }] })]));
  assert.deepEqual([auto.problems, auto.specs[0]!.hosts.map((host) => host.hostname)], [[], ['a.env.test']]);
  const sni = buildRouteSpecs(input([app('a', { targetPort: 1, customDomains: [{ name: 'shop.example.test', bindingType: 'SniEnabled', certificateId }] })]));
  assert.deepEqual(sni.problems.map((problem) => problem.reason), ['certificate_missing']);
  const issued = buildRouteSpecs({ ...input([app('a', { targetPort: 1, customDomains: [{ name: 'shop.example.test', bindingType: 'Auto', certificateId }] })]), uploadedCertificates: new Map([[certificateId.toLowerCase(), wildcard]]) });
  assert.deepEqual(issued.specs[0]!.hosts.map((host) => host.hostname), ['a.env.test', 'shop.example.test']);
});

test('a renewed certificate gives a new TLS policy with the same admission key; a mode change does not', () => {
  const cache = new TlsPolicyCache();
  const first = compile(input([app('a', { targetPort: 1, clientCertificateMode: 'accept' })]), cache).snapshot.routes.get('a.env.test')!.tls;
  const renewed = compile({ ...input([app('a', { targetPort: 1, clientCertificateMode: 'accept' })]), environmentCertificates: new Map([[ENV.toLowerCase(), fallback]]) }, cache).snapshot.routes.get('a.env.test')!.tls;
  const stricter = compile({ ...input([app('a', { targetPort: 1, clientCertificateMode: 'require' })]), environmentCertificates: new Map([[ENV.toLowerCase(), fallback]]) }, cache).snapshot.routes.get('a.env.test')!.tls;
  assert.notEqual(renewed, first);
  assert.equal(renewed.admissionKey, first.admissionKey);
  assert.notEqual(stricter.admissionKey, renewed.admissionKey);
});
