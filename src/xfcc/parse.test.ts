import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_XFCC_MAX_LENGTH, decodeCertificates, parseXfcc, sha256Hex, splitPemBundle } from './index.ts';
import type { XfccElement, XfccErrorCode, XfccParseResult } from './index.ts';

const vectors = new URL('../../test/fixtures/xfcc-vectors/', import.meta.url);
const readVector = (name: string): string => readFileSync(new URL(name, vectors), 'utf8');
const expectedHeader = (name: string): string => readVector(name).replace(/\n$/, '');

const HASH = '468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688';
const OTHER_HASH = '9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e';
const ERROR_CODES: readonly XfccErrorCode[] = [
  'XFCC_EMPTY',
  'XFCC_TOO_LARGE',
  'XFCC_SYNTAX',
  'XFCC_BAD_ENCODING',
  'XFCC_BAD_HASH',
  'XFCC_DUPLICATE_KEY',
];

function elementsOf(result: XfccParseResult): XfccElement[] {
  assert.ok(result.ok, result.ok ? '' : `${result.code}: ${result.message}`);
  return result.elements;
}

function onlyElement(header: string): XfccElement {
  const elements = elementsOf(parseXfcc(header));
  assert.equal(elements.length, 1);
  return elements[0]!;
}

function assertError(header: string, code: XfccErrorCode): void {
  const result = parseXfcc(header);
  assert.equal(result.ok, false, `expected ${code} for ${JSON.stringify(header)}`);
  if (!result.ok) assert.equal(result.code, code, `${JSON.stringify(header)}: ${result.message}`);
}

describe('parseXfcc on the vectors', () => {
  it('gives back the leaf, the chain and a Hash that matches the leaf', () => {
    const element = onlyElement(expectedHeader('expected-xfcc-leaf-with-intermediate.txt'));
    assert.equal(element.cert, readVector('leaf.pem'));
    assert.equal(element.chain, readVector('leaf.pem') + readVector('int.pem'));

    const leaf = decodeCertificates(element.cert!);
    assert.ok(leaf.ok);
    assert.equal(element.hash, sha256Hex(leaf.certificates[0]!.raw));

    const chain = decodeCertificates(element.chain!);
    assert.ok(chain.ok);
    assert.deepEqual(
      chain.certificates.map((cert) => cert.fingerprint256),
      ['leaf.pem', 'int.pem'].map((name) => new X509Certificate(readVector(name)).fingerprint256),
    );
    assert.equal(chain.certificates[0]!.subject, 'CN=device-42\nO=Contoso Devices');
    assert.ok(chain.certificates[0]!.checkIssued(chain.certificates[1]!));
  });

  it('parses the self-signed vector', () => {
    const element = onlyElement(expectedHeader('expected-xfcc-self-signed.txt'));
    assert.equal(element.cert, readVector('self.pem'));
    assert.equal(element.chain, readVector('self.pem'));
    assert.equal(element.hash, sha256Hex(new X509Certificate(readVector('self.pem')).raw));
    assert.deepEqual([element.by, element.uri, element.dns], [[], [], []]);
  });
});

describe('parseXfcc grammar', () => {
  it('treats keys case-insensitively', () => {
    const element = onlyElement(`hash=${HASH};CERT="a";cHaIn="b";subject="CN=x";uri=spiffe://td/x;Dns=x.test;BY=spiffe://td/proxy`);
    assert.equal(element.hash, HASH);
    assert.equal(element.cert, 'a');
    assert.equal(element.chain, 'b');
    assert.equal(element.subject, 'CN=x');
    assert.deepEqual(element.uri, ['spiffe://td/x']);
    assert.deepEqual(element.dns, ['x.test']);
    assert.deepEqual(element.by, ['spiffe://td/proxy']);
  });

  it('lower-cases the Hash so it compares with sha256Hex', () => {
    assert.equal(onlyElement(`Hash=${HASH.toUpperCase()}`).hash, HASH);
  });

  it('unescapes \\" and \\\\ in quoted values', () => {
    const element = onlyElement('Note="say \\"hi\\", a;b=c \\\\ \\n";URI="spiffe://td/a;b"');
    assert.equal(element.extra['note'], 'say "hi", a;b=c \\ \\n');
    assert.deepEqual(element.uri, ['spiffe://td/a;b']);
  });

  it('keeps Subject and Issuer verbatim: their RFC 2253 escapes carry meaning', () => {
    const element = onlyElement('Subject="CN=a\\\\,O=b \\"q\\"";Issuer="CN=Issuing CA\\, Inc.,O=50% off"');
    assert.equal(element.subject, 'CN=a\\\\,O=b \\"q\\"');
    assert.equal(element.issuer, 'CN=Issuing CA\\, Inc.,O=50% off');
  });

  it('tolerates a trailing ";" and whitespace around pairs and elements', () => {
    const element = onlyElement(`  Hash=${HASH} ;  Cert = "a" ;URI=spiffe://td/x ;; `);
    assert.equal(element.hash, HASH);
    assert.equal(element.cert, 'a');
    assert.deepEqual(element.uri, ['spiffe://td/x']);
  });

  it('splits elements at "," outside quotes, each with its own By (nearest proxy last)', () => {
    const header =
      `By=http://frontend.lyft.com;Hash=${HASH};Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";` +
      `URI=http://testclient.lyft.com,` +
      // Node joins repeated headers with ", ".
      ` By=http://backend.lyft.com;Hash=${OTHER_HASH};Cert="x%2Cy";URI=http://frontend.lyft.com`;
    const [first, second, ...rest] = elementsOf(parseXfcc(header));
    assert.equal(rest.length, 0);
    assert.deepEqual(first!.by, ['http://frontend.lyft.com']);
    assert.equal(first!.hash, HASH);
    assert.equal(first!.subject, '/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client');
    assert.deepEqual(first!.uri, ['http://testclient.lyft.com']);
    assert.deepEqual(second!.by, ['http://backend.lyft.com']);
    assert.equal(second!.hash, OTHER_HASH);
    assert.equal(second!.cert, 'x,y');
    assert.deepEqual(second!.uri, ['http://frontend.lyft.com']);
  });

  it('collects repeated By, URI and DNS keys and skips Envoy\'s empty "URI="', () => {
    const element = onlyElement('By=spiffe://a;By=spiffe://b;URI=;DNS=a.test;DNS=b.test;URI=spiffe://td/x');
    assert.deepEqual(element.by, ['spiffe://a', 'spiffe://b']);
    assert.deepEqual(element.dns, ['a.test', 'b.test']);
    assert.deepEqual(element.uri, ['spiffe://td/x']);
  });

  it('rejoins an unquoted URI that Envoy cut at ";"', () => {
    const element = onlyElement(`URI=spiffe://td/a;b;c;DNS=x.test;Hash=${HASH}`);
    assert.deepEqual(element.uri, ['spiffe://td/a;b;c']);
    assert.deepEqual(element.dns, ['x.test']);
  });

  it('documented limitation: after an unquoted ";" a segment with "=" is a new pair', () => {
    const element = onlyElement('URI=https://x.test/?a=1;b=2');
    assert.deepEqual(element.uri, ['https://x.test/?a=1']);
    assert.equal(element.extra['b'], '2');
  });

  it('documented limitation: a "," inside an unquoted URI starts a new element', () => {
    const elements = elementsOf(parseXfcc(`Hash=${HASH};Cert="a";URI=spiffe://td/x,Hash=${OTHER_HASH};Cert="b"`));
    assert.deepEqual(
      elements.map((element) => [element.hash, element.cert, element.uri]),
      [
        [HASH, 'a', ['spiffe://td/x']],
        [OTHER_HASH, 'b', []],
      ],
    );
  });

  it('percent-decodes Cert and Chain strictly: "+" stays "+"', () => {
    const element = onlyElement('Cert="a+b%2Bc%20d";Chain="%E2%82%AC+"');
    assert.equal(element.cert, 'a+b+c d');
    assert.equal(element.chain, '€+');
  });

  it('keeps By, URI, DNS and unknown values as sent (Envoy does not percent-encode them)', () => {
    const element = onlyElement('By=spiffe://td/p%20x;URI=spiffe://td/a%2Fb;DNS=x.test;Other=%41');
    assert.deepEqual(element.by, ['spiffe://td/p%20x']);
    assert.deepEqual(element.uri, ['spiffe://td/a%2Fb']);
    assert.equal(element.extra['other'], '%41');
  });

  it('keeps unknown keys, lower-cased, in a null-prototype map', () => {
    const element = onlyElement('Foo=bar;__proto__=x;X-Thing="q"');
    assert.equal(Object.getPrototypeOf(element.extra), null);
    assert.deepEqual(Object.entries(element.extra), [
      ['foo', 'bar'],
      ['__proto__', 'x'],
      ['x-thing', 'q'],
    ]);
  });
});

describe('parseXfcc errors', () => {
  it('reports empty headers', () => {
    assertError('', 'XFCC_EMPTY');
    assertError(' \t ', 'XFCC_EMPTY');
  });

  it('reports headers over the length limit', () => {
    const header = `Cert="${'A'.repeat(DEFAULT_XFCC_MAX_LENGTH)}"`;
    assertError(header, 'XFCC_TOO_LARGE');
    const result = parseXfcc(`Hash=${HASH}`, { maxLength: 10 });
    assert.equal(result.ok ? 'ok' : result.code, 'XFCC_TOO_LARGE');
  });

  it('reports syntax errors', () => {
    for (const header of [
      'Cert="abc',
      'Cert="abc\\"',
      'Cert="a"b',
      'Hash',
      '=x',
      'Ha sh=x',
      '"Cert"="x"',
      'URI=a"b',
      `,Hash=${HASH}`,
      `Hash=${HASH},`,
      `Hash=${HASH},,URI=x`,
      ';',
      'Cert="x";"y"',
    ]) {
      assertError(header, 'XFCC_SYNTAX');
    }
  });

  it('reports bad percent-encoding in Cert and Chain', () => {
    for (const header of ['Cert="%ZZ"', 'Cert="%4"', 'Chain="abc%"', 'Cert="%C3%28"', 'Cert="%ED%A0%80"', 'Cert="%FF"']) {
      assertError(header, 'XFCC_BAD_ENCODING');
    }
  });

  it('reports a Hash that is not SHA-256 hex', () => {
    for (const header of ['Hash=xyz', `Hash=${HASH}0`, `Hash="${HASH.slice(1)}g"`, 'Hash=']) {
      assertError(header, 'XFCC_BAD_HASH');
    }
  });

  it('reports single-valued keys given twice in one element', () => {
    assertError(`Hash=${HASH};hash=${HASH}`, 'XFCC_DUPLICATE_KEY');
    assertError('Cert="a";Cert="b"', 'XFCC_DUPLICATE_KEY');
    assertError('Foo=1;FOO=2', 'XFCC_DUPLICATE_KEY');
    // A URI SAN crafted to override the Hash is caught the same way.
    assertError(`Hash=${HASH};URI=spiffe://td/x;Hash=${OTHER_HASH}`, 'XFCC_DUPLICATE_KEY');
  });

  it('answers garbage built from the grammar\'s own characters with a result, never an exception', () => {
    const alphabet = fc.constantFrom('"', '\\', ';', ',', '=', '%', '2', 'C', 'a', ' ', 'Hash', 'Cert', 'URI', HASH);
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 40 }), (parts) => {
        const result = parseXfcc(parts.join(''));
        assert.ok(result.ok || ERROR_CODES.includes(result.code));
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on inputs that are not strings', () => {
    for (const input of [undefined, null, 42, ['Hash=x'], {}]) {
      const result = parseXfcc(input as unknown as string);
      assert.equal(result.ok ? 'ok' : result.code, 'XFCC_EMPTY');
    }
  });
});

describe('certificate helpers', () => {
  it('splits a PEM bundle and rejects what is not one', () => {
    const leaf = readVector('leaf.pem');
    const intermediate = readVector('int.pem');
    assert.deepEqual(splitPemBundle(`\n${leaf}\r\n${intermediate}`), [leaf, intermediate]);
    assert.deepEqual(splitPemBundle(leaf.trimEnd()), [leaf]);
    assert.equal(splitPemBundle(''), undefined);
    assert.equal(splitPemBundle(`${leaf}junk`), undefined);
    assert.equal(splitPemBundle(leaf.slice(0, 200)), undefined);
    assert.equal(splitPemBundle(readVector('leaf.key')), undefined);
  });

  it('reports certificates that do not parse, without throwing', () => {
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    const result = decodeCertificates(readVector('leaf.pem') + broken);
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.code, 'CERT_INVALID');
      assert.match(result.message, /^certificate 1: /);
    }
    const notPem = decodeCertificates('hello');
    assert.equal(notPem.ok ? 'ok' : notPem.code, 'CERT_BAD_PEM');
  });
});
