// What several ticket keys per TLS context cost (issue 15): TLS 1.3 handshakes, full and resumed,
// against a context with a shared ring (OpenSSL's ticket-key callback calling into JavaScript,
// src/ingress/ticket-keys.ts) and one without (OpenSSL's own keys, no call into JavaScript), in
// alternating rounds, server and client in this process. CPU per handshake from process.cpuUsage().
//   node bench/ticket-keys.ts [--handshakes=N] [--rounds=N]
import { createCa, issueCertificate } from '../src/pki/issue.ts';
import { TlsPolicyCache } from '../src/ingress/snapshot.ts';
import { connectTls13, servePolicy } from '../test/support/tls-policy-server.ts';
import { newTicketRing, rotateTicketRing } from '../src/ingress/ticket-keys.ts';

const option = (name: string, fallback: number) => Number(process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const HANDSHAKES = option('handshakes', 2_000);
const ROUNDS = option('rounds', 4);

const ca = await createCa({ commonName: 'bench CA' });
const issued = await issueCertificate({ issuer: ca, commonName: 'a.test', kind: 'server', dnsNames: ['a.test'] });
const credentials = { kind: 'pem' as const, certPem: issued.certPem, keyPem: issued.keyPem };

async function connect(port: number, session?: Buffer): Promise<Buffer | undefined> {
  const { reused, ticket } = await connectTls13(port, 'a.test', session);
  if (session && !reused) throw new Error('not resumed');
  return ticket;
}

async function round(port: number, resumed: boolean): Promise<number> {
  const ticket = resumed ? await connect(port) : undefined;
  const before = process.cpuUsage();
  for (let i = 0; i < HANDSHAKES; i++) await connect(port, ticket);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / HANDSHAKES;
}

// The ring as replicas hold it after a few rotations: four seeds, the ticket under the current key.
let ring = newTicketRing();
for (let i = 0; i < 2; i++) ring = rotateTicketRing(ring);
const ringed = await servePolicy(new TlsPolicyCache(ring).policy('a', undefined, credentials));
const own = await servePolicy(new TlsPolicyCache().policy('a', undefined, credentials));
const results: Record<string, number[]> = { 'ring, full': [], 'own keys, full': [], 'ring, resumed': [], 'own keys, resumed': [] };
for (let r = 0; r < ROUNDS; r++) {
  results['ring, full']!.push(await round(ringed.port, false));
  results['own keys, full']!.push(await round(own.port, false));
  results['ring, resumed']!.push(await round(ringed.port, true));
  results['own keys, resumed']!.push(await round(own.port, true));
}
ringed.close();
own.close();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
process.stdout.write(`| handshakes (client and server in one process) | CPU µs per handshake, median of ${ROUNDS} rounds of ${HANDSHAKES} |\n|---|---|\n`);
for (const [name, values] of Object.entries(results)) process.stdout.write(`| ${name} | ${median(values).toFixed(0)} (${values.map((value) => value.toFixed(0)).join(', ')}) |\n`);
