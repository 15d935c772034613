import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createClientCertificateReader, formatXfcc, percentEncode, readClientCertificate, sha256Hex } from './index.ts';
import type { ReadErrorCode, ReaderOptions, ReadResult } from './index.ts';

const vectors = new URL('../../test/fixtures/xfcc-vectors/', import.meta.url);
const pemOf = (name: string): string => readFileSync(new URL(name, vectors), 'utf8');
const derOf = (name: string): Buffer => new X509Certificate(pemOf(name)).raw;
const LEAF = derOf('leaf.pem');
const INT = derOf('int.pem');
const SELF = derOf('self.pem');
const LEAF_HASH = sha256Hex(LEAF);
const xfcc = formatXfcc([LEAF, INT]);

function certificateOf(result: ReadResult) {
  assert.ok(result.ok, result.ok ? '' : `${result.code}: ${result.message}`);
  return result.certificate;
}

function assertCode(result: ReadResult, code: ReadErrorCode): void {
  assert.equal(result.ok ? 'ok' : result.code, code, result.ok ? '' : result.message);
}

const hashesOf = (certificates: X509Certificate[]) => certificates.map((certificate) => sha256Hex(certificate.raw));

describe('readClientCertificate: X-Forwarded-Client-Cert', () => {
  it('reads Cert, Chain and Hash of the header certgate sends', () => {
    const certificate = certificateOf(readClientCertificate({ 'x-forwarded-client-cert': xfcc }));
    assert.equal(certificate.format, 'xfcc');
    assert.equal(certificate.header, 'x-forwarded-client-cert');
    assert.equal(certificate.hash, LEAF_HASH);
    assert.deepEqual(hashesOf(certificate.chain), [LEAF_HASH, sha256Hex(INT)]);
    assert.ok(certificate.leaf.raw.equals(LEAF));
  });

  it('finds the header in any casing, in Fetch Headers too', () => {
    certificateOf(readClientCertificate({ 'X-Forwarded-Client-Cert': xfcc }));
    certificateOf(readClientCertificate(new Headers({ 'X-FORWARDED-CLIENT-CERT': xfcc })));
  });

  it('takes the last element (the nearest proxy\'s) unless told to accept only one', () => {
    const header = `${formatXfcc([SELF])},${xfcc}`;
    assert.equal(certificateOf(readClientCertificate({ 'x-forwarded-client-cert': header })).hash, LEAF_HASH);
    // Node joins repeated header lines with ", ": the same list.
    assert.equal(certificateOf(readClientCertificate({ 'x-forwarded-client-cert': [formatXfcc([SELF]), xfcc] })).hash, LEAF_HASH);
    assertCode(readClientCertificate({ 'x-forwarded-client-cert': header }, { xfccElement: 'only' }), 'HEADER_AMBIGUOUS');
    certificateOf(readClientCertificate({ 'x-forwarded-client-cert': xfcc }, { xfccElement: 'only' }));
  });

  it('refuses a Hash that is not the Cert\'s', () => {
    const tampered = xfcc.replace(LEAF_HASH, sha256Hex(SELF));
    assertCode(readClientCertificate({ 'x-forwarded-client-cert': tampered }), 'HASH_MISMATCH');
  });

  it('refuses a Chain that does not start with the Cert', () => {
    const cert = percentEncode(pemOf('leaf.pem'));
    const swapped = `Hash=${LEAF_HASH};Cert="${cert}";Chain="${percentEncode(pemOf('int.pem'))}${cert}"`;
    assertCode(readClientCertificate({ 'x-forwarded-client-cert': swapped }), 'CHAIN_MISMATCH');
    const otherClient = `Hash=${LEAF_HASH};Cert="${cert}";Chain="${percentEncode(pemOf('self.pem'))}"`;
    assertCode(readClientCertificate({ 'x-forwarded-client-cert': otherClient }), 'CHAIN_MISMATCH');
  });

  it('uses Chain\'s first certificate when Cert is absent, and Cert alone when Chain is', () => {
    const chainOnly = `Hash=${LEAF_HASH};Chain="${percentEncode(pemOf('leaf.pem') + pemOf('int.pem'))}"`;
    assert.equal(certificateOf(readClientCertificate({ 'x-forwarded-client-cert': chainOnly })).chain.length, 2);
    const certOnly = `Cert="${percentEncode(pemOf('leaf.pem'))}"`;
    assert.deepEqual(hashesOf(certificateOf(readClientCertificate({ 'x-forwarded-client-cert': certOnly })).chain), [LEAF_HASH]);
  });

  it('reports what is wrong with malformed values', () => {
    const cases: [string, ReadErrorCode][] = [
      ['Cert="unterminated', 'HEADER_MALFORMED'],
      [`Hash=${LEAF_HASH};By=spiffe://proxy`, 'HEADER_MALFORMED'],
      ['Cert="-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----%0A"', 'CERT_MALFORMED'],
      [`Cert="${percentEncode(pemOf('leaf.pem') + pemOf('int.pem'))}"`, 'CERT_MALFORMED'],
      [`Cert="${percentEncode(pemOf('leaf.key'))}"`, 'CERT_MALFORMED'],
    ];
    for (const [header, code] of cases) assertCode(readClientCertificate({ 'x-forwarded-client-cert': header }), code);
  });

  it('limits the chain length', () => {
    const long = formatXfcc([LEAF, INT, INT, INT]);
    assertCode(readClientCertificate({ 'x-forwarded-client-cert': long }, { maxChainLength: 3 }), 'CHAIN_TOO_LONG');
    certificateOf(readClientCertificate({ 'x-forwarded-client-cert': long }, { maxChainLength: 4 }));
  });
});

describe('readClientCertificate: other platforms', () => {
  const read = (headers: Record<string, string | string[]>, formats: ReaderOptions['formats']) => readClientCertificate(headers, { formats });

  it('X-ARR-ClientCert (Azure App Service): base64 DER', () => {
    const certificate = certificateOf(read({ 'x-arr-clientcert': LEAF.toString('base64') }, ['arr']));
    assert.equal(certificate.format, 'arr');
    assert.equal(certificate.hash, LEAF_HASH);
    assertCode(read({ 'x-arr-clientcert': 'not base64!' }, ['arr']), 'HEADER_MALFORMED');
    assertCode(read({ 'x-arr-clientcert': Buffer.from('hello').toString('base64') }, ['arr']), 'CERT_MALFORMED');
    // Trailing bytes after the certificate: not what App Service sends.
    assertCode(read({ 'x-arr-clientcert': Buffer.concat([LEAF, Buffer.from([0])]).toString('base64') }, ['arr']), 'CERT_MALFORMED');
    assertCode(read({ 'x-arr-clientcert': [LEAF.toString('base64'), SELF.toString('base64')] }, ['arr']), 'HEADER_AMBIGUOUS');
  });

  it('RFC 9440 Client-Cert and Client-Cert-Chain', () => {
    const headers = { 'client-cert': `:${LEAF.toString('base64')}:`, 'client-cert-chain': `:${INT.toString('base64')}:, :${SELF.toString('base64')}:` };
    const certificate = certificateOf(read(headers, ['rfc9440']));
    assert.equal(certificate.format, 'rfc9440');
    assert.deepEqual(hashesOf(certificate.chain), [LEAF_HASH, sha256Hex(INT), sha256Hex(SELF)]);
    // Repeated Client-Cert-Chain lines are one list.
    const split = certificateOf(read({ ...headers, 'client-cert-chain': [`:${INT.toString('base64')}:`, `:${SELF.toString('base64')}:`] }, ['rfc9440']));
    assert.equal(split.chain.length, 3);
    assert.equal(certificateOf(read({ 'client-cert': headers['client-cert'] }, ['rfc9440'])).chain.length, 1);
    // Unpadded base64 is tolerated.
    certificateOf(read({ 'client-cert': `:${LEAF.toString('base64').replace(/=+$/, '')}:` }, ['rfc9440']));
    assertCode(read({ 'client-cert': LEAF.toString('base64') }, ['rfc9440']), 'HEADER_MALFORMED');
    assertCode(read({ 'client-cert-chain': headers['client-cert-chain'] }, ['rfc9440']), 'HEADER_MALFORMED');
    assertCode(read({ ...headers, 'client-cert-chain': ':AAAA:' }, ['rfc9440']), 'CERT_MALFORMED');
    assertCode(read({ ...headers, 'client-cert-chain': `${headers['client-cert-chain']},` }, ['rfc9440']), 'HEADER_MALFORMED');
    assertCode(readClientCertificate(headers, { formats: ['rfc9440'], maxChainLength: 2 }), 'CHAIN_TOO_LONG');
  });

  it('nginx $ssl_client_escaped_cert, under its default or a configured header name', () => {
    const escaped = encodeURIComponent(pemOf('leaf.pem'));
    assert.equal(certificateOf(read({ 'x-ssl-client-cert': escaped }, ['nginx'])).hash, LEAF_HASH);
    const custom = certificateOf(read({ 'ssl-client-cert': escaped }, [{ format: 'nginx', header: 'SSL-Client-Cert' }]));
    assert.equal(custom.header, 'ssl-client-cert');
    assertCode(read({ 'x-ssl-client-cert': encodeURIComponent(pemOf('leaf.pem') + pemOf('int.pem')) }, ['nginx']), 'CERT_MALFORMED');
    assertCode(read({ 'x-ssl-client-cert': '%ZZ' }, ['nginx']), 'HEADER_MALFORMED');
  });

  it('AWS ALB X-Amzn-Mtls-Clientcert: escaped PEM chain with "+", "=", "/" left as they are', () => {
    const albEncode = (text: string) => encodeURIComponent(text).replace(/%2B/g, '+').replace(/%3D/g, '=').replace(/%2F/g, '/');
    const value = albEncode(pemOf('leaf.pem') + pemOf('int.pem'));
    assert.match(value, /[+/=]/);
    const certificate = certificateOf(read({ 'x-amzn-mtls-clientcert': value }, ['aws-alb']));
    assert.deepEqual(hashesOf(certificate.chain), [LEAF_HASH, sha256Hex(INT)]);
  });
});

describe('only configured formats are read', () => {
  it('ignores a header of a format the app did not configure', () => {
    const arr = { 'x-arr-clientcert': LEAF.toString('base64') };
    assertCode(readClientCertificate(arr), 'CERT_MISSING');
    assertCode(readClientCertificate({ 'x-forwarded-client-cert': xfcc }, { formats: ['arr'] }), 'CERT_MISSING');
  });

  it('refuses a request carrying two configured formats', () => {
    const both = { 'x-forwarded-client-cert': xfcc, 'x-arr-clientcert': LEAF.toString('base64') };
    assertCode(readClientCertificate(both, { formats: ['xfcc', 'arr'] }), 'HEADER_AMBIGUOUS');
    certificateOf(readClientCertificate(both, { formats: ['xfcc'] }));
  });

  it('lists the header names it reads', () => {
    const reader = createClientCertificateReader({ formats: ['xfcc', 'rfc9440', { format: 'nginx', header: 'X-Client-Cert' }] });
    assert.deepEqual(reader.headerNames, ['x-forwarded-client-cert', 'client-cert', 'client-cert-chain', 'x-client-cert']);
  });
});

describe('encode → read round trip, every format', () => {
  const pool = [LEAF, INT, SELF, derOf('root.pem')];
  const encoders: Record<string, (chain: Buffer[]) => Record<string, string>> = {
    xfcc: (chain) => ({ 'x-forwarded-client-cert': formatXfcc(chain) }),
    arr: (chain) => ({ 'x-arr-clientcert': chain[0]!.toString('base64') }),
    rfc9440: (chain) => ({
      'client-cert': `:${chain[0]!.toString('base64')}:`,
      ...(chain.length > 1 ? { 'client-cert-chain': chain.slice(1).map((der) => `:${der.toString('base64')}:`).join(', ') } : {}),
    }),
    nginx: (chain) => ({ 'x-ssl-client-cert': percentEncode(new X509Certificate(chain[0]!).toString()) }),
    'aws-alb': (chain) => ({ 'x-amzn-mtls-clientcert': chain.map((der) => encodeURIComponent(new X509Certificate(der).toString())).join('') }),
  };
  const singleCertificate = new Set(['arr', 'nginx']);

  it('gives back the leaf and, where the format carries one, the chain in order', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(encoders)),
        fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 5 }),
        (format, chain) => {
          const certificate = certificateOf(readClientCertificate(encoders[format]!(chain), { formats: [format as 'xfcc'] }));
          const expected = singleCertificate.has(format) ? chain.slice(0, 1) : chain;
          assert.deepEqual(hashesOf(certificate.chain), expected.map(sha256Hex));
          assert.equal(certificate.hash, sha256Hex(chain[0]!));
        },
      ),
      { numRuns: 300 },
    );
  });
});
