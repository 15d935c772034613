// The shared reference vectors (../shared/reference/xfcc-vectors, copied to test/fixtures) through
// the app library: the expected headers parse and verify against root.pem, and each kind of
// tampering is refused with its own code.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createVerifier } from '../src/app-auth/index.ts';
import type { VerifierOptions, VerifyResult } from '../src/app-auth/index.ts';
import { issueCertificate } from '../src/pki/issue.ts';
import { formatXfcc, parseXfcc, percentEncode, sha256Hex } from '../src/xfcc/index.ts';
import { expectedLeafWithIntermediate, expectedSelfSigned, VECTORS } from './support/vectors.ts';

const read = (name: string) => readFileSync(join(VECTORS, name), 'utf8');
const root = read('root.pem');
// The vectors are valid from 2026-11-27T04:12:45Z for a century: verify at a fixed time inside.
const clock = () => new Date('2027-06-01T00:00:00Z');

function verify(header: string, options: VerifierOptions = {}): VerifyResult {
  return createVerifier({ trustAnchors: [root], clock, ...options }).verifyHeaders({ 'x-forwarded-client-cert': header });
}

function codeOf(result: VerifyResult): string {
  return result.ok ? 'ok' : `${result.code}`;
}

describe('the reference vectors parse and verify', () => {
  test('leaf + intermediate against root.pem', () => {
    const parsed = parseXfcc(expectedLeafWithIntermediate);
    assert.ok(parsed.ok);
    const result = verify(expectedLeafWithIntermediate);
    assert.ok(result.ok, result.ok ? '' : result.message);
    assert.equal(result.identity.thumbprint, parsed.elements[0]!.hash);
    assert.equal(result.identity.subject, 'CN=device-42, O=Contoso Devices');
    assert.equal(result.identity.issuer, 'CN=Vector Intermediate CA, O=certgate test');
    assert.deepEqual(result.identity.san.dns, ['device-42.contoso.test']);
    assert.equal(result.identity.spiffeId, 'spiffe://contoso.test/device/42');
    assert.deepEqual(
      result.identity.path.map((entry) => entry.subject),
      ['CN=device-42, O=Contoso Devices', 'CN=Vector Intermediate CA, O=certgate test', 'CN=Vector Root CA, O=certgate test'],
    );
  });

  test('self-signed, admitted by its thumbprint and not by root.pem', () => {
    const thumbprint = sha256Hex(new X509Certificate(read('self.pem')).raw);
    const pinned = createVerifier({ allow: { thumbprints: [thumbprint] }, clock }).verifyHeaders({ 'x-forwarded-client-cert': expectedSelfSigned });
    assert.equal(codeOf(pinned), 'ok');
    assert.equal(codeOf(verify(expectedSelfSigned)), 'UNTRUSTED_ISSUER');
  });

  test('a resumed session (Chain holds the leaf alone) verifies with int.pem as a known intermediate', () => {
    const leafOnly = formatXfcc([new X509Certificate(read('leaf.pem')).raw]);
    assert.equal(codeOf(verify(leafOnly)), 'UNTRUSTED_ISSUER');
    assert.equal(codeOf(verify(leafOnly, { intermediates: [read('int.pem')] })), 'ok');
  });
});

describe('tampering is refused with its code', () => {
  test('tampered Hash: HASH_MISMATCH', () => {
    const hash = /^Hash=([0-9a-f]{64})/.exec(expectedLeafWithIntermediate)![1]!;
    const flipped = hash.slice(0, -1) + (hash.endsWith('0') ? '1' : '0');
    assert.equal(codeOf(verify(expectedLeafWithIntermediate.replace(hash, flipped))), 'HASH_MISMATCH');
  });

  test('swapped Chain: CHAIN_MISMATCH', () => {
    const [leaf, intermediate, self] = ['leaf.pem', 'int.pem', 'self.pem'].map((name) => percentEncode(read(name)));
    const cert = `Hash=${sha256Hex(new X509Certificate(read('leaf.pem')).raw)};Cert="${leaf}"`;
    assert.equal(codeOf(verify(`${cert};Chain="${intermediate}${leaf}"`)), 'CHAIN_MISMATCH', 'order swapped');
    assert.equal(codeOf(verify(`${cert};Chain="${self}"`)), 'CHAIN_MISMATCH', 'another client\'s chain');
  });

  test('expired: CERT_EXPIRED', () => {
    assert.equal(codeOf(verify(expectedLeafWithIntermediate, { clock: () => new Date('2127-01-01T00:00:00Z') })), 'CERT_EXPIRED');
  });

  test('not yet valid: CERT_NOT_YET_VALID', () => {
    assert.equal(codeOf(verify(expectedLeafWithIntermediate, { clock: () => new Date('2026-01-01T00:00:00Z') })), 'CERT_NOT_YET_VALID');
  });

  test('wrong CA: UNTRUSTED_ISSUER', () => {
    assert.equal(codeOf(verify(expectedLeafWithIntermediate, { trustAnchors: [read('self.pem')] })), 'UNTRUSTED_ISSUER');
  });

  test('non-client EKU: EKU_NOT_CLIENT_AUTH', async () => {
    // A serverAuth-only certificate issued with the vectors' self-signed CA key (self.pem is CA:TRUE).
    const issuer = { certPem: read('self.pem'), keyPem: read('self.key'), chainPem: '', certificate: new X509Certificate(read('self.pem')) };
    const dates = { notBefore: new Date('2027-01-01T00:00:00Z'), notAfter: new Date('2028-01-01T00:00:00Z') };
    const server = await issueCertificate({ issuer, commonName: 'not a client', kind: 'client', extendedKeyUsages: ['serverAuth'], ...dates });
    assert.equal(codeOf(verify(formatXfcc([server.certificate.raw]), { trustAnchors: [read('self.pem')] })), 'EKU_NOT_CLIENT_AUTH');
    // The same issuer and dates with clientAuth pass: the EKU alone made the difference.
    const client = await issueCertificate({ issuer, commonName: 'a client', kind: 'client', ...dates });
    assert.equal(codeOf(verify(formatXfcc([client.certificate.raw]), { trustAnchors: [read('self.pem')] })), 'ok');
  });
});
