// What the fuzz targets share: the reference vectors, a second PKI with a CRL (fuzz/pki, written
// once by seed-corpus.mjs so that corpus inputs mean the same on every run), and verifiers
// configured the ways apps configure them. Loaded once per fuzzing process.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createVerifier, ERROR_CODES } from '../src/app-auth/index.ts';
import { TEST_NOW } from '../src/app-auth/testing.ts';

const read = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');
const pem = (name) => read(`../test/fixtures/xfcc-vectors/${name}`);
const der = (text) => new Uint8Array(new X509Certificate(text).raw);
const generated = { root: read('./pki/root.pem'), intermediate: read('./pki/intermediate.pem'), leaf: read('./pki/leaf.pem') };
const crl = read('./pki/intermediate.crl');

/** Certificates the verify target combines into chains: vectors first, then fuzz/pki. */
export const POOL = [pem('leaf.pem'), pem('int.pem'), pem('root.pem'), pem('self.pem'), generated.leaf, generated.intermediate, generated.root].map(der);

const clock = () => TEST_NOW;
export const VERIFIERS = [
  createVerifier({ trustAnchors: [pem('root.pem'), generated.root], clock, cache: { maxEntries: 64 } }),
  createVerifier({
    trustAnchors: [generated.root],
    intermediates: [pem('int.pem'), generated.intermediate],
    crls: [crl],
    requireCrl: false,
    allow: { sans: ['uri:spiffe://tests.example/*', 'dns:device-42.contoso.test'] },
    clock,
    cache: false,
  }),
  createVerifier({
    allow: { thumbprints: [POOL[3]].map((d) => new X509Certificate(d).fingerprint256) },
    formats: ['xfcc', 'arr', 'rfc9440', 'nginx', 'aws-alb'],
    xfccElement: 'only',
    clock,
  }),
];

/** Throws (a finding) unless `result` is a well-formed verification or read result. */
export function checkResult(result) {
  if (result === null || typeof result !== 'object' || typeof result.ok !== 'boolean') throw new Error('result is not a result');
  if (result.ok) {
    if (typeof result.identity?.thumbprint !== 'string') throw new Error('ok without an identity');
    return;
  }
  if (!(result.code in ERROR_CODES)) throw new Error(`undocumented code ${result.code}`);
  if (result.code === 'INTERNAL_ERROR') throw new Error(`internal error: ${result.message}`);
  if (typeof result.message !== 'string') throw new Error('failure without a message');
}
