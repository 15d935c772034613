// The snapshot from route specs alone (no ARM documents): TLS policies, routes per listener, conflicts.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CIPHERS, compileSnapshot, TlsPolicyCache, type CompiledApp, type RouteSpec, type ServerCredentials } from './snapshot.ts';
import { CLIENT_CERTIFICATE_POLICIES, type ClientCertificateMode } from '../model/ingress.ts';
import { createCa, issueCertificate } from '../pki/issue.ts';

let credentials: ServerCredentials;

before(async () => {
  const ca = await createCa({ commonName: 'test CA' });
  const server = await issueCertificate({ issuer: ca, commonName: 'a.test', kind: 'server', dnsNames: ['a.test', 'b.test'] });
  credentials = { kind: 'pem', certPem: server.certPem, keyPem: server.keyPem };
});

function spec(name: string, mode: ClientCertificateMode, hostnames: string[], external = true): RouteSpec {
  const app: CompiledApp = { key: name, id: `/apps/${name}`, name, mode, clientCertificate: CLIENT_CERTIFICATE_POLICIES[mode], allowInsecure: false, upstream: undefined, external, ipRules: undefined };
  return { app, hosts: hostnames.map((hostname) => ({ hostname, credentials, credentialsFrom: '/certificates/c' })) };
}

test("the TLS policy follows the spec's client-certificate policy; internal apps only on the internal listener; the first spec keeps a name", () => {
  const { snapshot, problems } = compileSnapshot({ revision: 3, specs: [spec('a', 'require', ['a.test']), spec('b', 'accept', ['b.test', 'a.test'], false)], tcpPorts: new Map(), drainGraceMs: undefined, fallbackCertificate: credentials }, new TlsPolicyCache());
  assert.deepEqual([...snapshot.routes.keys()], ['a.test']);
  assert.deepEqual([...snapshot.internalRoutes.keys()], ['a.test', 'b.test']);
  const a = snapshot.routes.get('a.test')!.tls;
  const b = snapshot.internalRoutes.get('b.test')!.tls;
  assert.deepEqual([a.requestCert, a.rejectUnauthorized, b.requestCert, b.rejectUnauthorized], [true, true, true, false]);
  assert.deepEqual([snapshot.fallback.requestCert, snapshot.fallback.rejectUnauthorized], [false, false]);
  assert.deepEqual(problems.map((problem) => [problem.resource, problem.reason, problem.related]), [['/apps/b', 'hostname_taken', ['/apps/a']]]);
});

test('TLS 1.2 suites: modern offers ECDHE with AEAD only; compatible adds CBC', () => {
  const modern = CIPHERS.modern.split(':').filter((suite) => !suite.startsWith('TLS_'));
  assert.ok(modern.length > 0 && modern.every((suite) => /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/.test(suite)), modern.join(':'));
  assert.match(CIPHERS.compatible, /ECDHE-RSA-AES128-SHA256/);
});

test('a spec object compiled before keeps its routes (no policy looked up); a name freed by another spec goes to the next claimant', () => {
  const cache = new TlsPolicyCache();
  const a = spec('a', 'require', ['a.test']);
  const b = spec('b', 'accept', ['b.test', 'a.test']);
  const compile = (specs: RouteSpec[], revision: number) => {
    const before = cache.counts.policiesResolved;
    const result = compileSnapshot({ revision, specs, tcpPorts: new Map(), drainGraceMs: undefined, fallbackCertificate: credentials }, cache);
    return { ...result, resolved: cache.counts.policiesResolved - before };
  };
  const first = compile([a, b], 1);
  assert.equal(first.resolved, 3, 'a.test, b.test, the fallback');
  const again = compile([a, b], 2);
  assert.equal(again.resolved, 1, 'only the fallback: both specs are reused');
  assert.equal(again.snapshot.routes.get('b.test'), first.snapshot.routes.get('b.test'));
  assert.deepEqual(again.problems, first.problems, 'the conflict is decided again, the same way');
  // a gives up a.test (a new spec object): b, next by id, now gets it, compiled for b.
  const third = compile([spec('a', 'require', ['c.test']), b], 3);
  assert.equal(third.resolved, 3, 'c.test, b\'s a.test (never compiled while taken), the fallback');
  assert.equal(third.snapshot.routes.get('a.test')?.app.id, '/apps/b');
  assert.equal(third.snapshot.routes.get('b.test'), first.snapshot.routes.get('b.test'));
  assert.deepEqual(third.problems, []);
});
