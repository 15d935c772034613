// The client-certificate inventory of `certgate serve --workers 2`: after curl with two
// certificates, through the management API (ARM list shape, paged with nextLink, expiry filter,
// search, one certificate by thumbprint), across a restart; the Gateway status and refusals APIs;
// and 1,000 distinct certificates leave the metrics' label sets as they were.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { curl, curlResult, run } from './support/clients.ts';
import { putServedApp, startServeProcess, type ServeProcess } from './support/serve-process.ts';
import { certgate } from './support/cli.ts';
import { createCa, issueCertificate, type IssuedCertificate } from '../src/pki/issue.ts';

const V = 'api-version=2025-01-01';
const HOST = 'seen.env1.certgate.localhost';
let dir: string;
let dataDir: string;
let serve: ServeProcess;
let echo: EchoApp;
let appPath: string;
const files: Record<'soon' | 'later', { cert: string; key: string; thumbprint: string }> = {} as never;

const startServe = async () => (serve = await startServeProcess(dataDir, ['--workers', '2', '--access-log', 'off']));

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-inventory-'));
  dataDir = join(dir, 'data');
  echo = await startEchoApp();
  const clientCa = await createCa({ commonName: 'Partner CA' });
  const write = (name: 'soon' | 'later', issued: IssuedCertificate) => {
    const cert = join(dir, `${name}.pem`);
    const key = join(dir, `${name}.key`);
    writeFileSync(cert, issued.certPem);
    writeFileSync(key, issued.keyPem);
    files[name] = { cert, key, thumbprint: new X509Certificate(issued.certPem).fingerprint256.replaceAll(':', '').toLowerCase() };
  };
  write('soon', await issueCertificate({ issuer: clientCa, commonName: 'partner-expiring', kind: 'client', validityDays: 10, dnsNames: ['soon.partner.example'] }));
  write('later', await issueCertificate({ issuer: clientCa, commonName: 'partner-current', kind: 'client', validityDays: 300, dnsNames: ['later.partner.example'] }));
  await startServe();
  appPath = await putServedApp(serve, 'seen', { targetPort: echo.port, clientCertificateMode: 'accept' });
});

after(async () => {
  await serve?.kill();
  await echo?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function list(query = ''): Promise<{ value: { name: string; properties: Record<string, unknown> }[]; nextLink?: string }> {
  const response = await serve.arm.call('GET', `${appPath}/clientCertificates?${V}${query}`);
  assert.equal(response.status, 200, response.text);
  return response.json;
}

/** The list once its connection counts add up to `connections` (each worker sends its batch within a second). */
async function eventuallyListed(connections: number): Promise<Awaited<ReturnType<typeof list>>> {
  const total = (page: Awaited<ReturnType<typeof list>>) => page.value.reduce((sum, entry) => sum + Number(entry.properties['connectionCount']), 0);
  let last = await list();
  for (const deadline = Date.now() + 15_000; total(last) < connections && Date.now() < deadline; last = await list()) await new Promise((resolve) => setTimeout(resolve, 200));
  return last;
}

test('after curl with two certificates: each listed once, in ARM list shape, with its facts and counts', async () => {
  for (const name of ['soon', 'later', 'later'] as const) {
    assert.equal(curlResult(await curl({ host: HOST, port: serve.httpsPort, caFile: serve.caFile, cert: files[name].cert, key: files[name].key })).status, 200);
  }
  const page = await eventuallyListed(3);
  assert.equal(page.value.length, 2);
  const later = page.value.find((entry) => entry.name === files.later.thumbprint)!;
  assert.ok(later, JSON.stringify(page));
  assert.equal((later as unknown as Record<string, string>)['type'], 'Microsoft.App/containerApps/clientCertificates');
  assert.equal(String((later as unknown as Record<string, string>)['id']).toLowerCase(), `${appPath}/clientCertificates/${files.later.thumbprint}`.toLowerCase());
  const x509 = new X509Certificate(readFileSync(files.later.cert));
  assert.deepEqual(
    { ...later.properties, firstSeen: typeof later.properties['firstSeen'], lastSeen: typeof later.properties['lastSeen'] },
    {
      thumbprint: files.later.thumbprint,
      subject: 'CN=partner-current',
      issuer: 'CN=Partner CA',
      serialNumber: x509.serialNumber.toLowerCase(),
      subjectAlternativeNames: ['dns:later.partner.example'],
      notBefore: x509.validFromDate.toISOString(),
      notAfter: x509.validToDate.toISOString(),
      firstSeen: 'string',
      lastSeen: 'string',
      connectionCount: 2,
      lastVerdict: 'UNVERIFIED',
    },
  );
  const one = await serve.arm.call('GET', `${appPath}/clientCertificates/${files.soon.thumbprint.toUpperCase()}?${V}`);
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.properties.connectionCount, 1);
  assert.equal((await serve.arm.call('GET', `${appPath}/clientCertificates/${'0'.repeat(64)}?${V}`)).status, 404);
});

test('paged with $top and nextLink; filtered by expiringWithinDays and by search', async () => {
  const first = await list('&$top=1');
  assert.equal(first.value.length, 1);
  assert.ok(first.nextLink, 'a nextLink while more follow');
  const second = await serve.arm.call('GET', first.nextLink!.slice(first.nextLink!.indexOf('/subscriptions/')));
  assert.equal(second.status, 200, second.text);
  assert.equal(second.json.value.length, 1);
  assert.equal(second.json.nextLink, undefined);
  assert.notEqual(second.json.value[0].name, first.value[0]!.name);
  assert.deepEqual((await list('&expiringWithinDays=30')).value.map((entry) => entry.name), [files.soon.thumbprint]);
  assert.deepEqual((await list('&expiringWithinDays=5')).value, []);
  assert.deepEqual((await list('&search=LATER.partner')).value.map((entry) => entry.name), [files.later.thumbprint]);
  assert.deepEqual((await list(`&search=${files.soon.thumbprint.slice(0, 12)}`)).value.map((entry) => entry.name), [files.soon.thumbprint]);
  assert.deepEqual((await list('&search=partner-exp')).value.map((entry) => entry.name), [files.soon.thumbprint]);
  assert.equal((await serve.arm.call('GET', `${appPath}/clientCertificates?${V}&$top=0`)).status, 400);
  assert.equal((await serve.arm.call('GET', `${appPath}/clientCertificates?${V}&$skipToken=bm9wZQ`)).status, 400);
});

test('certgate containerapp client-certificate list/show: --expiring-within, --search, --query and --output', async () => {
  const env = { CERTGATE_CONFIG_DIR: join(dir, 'config') };
  assert.equal((await certgate(['login', '--data-dir', dataDir], { env })).code, 0);
  const soon = await certgate(['containerapp', 'client-certificate', 'list', '--name', 'seen', '--resource-group', 'rg', '--expiring-within', '30d', '--query', '[].properties.subject', '--output', 'tsv'], { env });
  assert.equal(soon.code, 0, soon.stderr);
  assert.equal(soon.stdout, 'CN=partner-expiring\n');
  const all = await certgate(['containerapp', 'client-certificate', 'list', '-n', 'seen', '-g', 'rg', '--search', 'partner.example'], { env });
  assert.equal(all.code, 0, all.stderr);
  assert.equal((JSON.parse(all.stdout) as unknown[]).length, 2);
  const one = await certgate(['containerapp', 'client-certificate', 'show', '-n', 'seen', '-g', 'rg', '--thumbprint', files.later.thumbprint, '--query', 'properties.connectionCount', '-o', 'tsv'], { env });
  assert.equal(one.stdout, '2\n', one.stderr);
  const bad = await certgate(['containerapp', 'client-certificate', 'list', '-n', 'seen', '-g', 'rg', '--expiring-within', 'soon'], { env });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /number of days/);
});

test('the Gateway status and refusals APIs (with the management token)', async () => {
  assert.notEqual((await curl({ host: 'nobody.example.test', port: serve.httpsPort, caFile: serve.caFile, extra: ['-k'] })).stdout, '');
  const status = await serve.arm.call('GET', `/providers/Certgate.Gateway/status?${V}`);
  assert.equal(status.status, 200, status.text);
  assert.equal(status.json.ready, true);
  assert.equal(status.json.workers, 2);
  assert.equal(status.json.replicas.length, 1);
  assert.equal(status.json.replicas[0].live, true);
  assert.equal(typeof status.json.revision, 'number');
  let refusals = await serve.arm.call('GET', `/providers/Certgate.Gateway/refusals?${V}&$top=50`);
  for (let i = 0; i < 20 && !refusals.json.value.some((entry: { reason: string }) => entry.reason === 'no_app'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    refusals = await serve.arm.call('GET', `/providers/Certgate.Gateway/refusals?${V}&$top=50`);
  }
  const entry = refusals.json.value.find((refusal: { reason: string }) => refusal.reason === 'no_app');
  assert.ok(entry, refusals.text);
  assert.equal(entry.host, 'nobody.example.test');
  assert.equal(entry.clientAddress, '127.0.0.1');
  assert.match(entry.time, /^\d{4}-/);
  const anonymous = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', serve.caFile, `${serve.credentials.endpoint}/providers/Certgate.Gateway/status?${V}`]);
  assert.equal(anonymous.stdout, '401', 'no token, no status');
});

test('the inventory survives a restart', async () => {
  await serve.stop();
  await startServe();
  const page = await list();
  assert.deepEqual(page.value.map((entry) => entry.name).sort(), [files.soon.thumbprint, files.later.thumbprint].sort());
  assert.equal(curlResult(await curl({ host: HOST, port: serve.httpsPort, caFile: serve.caFile, cert: files.later.cert, key: files.later.key })).status, 200);
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
    const later = (await list()).value.find((entry) => entry.name === files.later.thumbprint)!;
    if (later.properties['connectionCount'] === 3) return;
  }
  assert.fail('the count after the restart adds to the stored one');
});

test('1,000 distinct client certificates: every one in the inventory, and not one new metric series', async () => {
  const seriesCount = async () => (await (await fetch(`http://127.0.0.1:${serve.adminPort}/metrics`)).text()).split('\n').filter((line) => line.startsWith('certgate_')).length;
  const clientCa = await createCa({ commonName: 'Flood CA' });
  const identities = await Promise.all(Array.from({ length: 1_000 }, (_, i) => issueCertificate({ issuer: clientCa, commonName: `flood-${i}`, kind: 'client', validityDays: 30 })));
  // One connection with a certificate first, so that every label the flood could touch exists.
  const connect = (identity: IssuedCertificate) =>
    new Promise<void>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: serve.httpsPort, servername: HOST, ca: readFileSync(serve.caFile), cert: identity.certPem, key: identity.keyPem }, () => {
        socket.end();
        resolve();
      });
      socket.on('error', reject);
    });
  await connect(identities[0]!);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = await seriesCount();
  for (let i = 1; i < identities.length; i += 20) await Promise.all(identities.slice(i, i + 20).map(connect));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(await seriesCount(), before, 'the label sets do not grow with the certificates');
  let total = 0;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 300))) {
    total = 0;
    let page = await list('&$top=1000&search=flood-');
    total += page.value.length;
    while (page.nextLink) {
      page = (await serve.arm.call('GET', page.nextLink.slice(page.nextLink.indexOf('/subscriptions/')))).json;
      total += page.value.length;
    }
    if (total === 1_000) return;
  }
  assert.equal(total, 1_000);
});
