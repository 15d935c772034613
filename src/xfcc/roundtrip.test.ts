import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { decodeCertificates, derToPem, formatXfcc, parseXfcc, percentDecode, percentEncode, sha256Hex } from './index.ts';

const vectors = new URL('../../test/fixtures/xfcc-vectors/', import.meta.url);
const vectorDer = ['leaf.pem', 'int.pem', 'root.pem', 'self.pem'].map(
  (name) => new Uint8Array(new X509Certificate(readFileSync(new URL(name, vectors))).raw),
);

const KEY_ALGORITHMS = [
  { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
  { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' },
  { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  { name: 'Ed25519' },
];

/** Self-signed certificates of varied key types and sizes, so the PEMs vary in length and padding. */
async function generateCertificates(): Promise<Uint8Array[]> {
  const certificates: Uint8Array[] = [];
  for (const [index, algorithm] of KEY_ALGORITHMS.entries()) {
    const keys = (await crypto.subtle.generateKey(algorithm, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const certificate = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: `0${index + 1}`,
        name: `CN=roundtrip ${index} "quoted"\\, with comma, O=Zürich Tést`,
        notBefore: new Date('2025-01-01T00:00:00Z'),
        notAfter: new Date('2035-01-01T00:00:00Z'),
        signingAlgorithm: algorithm,
        keys,
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://td/client/${index}` }])],
      },
      crypto,
    );
    certificates.push(new Uint8Array(certificate.rawData));
  }
  return certificates;
}

// encodeURIComponent leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ) alone; Envoy also escapes ! ~ ' ( ).
function referencePercentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!~'()]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}

describe('format → parse round trip', () => {
  let pool: Uint8Array[] = [];
  before(async () => {
    pool = [...vectorDer, ...(await generateCertificates())];
  });

  it('gives back every certificate of any chain, in order, with a matching Hash', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: pool.length - 1 }), { minLength: 1, maxLength: 6 }), (picks) => {
        const chain = picks.map((pick) => pool[pick]!);
        const parsed = parseXfcc(formatXfcc(chain));
        assert.ok(parsed.ok);
        const [element, ...rest] = parsed.elements;
        assert.equal(rest.length, 0);
        assert.equal(element!.cert, derToPem(chain[0]!));
        assert.equal(element!.hash, sha256Hex(chain[0]!));

        const decoded = decodeCertificates(element!.chain!);
        assert.ok(decoded.ok);
        assert.deepEqual(
          decoded.certificates.map((certificate) => sha256Hex(certificate.raw)),
          chain.map(sha256Hex),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('parses headers of several proxies joined the way Node joins repeated headers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.nat({ max: pool.length - 1 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
        (chains) => {
          const header = chains.map((picks) => formatXfcc(picks.map((pick) => pool[pick]!))).join(', ');
          const parsed = parseXfcc(header);
          assert.ok(parsed.ok);
          assert.deepEqual(
            parsed.elements.map((element) => element.hash),
            chains.map((picks) => sha256Hex(pool[picks[0]!]!)),
          );
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('percent-encoding properties', () => {
  const unicode = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary-ascii' }));

  it('decodes what it encodes, for any Unicode string', () => {
    fc.assert(
      fc.property(unicode, (s) => {
        assert.equal(percentDecode(percentEncode(s)), s);
      }),
      { numRuns: 2000 },
    );
  });

  it('encodes like encodeURIComponent with ! ~ \' ( ) also escaped, into header-safe ASCII', () => {
    fc.assert(
      fc.property(unicode, (s) => {
        const encoded = percentEncode(s);
        assert.match(encoded, /^[A-Za-z0-9*\-._%]*$/);
        assert.equal(encoded, referencePercentEncode(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws when decoding arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(unicode, fc.stringMatching(/^(%[0-9A-Fa-f]{0,2}|[a-z+])*$/)), (s) => {
        const decoded = percentDecode(s);
        assert.ok(decoded === undefined || typeof decoded === 'string');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseXfcc robustness', () => {
  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii', maxLength: 300 })), (s) => {
        const result = parseXfcc(s);
        assert.equal(typeof result.ok, 'boolean');
      }),
      { numRuns: 3000 },
    );
  });
});
