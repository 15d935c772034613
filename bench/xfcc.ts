// Throughput of the app library's hot paths, on the reference vector header (leaf + intermediate):
//   parse           parseXfcc alone
//   read            parse + decode the certificates (readClientCertificate)
//   verify-cached   verifyHeaders on a header seen before: what each request of a keep-alive client costs
//   verify          verifyHeaders with the result cache off (certificates already described)
//   verify-new      verifyHeaders for a client never seen: every leaf new, result cache off
// Usage: node bench/xfcc.ts [--json] [--seconds=N]  (N per case, default 1)
import { readFileSync } from 'node:fs';
import { createVerifier } from '../src/app-auth/index.ts';
import { makeCertificate, makeChain, TEST_NOW, xfccFor } from '../src/app-auth/testing.ts';
import { createClientCertificateReader, parseXfcc } from '../src/xfcc/index.ts';

interface Result {
  name: string;
  opsPerSecond: number;
  microsecondsPerOp: number;
  iterations: number;
}

const json = process.argv.includes('--json');
const secondsArgument = process.argv.find((argument) => argument.startsWith('--seconds='));
const seconds = secondsArgument ? Number(secondsArgument.slice('--seconds='.length)) : 1;

function measure(name: string, operation: (i: number) => unknown): Result {
  for (let i = 0; i < 200; i++) operation(i); // warm-up: JIT and per-certificate caches
  const budget = seconds * 1000;
  let iterations = 0;
  const started = performance.now();
  let elapsed = 0;
  // Batches keep timer reads out of the measured work.
  while (elapsed < budget) {
    for (let i = 0; i < 50; i++) operation(iterations++);
    elapsed = performance.now() - started;
  }
  return { name, opsPerSecond: Math.round((iterations / elapsed) * 1000), microsecondsPerOp: Number(((elapsed * 1000) / iterations).toFixed(2)), iterations };
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark set-up failed: ${what}`);
}

const vectors = new URL('../test/fixtures/xfcc-vectors/', import.meta.url);
const header = readFileSync(new URL('expected-xfcc-leaf-with-intermediate.txt', vectors), 'utf8').trimEnd();
const root = readFileSync(new URL('root.pem', vectors), 'utf8');
const headers = { 'x-forwarded-client-cert': header };
const clock = () => new Date('2027-06-01T00:00:00Z');

const reader = createClientCertificateReader();
const cached = createVerifier({ trustAnchors: [root], clock });
const uncached = createVerifier({ trustAnchors: [root], clock, cache: false });
check(cached.verifyHeaders(headers).ok && uncached.verifyHeaders(headers).ok, 'the vector does not verify');

// More distinct clients than the verifier keeps described certificates (512), cycled.
const pki = await makeChain();
const clients: Record<string, string>[] = [];
for (let i = 0; i < 640; i++) clients.push(xfccFor(await makeCertificate(`CN=bench client ${i}`, { issuer: pki.intermediate }), pki.intermediate));
const fresh = createVerifier({ trustAnchors: [pki.root.pem], clock: () => TEST_NOW, cache: false });
check(fresh.verifyHeaders(clients[0]!).ok, 'the generated clients do not verify');

const results = [
  measure('parse', () => parseXfcc(header)),
  measure('read', () => reader.read(headers)),
  measure('verify-cached', () => cached.verifyHeaders(headers)),
  measure('verify', () => uncached.verifyHeaders(headers)),
  measure('verify-new', (i) => fresh.verifyHeaders(clients[i % clients.length]!)),
];

if (json) {
  console.log(JSON.stringify({ benchmark: 'xfcc', node: process.version, secondsPerCase: seconds, results }, null, 2));
} else {
  const rows = results.map((result) => [result.name, result.opsPerSecond.toLocaleString('en-US'), result.microsecondsPerOp.toFixed(2)]);
  const widths = [14, 12, 10];
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log(line(['case', 'ops/s', 'µs/op']));
  for (const row of rows) console.log(line(row));
}
