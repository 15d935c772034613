import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { derToPem, formatXfcc, percentEncode } from './index.ts';

const vectors = new URL('../../test/fixtures/xfcc-vectors/', import.meta.url);
const readVector = (name: string): string => readFileSync(new URL(name, vectors), 'utf8');
const derOf = (name: string): Uint8Array => new X509Certificate(readVector(name)).raw;
// The files end with a newline that is not part of the header value.
const expectedHeader = (name: string): string => readVector(name).replace(/\n$/, '');

describe('formatXfcc', () => {
  it('matches the leaf + intermediate vector byte for byte', () => {
    assert.equal(
      formatXfcc([derOf('leaf.pem'), derOf('int.pem')]),
      expectedHeader('expected-xfcc-leaf-with-intermediate.txt'),
    );
  });

  it('matches the self-signed vector byte for byte', () => {
    assert.equal(formatXfcc([derOf('self.pem')]), expectedHeader('expected-xfcc-self-signed.txt'));
  });

  it('puts every certificate in Chain, leaf first, in the order given', () => {
    const chain = ['leaf.pem', 'int.pem', 'root.pem'];
    const header = formatXfcc(chain.map(derOf));
    const chainValue = header.slice(header.indexOf(';Chain="') + ';Chain="'.length, -1);
    assert.equal(chainValue, chain.map((name) => percentEncode(readVector(name))).join(''));
  });

  it('refuses an empty chain', () => {
    assert.throws(() => formatXfcc([]), RangeError);
  });
});

describe('derToPem', () => {
  it('reproduces the PEM files of the vectors', () => {
    for (const name of ['leaf.pem', 'int.pem', 'root.pem', 'self.pem']) {
      assert.equal(derToPem(derOf(name)), readVector(name), name);
    }
  });

  it('wraps at 64 characters and ends with a newline', () => {
    assert.equal(derToPem(new Uint8Array(48)), `-----BEGIN CERTIFICATE-----\n${'A'.repeat(64)}\n-----END CERTIFICATE-----\n`);
    assert.equal(
      derToPem(new Uint8Array(49)),
      `-----BEGIN CERTIFICATE-----\n${'A'.repeat(64)}\nAA==\n-----END CERTIFICATE-----\n`,
    );
  });

  it('encodes only the bytes of a view, not its whole buffer', () => {
    const buffer = new Uint8Array([0xff, 0xfb, 0xff, 0xff]);
    assert.equal(derToPem(buffer.subarray(1, 3)), '-----BEGIN CERTIFICATE-----\n+/8=\n-----END CERTIFICATE-----\n');
  });
});

describe('percentEncode', () => {
  it('keeps exactly A-Z a-z 0-9 * - . _ and writes every other ASCII byte as upper-case %XX', () => {
    const kept = /^[A-Za-z0-9*\-._]$/;
    for (let code = 0; code < 0x80; code++) {
      const char = String.fromCharCode(code);
      const expected = kept.test(char) ? char : `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
      assert.equal(percentEncode(char), expected, `byte 0x${code.toString(16)}`);
    }
  });

  it('encodes each UTF-8 byte of non-ASCII characters', () => {
    assert.equal(percentEncode('é'), '%C3%A9');
    assert.equal(percentEncode('€'), '%E2%82%AC');
    assert.equal(percentEncode('😀'), '%F0%9F%98%80');
    assert.equal(percentEncode('\u{FEFF}x'), '%EF%BB%BFx');
  });

  it('escapes the PEM characters + / = and the line ends and spaces', () => {
    const pem = derToPem(new Uint8Array([0xfb, 0xff]));
    assert.equal(pem, '-----BEGIN CERTIFICATE-----\n+/8=\n-----END CERTIFICATE-----\n');
    assert.equal(
      percentEncode(pem),
      '-----BEGIN%20CERTIFICATE-----%0A%2B%2F8%3D%0A-----END%20CERTIFICATE-----%0A',
    );
  });
});
