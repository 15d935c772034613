// Online revocation at the edge (issue 13): CRLs fetched from the certificate's distribution points
// (a local Node HTTP server serving openssl-made CRLs) and OCSP asked of the certificate's AIA
// responder (a real `openssl ocsp` on loopback), with real clients (curl, Node https) and the
// app's clientCertificateRevocationMode deciding what happens when status cannot be learned.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { startTestGateway, SUBSCRIPTION, RESOURCE_GROUP, type TestGateway } from './support/gateway.ts';
import { curl, curlResult, run } from './support/clients.ts';
import { opensslCrl } from './support/openssl-crl.ts';
import { freePort, opensslCa, opensslIssue, startOcspResponder, type OcspResponder, type OpensslCa, type OpensslLeaf } from './support/openssl-revocation.ts';

const API = 'api-version=2025-01-01';
const envPath = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.App/managedEnvironments/revocation`;

let gw: TestGateway;
let echo: EchoApp;
let dir: string;
let caFile: string;
let ca: OpensslCa;
let ocsp: OcspResponder;
/** Signs with a certificate the issuer gave no OCSP-signing EKU: its answers must not be trusted. */
let rogue: OcspResponder;
let crlServer: http.Server;
/** Path → what the CRL server answers (DER bytes, or a delay before answering). */
const served = new Map<string, { body: Buffer; delayMs?: number }>();
const fetches = new Map<string, number>();
const leaves: Record<string, OpensslLeaf> = {};
const hosts: Record<string, string> = {};
let anchorId: string;

async function der(pem: string): Promise<Buffer> {
  const file = join(dir, `crl-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(file, pem);
  const derFile = `${file}.der`;
  const made = await run('openssl', ['crl', '-in', file, '-outform', 'DER', '-out', derFile]);
  assert.equal(made.code, 0, made.stderr);
  return readFileSync(derFile);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-revocation-'));
  crlServer = http.createServer((req, res) => {
    const path = req.url ?? '/';
    fetches.set(path, (fetches.get(path) ?? 0) + 1);
    const entry = served.get(path);
    if (path === '/hang.crl') return; // never answers: the fetch must time out
    if (entry === undefined) {
      res.writeHead(404).end();
      return;
    }
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(entry.body), entry.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => crlServer.listen(0, '127.0.0.1', resolve));
  const crlBase = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}`;
  const ocspPort = await freePort();
  const closed = await freePort();
  const roguePort = await freePort();
  ca = await opensslCa(dir, 'revocation test root');
  const cdp = (path: string) => `crlDistributionPoints=URI:${crlBase}${path}`;
  const aia = (port: number) => `authorityInfoAccess=OCSP;URI:http://127.0.0.1:${port}/`;
  const specs: Record<string, string[]> = {
    crlGood: [cdp('/root.crl')],
    crlRevoked: [cdp('/root.crl')],
    crlDown: [`crlDistributionPoints=URI:http://127.0.0.1:${closed}/root.crl`],
    crlGarbage: [cdp('/garbage.crl')],
    crlForged: [cdp('/forged.crl')],
    crlTooBig: [cdp('/big.crl')],
    slowA: [cdp('/slow.crl')],
    slowB: [cdp('/slow.crl')],
    hang: [cdp('/hang.crl')],
    refresh: [cdp('/refresh.crl')],
    ocspGood: [aia(ocspPort)],
    ocspRevoked: [aia(ocspPort)],
    ocspDown: [aia(closed)],
    ocspRogue: [aia(roguePort)],
    ocspDownCrlUp: [aia(closed), cdp('/root.crl')],
    nothing: [],
  };
  for (const [name, extensions] of Object.entries(specs)) leaves[name] = await opensslIssue(dir, ca, name, extensions);
  served.set('/root.crl', { body: await der(await opensslCrl(ca.certPath, ca.keyPath, [leaves.crlRevoked!.pem])) });
  served.set('/slow.crl', { body: served.get('/root.crl')!.body, delayMs: 400 });
  served.set('/garbage.crl', { body: Buffer.from('not a CRL at all') });
  served.set('/big.crl', { body: Buffer.alloc(1024 * 1024 + 1, 0x30) });
  ocsp = await startOcspResponder(dir, ca, ocspPort, [leaves.ocspGood!.pem], [leaves.ocspRevoked!.pem]);
  rogue = await startOcspResponder(dir, ca, roguePort, [leaves.ocspRogue!.pem], [], 'extendedKeyUsage=clientAuth');
  echo = await startEchoApp();
  gw = await startTestGateway();
  caFile = join(dir, 'gateway-ca.pem');
  writeFileSync(caFile, gw.caPem);
  await gw.createEnvironment('revocation');
  const { body } = await gw.arm('PUT', `${envPath}/certificates/root?${API}`, {
    location: 'local',
    properties: { certificateType: 'ClientCertificateTrustAnchor', value: Buffer.from(ca.pem).toString('base64') },
  });
  anchorId = (body as { id: string }).id;
  const app = (name: string, extra: Record<string, unknown>) =>
    gw.putApp(name, 'revocation', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [anchorId], ...extra });
  hosts.crl = await app('online-crl', { clientCertificateOnlineRevocation: 'Crl' });
  hosts.ocsp = await app('online-ocsp', { clientCertificateOnlineRevocation: 'Ocsp' });
  hosts.soft = await app('online-soft', { clientCertificateOnlineRevocation: 'Ocsp', clientCertificateRevocationMode: 'SoftFail' });
});

after(async () => {
  await gw?.close();
  await echo?.close();
  await ocsp?.close();
  await rogue?.close();
  crlServer?.closeAllConnections();
  await new Promise((resolve) => (crlServer ? crlServer.close(resolve) : resolve(undefined)));
});

async function get(host: string, leaf: OpensslLeaf, tls?: '1.2' | '1.3', http?: '1.1' | '2') {
  const result = await curl({ host: hosts[host]!, port: gw.httpsPort, caFile, cert: leaf.certPath, key: leaf.keyPath, ...(tls ? { tls } : {}), ...(http ? { http } : {}) });
  assert.equal(result.code, 0, result.stderr);
  return curlResult(result);
}

describe('CRL distribution points (clientCertificateOnlineRevocation Crl)', () => {
  test('a certificate the fetched CRL does not list is served, the app told its status; a listed one is refused REVOKED (TLS 1.2 and 1.3, HTTP/1.1 and 2)', async () => {
    for (const [tls, http] of [['1.2', '1.1'], ['1.3', '2']] as const) {
      const before = echo.received.length;
      const good = await get('crl', leaves.crlGood!, tls, http);
      assert.equal(good.status, 200, good.body);
      assert.equal(echo.received.length, before + 1);
      assert.equal(echo.received.at(-1)!.headers['x-certgate-client-verdict'], 'OK');
      assert.equal(echo.received.at(-1)!.headers['x-certgate-client-cert-revocation'], 'good');
      const revoked = await get('crl', leaves.crlRevoked!, tls, http);
      assert.equal(revoked.status, 403);
      assert.match(revoked.body, /REVOKED \(revoked\)/);
      assert.equal(echo.received.length, before + 1, 'the app never sees the revoked client');
    }
    assert.equal(fetches.get('/root.crl'), 1, 'the CRL is fetched once and cached until its nextUpdate');
  });

  test('concurrent connections needing the same CRL share one fetch', async () => {
    const [a, b] = await Promise.all([get('crl', leaves.slowA!), get('crl', leaves.slowB!)]);
    assert.equal(a.status, 200, a.body);
    assert.equal(b.status, 200, b.body);
    assert.equal(fetches.get('/slow.crl'), 1);
  });

  test('a distribution point that never answers: refused REVOCATION_UNKNOWN after the 5 s bound, while other connections are served meanwhile', async () => {
    const started = Date.now();
    const hanging = get('crl', leaves.hang!);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const meanwhile = await get('crl', leaves.crlGood!);
    const servedAfter = Date.now() - started;
    assert.equal(meanwhile.status, 200);
    assert.ok(servedAfter < 3_000, `another connection waited ${servedAfter} ms`);
    const refused = await hanging;
    const waited = Date.now() - started;
    assert.match(refused.body, /REVOCATION_UNKNOWN \(revocation_unknown\)/);
    assert.ok(waited >= 4_500 && waited < 9_000, `refused after ${waited} ms`);
  });

  test('status unknown under HardFail (the default): unreachable, garbage, a CRL not signed by the issuer, too big, no distribution point', async () => {
    const impostor = await opensslCa(mkdtempSync(join(dir, 'impostor-')), 'revocation test root');
    served.set('/forged.crl', { body: await der(await opensslCrl(impostor.certPath, impostor.keyPath, [])) });
    for (const name of ['crlDown', 'crlGarbage', 'crlForged', 'crlTooBig', 'nothing']) {
      const before = echo.received.length;
      const result = await get('crl', leaves[name]!);
      assert.equal(result.status, 403, `${name}: ${result.body}`);
      assert.match(result.body, /REVOCATION_UNKNOWN \(revocation_unknown\)/, name);
      assert.equal(echo.received.length, before, name);
    }
  });

  test('a certificate revoked after its session was made cannot resume it past the CRL\'s nextUpdate (Node https, session resumption)', async () => {
    const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 10 });
    const request = () =>
      new Promise<{ status: number; body: string; resumed: boolean }>((resolve, reject) => {
        const req = https.request(
          { host: '127.0.0.1', port: gw.httpsPort, servername: hosts.crl, headers: { host: hosts.crl }, ca: gw.caPem, cert: readFileSync(leaves.refresh!.certPath), key: readFileSync(leaves.refresh!.keyPath), agent, maxVersion: 'TLSv1.2' },
          (res) => {
            let body = '';
            res.on('data', (chunk) => (body += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body, resumed: (res.socket as TLSSocket).isSessionReused() }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    // Made now (nextUpdate in 5 s): the clock starts with this test.
    served.set('/refresh.crl', { body: await der(await opensslCrl(ca.certPath, ca.keyPath, [], 5)) });
    const fetchedAt = Date.now();
    const first = await request();
    assert.equal(first.status, 200, first.body);
    served.set('/refresh.crl', { body: await der(await opensslCrl(ca.certPath, ca.keyPath, [leaves.refresh!.pem], 60)) });
    const cached = await request();
    assert.equal(cached.status, 200, 'until nextUpdate the cached CRL stands');
    assert.equal(cached.resumed, true, 'the session resumed');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, fetchedAt + 6_500 - Date.now())));
    const after = await request();
    assert.equal(after.resumed, true, 'the session resumed again');
    assert.equal(after.status, 403, after.body);
    assert.match(after.body, /REVOKED \(revoked\)/);
    assert.equal(fetches.get('/refresh.crl'), 2, 'fetched again once its nextUpdate passed');
    agent.destroy();
  });
});

describe('OCSP (clientCertificateOnlineRevocation Ocsp, a real openssl ocsp responder, delegated signer)', () => {
  test('good is served; revoked is refused REVOKED, TLS 1.2 and 1.3', async () => {
    for (const tls of ['1.2', '1.3'] as const) {
      const before = echo.received.length;
      const good = await get('ocsp', leaves.ocspGood!, tls);
      assert.equal(good.status, 200, good.body);
      assert.equal(echo.received.at(-1)!.headers['x-certgate-client-cert-revocation'], 'good');
      const revoked = await get('ocsp', leaves.ocspRevoked!, tls);
      assert.equal(revoked.status, 403);
      assert.match(revoked.body, /REVOKED \(revoked\)/);
      assert.equal(echo.received.length, before + 1);
    }
  });

  test('a responder that gives no answer: the CRL distribution point, when the certificate names one, decides', async () => {
    const result = await get('ocsp', leaves.ocspDownCrlUp!);
    assert.equal(result.status, 200, result.body);
    assert.equal(echo.received.at(-1)!.headers['x-certgate-client-cert-revocation'], 'good');
  });

  test('a certificate without an OCSP responder falls back to its CRL distribution point', async () => {
    assert.match((await get('ocsp', leaves.crlRevoked!)).body, /REVOKED \(revoked\)/);
    assert.equal((await get('ocsp', leaves.crlGood!)).status, 200);
  });

  test("a 'good' signed by a certificate without the OCSP-signing EKU is not trusted: REVOCATION_UNKNOWN", async () => {
    const before = echo.received.length;
    assert.match((await get('ocsp', leaves.ocspRogue!)).body, /REVOCATION_UNKNOWN \(revocation_unknown\)/);
    assert.equal(echo.received.length, before);
  });

  test('an unreachable responder: refused REVOCATION_UNKNOWN under HardFail; served under SoftFail, the verdict saying so', async () => {
    assert.match((await get('ocsp', leaves.ocspDown!)).body, /REVOCATION_UNKNOWN \(revocation_unknown\)/);
    const before = echo.received.length;
    const soft = await get('soft', leaves.ocspDown!);
    assert.equal(soft.status, 200, soft.body);
    assert.equal(echo.received.length, before + 1);
    assert.equal(echo.received.at(-1)!.headers['x-certgate-client-verdict'], 'OK');
    assert.equal(echo.received.at(-1)!.headers['x-certgate-client-cert-revocation'], 'unknown');
    // SoftFail still refuses what is known revoked.
    assert.match((await get('soft', leaves.ocspRevoked!)).body, /REVOKED \(revoked\)/);
  });
});

test('settings: online revocation needs trust anchors; an unknown value is a 400 naming the path', async () => {
  await assert.rejects(
    gw.putApp('online-pinned', 'revocation', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateAllow: { thumbprints: ['a'.repeat(64)] }, clientCertificateOnlineRevocation: 'Ocsp' }),
    /clientCertificateOnlineRevocation: needs clientCertificateTrustAnchors/,
  );
  await assert.rejects(
    gw.putApp('online-bad', 'revocation', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [anchorId], clientCertificateOnlineRevocation: 'Always' }),
    /400.*clientCertificateOnlineRevocation/,
  );
});
