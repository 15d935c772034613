// Client-certificate verification at the ingress (issue 13):
//   handshake-plain     full mTLS handshakes (leaf + intermediate sent) to an app that verifies nothing
//   handshake-verified  the same to an app verifying against the root and a CRL of 10,000 serials
//                       (every connection a new TLS session; process CPU per handshake, client and
//                       server in this process, so the ratio understates the server's share)
//   verdict-repeat      ConnectionVerdicts.decide for a chain seen before: what a repeat client costs
//   verdict-new         decide for a leaf never seen (path, signatures, CRL lookup), cache missed
// Usage: node bench/verification.ts [--json] [--handshakes=N] [--seconds=S]
import { writeFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { startTestGateway, SUBSCRIPTION, RESOURCE_GROUP } from '../test/support/gateway.ts';
import { startEchoApp } from '../test/support/echo-app.ts';
import { makeTestPki } from '../test/support/pki.ts';
import { run } from '../test/support/clients.ts';
import { issueCertificate } from '../src/pki/issue.ts';
import { compileVerification } from '../src/ingress/verify/policy.ts';
import { ConnectionVerdicts, type ConnectionDecision } from '../src/ingress/verify/verdicts.ts';

const json = process.argv.includes('--json');
const number = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const handshakes = number('handshakes', 300);
const seconds = number('seconds', 0.5);

const dir = mkdtempSync(join(tmpdir(), 'certgate-bench-verify-'));
const pki = await makeTestPki(dir);

// A CRL of 10,000 serials from the intermediate, made by openssl ca.
const stamp = (date: Date) => date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
const lines: string[] = [];
for (let i = 0; i < 10_000; i++) lines.push(`R\t${stamp(new Date(Date.now() + 86_400_000))}\t${stamp(new Date(Date.now() - 3_600_000))}\t${(0x100000 + i).toString(16).toUpperCase()}\tunknown\t/CN=revoked ${i}\n`);
writeFileSync(join(dir, 'index.txt'), lines.join(''));
writeFileSync(join(dir, 'crlnumber'), '01\n');
writeFileSync(join(dir, 'ca.cnf'), `[ca]\ndefault_ca = b\n[b]\ndatabase = ${join(dir, 'index.txt')}\ncrlnumber = ${join(dir, 'crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 7\n`);
const made = await run('openssl', ['ca', '-batch', '-gencrl', '-config', join(dir, 'ca.cnf'), '-cert', pki.intermediate.certPath, '-keyfile', pki.intermediate.keyPath, '-out', join(dir, 'crl.pem')]);
if (made.code !== 0) throw new Error(made.stderr);
const crlPem = readFileSync(join(dir, 'crl.pem'), 'utf8');

const echo = await startEchoApp();
const gw = await startTestGateway();
await gw.createEnvironment('env1');
const env = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.App/managedEnvironments/env1`;
const upload = async (name: string, certificateType: string, value: string) =>
  ((await gw.arm('PUT', `${env}/certificates/${name}?api-version=2025-01-01`, { location: 'local', properties: { certificateType, value: Buffer.from(value).toString('base64') } })).body as { id: string }).id;
const root = await upload('root', 'ClientCertificateTrustAnchor', readFileSync(pki.root.certPath, 'utf8'));
const intermediate = await upload('intermediate', 'ClientCertificateIntermediate', readFileSync(pki.intermediate.certPath, 'utf8'));
const crl = await upload('crl', 'ClientCertificateRevocationList', crlPem);
const plainHost = await gw.putApp('plain', 'env1', { targetPort: echo.port, clientCertificateMode: 'require' });
const verifiedHost = await gw.putApp('verified', 'env1', { targetPort: echo.port, clientCertificateMode: 'require', clientCertificateTrustAnchors: [root], clientCertificateRevocationLists: [crl] });

const cert = readFileSync(pki.client.chainPath);
const key = readFileSync(pki.client.keyPath);
function handshake(servername: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername, ca: gw.caPem, cert, key, maxVersion: 'TLSv1.3' });
    socket.once('secureConnect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`));
    let response = '';
    socket.on('data', (chunk: Buffer) => (response += chunk.toString('latin1')));
    socket.once('end', () => (response.startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(`${servername}: ${response.slice(0, 80)}`))));
    socket.once('error', reject);
  });
}
async function handshakeCpu(servername: string): Promise<number> {
  for (let i = 0; i < 20; i++) await handshake(servername);
  const before = process.cpuUsage();
  for (let i = 0; i < handshakes; i++) await handshake(servername);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / handshakes;
}
// Interleaved rounds, so drift on a shared machine hits both alike.
let plainCpu = 0;
let verifiedCpu = 0;
for (let round = 0; round < 2; round++) {
  plainCpu += await handshakeCpu(plainHost);
  verifiedCpu += await handshakeCpu(verifiedHost);
}
plainCpu /= 2;
verifiedCpu /= 2;

// The verdict cache on its own, with the same trust material.
const material = new Map([
  [root, { type: 'ClientCertificateTrustAnchor' as const, der: new X509Certificate(readFileSync(pki.root.certPath)).raw }],
  [intermediate, { type: 'ClientCertificateIntermediate' as const, der: new X509Certificate(readFileSync(pki.intermediate.certPath)).raw }],
  [crl, { type: 'ClientCertificateRevocationList' as const, der: Buffer.from(crlPem.replace(/-----[^-]+-----|\s/g, ''), 'base64') }],
]);
const compiled = compileVerification({ clientCertificateTrustAnchors: [root], clientCertificateRevocationLists: [crl] }, 'require', (id) => material.get(id));
if (!compiled.ok || !compiled.verification) throw new Error('verification did not compile');
const verification = compiled.verification;
const chain = [new X509Certificate(readFileSync(pki.client.certPath)), new X509Certificate(readFileSync(pki.intermediate.certPath))];
const chainKey = chain.map((c) => c.raw.toString('latin1')).join('');
const verdicts = new ConnectionVerdicts();
if ((verdicts.decide(verification, chain, chainKey) as ConnectionDecision).verdict.code !== 'OK') throw new Error('the chain does not verify');
function measure(operation: (i: number) => unknown): number {
  for (let i = 0; i < 50; i++) operation(i);
  let iterations = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) for (let i = 0; i < 20; i++) operation(iterations++);
  return ((performance.now() - started) * 1000) / iterations;
}
const repeat = measure(() => verdicts.decide(verification, chain, chainKey));
const leaves: X509Certificate[] = [];
for (let i = 0; i < 200; i++) leaves.push((await issueCertificate({ issuer: pki.intermediate.issued, commonName: `bench ${i}`, kind: 'client' })).certificate);
const fresh = measure((i) => {
  const leaf = leaves[i % leaves.length]!;
  // A new ConnectionVerdicts every 200 so each leaf is a cache miss.
  return new ConnectionVerdicts(1).decide(verification, [leaf, chain[1]!], `${i}`);
});

await gw.close();
await echo.close();
const results = {
  handshakes,
  handshakePlainMicroseconds: Math.round(plainCpu),
  handshakeVerifiedMicroseconds: Math.round(verifiedCpu),
  ratio: Number((verifiedCpu / plainCpu).toFixed(3)),
  verdictRepeatMicroseconds: Number(repeat.toFixed(2)),
  verdictNewMicroseconds: Number(fresh.toFixed(1)),
};
if (json) console.log(JSON.stringify(results));
else {
  console.log(`full mTLS handshake (leaf + intermediate), CPU per handshake, client and server in one process, ${handshakes} x 2 rounds:`);
  console.log(`  no verification            ${results.handshakePlainMicroseconds} µs`);
  console.log(`  root + CRL of 10,000       ${results.handshakeVerifiedMicroseconds} µs  (${results.ratio}x)`);
  console.log(`verdict, repeat client       ${results.verdictRepeatMicroseconds} µs`);
  console.log(`verdict, new client          ${results.verdictNewMicroseconds} µs`);
}
