import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { formatXfcc } from '../xfcc/format.ts';
import { createVerifier } from './verifier.ts';
import type { VerifyResult } from './verifier.ts';
import type { VerifierOptions } from './options.ts';
import type { VerifyErrorCode } from './codes.ts';
import { makeCertificate, makeChain, TEST_NOW, xfccFor } from './testing.ts';
import type { TestCertificate } from './testing.ts';

const DAY = 24 * 60 * 60 * 1000;
const clock = () => TEST_NOW;

function verify(options: VerifierOptions, ...chain: TestCertificate[]): VerifyResult {
  return createVerifier({ clock, cache: false, ...options }).verifyHeaders(xfccFor(...chain));
}

function assertCode(result: VerifyResult, code: VerifyErrorCode, message?: RegExp): void {
  assert.equal(result.ok ? 'ok' : result.code, code, result.ok ? '' : result.message);
  if (message && !result.ok) assert.match(result.message, message);
}

function assertOk(result: VerifyResult): asserts result is Extract<VerifyResult, { ok: true }> {
  assert.ok(result.ok, result.ok ? '' : `${result.code}: ${result.message}`);
}

let pki: Awaited<ReturnType<typeof makeChain>>;
before(async () => {
  pki = await makeChain();
});

describe('path building', () => {
  it('verifies leaf + intermediate to the root and reports the identity and the path', () => {
    const result = verify({ trustAnchors: [pki.root.pem] }, pki.leaf, pki.intermediate);
    assertOk(result);
    const { identity } = result;
    assert.equal(identity.thumbprint, pki.leaf.thumbprint);
    assert.equal(identity.subject, 'CN=client-1, O=Tests');
    assert.equal(identity.issuer, 'CN=Test Intermediate');
    assert.deepEqual(identity.san, { dns: ['client-1.tests.example'], uri: ['spiffe://tests.example/client/1'], email: [], ip: [] });
    assert.equal(identity.spiffeId, 'spiffe://tests.example/client/1');
    assert.equal(identity.source, 'xfcc');
    assert.deepEqual(
      identity.path.map((entry) => entry.thumbprint),
      [pki.leaf.thumbprint, pki.intermediate.thumbprint, pki.root.thumbprint],
    );
    assert.match(identity.serialNumber, /^[0-9A-F]+$/);
    assert.equal(identity.notAfter, pki.leaf.certificate.validToDate.toISOString());
    // Shared with the cache: app code cannot change what later checks read.
    assert.throws(() => (identity.san.dns as string[]).push('admin.example'), TypeError);
    assert.throws(() => ((identity as { subject: string }).subject = 'CN=admin'), TypeError);
  });

  it('accepts the chain unordered and with unrelated extra certificates', async () => {
    const stranger = await makeCertificate('CN=Unrelated CA');
    const result = verify({ trustAnchors: [pki.root.pem] }, pki.leaf, stranger, pki.root, pki.intermediate);
    assertOk(result);
    assert.equal(result.identity.path.length, 3);
  });

  it('refuses a leaf of another CA (UNTRUSTED_ISSUER)', async () => {
    const other = await makeCertificate('CN=Other Root');
    assertCode(verify({ trustAnchors: [other.pem] }, pki.leaf, pki.intermediate), 'UNTRUSTED_ISSUER', /Test Root/);
  });

  it('refuses a leaf whose intermediate is missing, and accepts it with the intermediate known (resumed sessions)', () => {
    assertCode(verify({ trustAnchors: [pki.root.pem] }, pki.leaf), 'UNTRUSTED_ISSUER', /Test Intermediate/);
    assertOk(verify({ trustAnchors: [pki.root.pem], intermediates: [pki.intermediate.pem] }, pki.leaf));
  });

  it('accepts a leaf issued directly by an anchor, with Chain holding the leaf alone', async () => {
    const direct = await makeCertificate('CN=direct', { issuer: pki.root });
    const result = verify({ trustAnchors: [pki.root.pem] }, direct);
    assertOk(result);
    assert.equal(result.identity.path.length, 2);
  });

  it('never trusts a root because it is in Chain: a look-alike root signs nothing trusted', async () => {
    // The attacker's own root, with the real root's name, and a chain under it.
    const fakeRoot = await makeCertificate('CN=Test Root');
    const fakeIntermediate = await makeCertificate('CN=Test Intermediate', { issuer: fakeRoot, ca: true });
    const fakeLeaf = await makeCertificate('CN=client-1, O=Tests', { issuer: fakeIntermediate, noKeyIds: true });
    assertCode(
      verify({ trustAnchors: [pki.root.pem] }, fakeLeaf, fakeIntermediate, fakeRoot),
      'UNTRUSTED_ISSUER',
      /"CN=Test Root" is self-signed but not a configured trust anchor/,
    );
  });

  it('refuses a certificate that names the right issuer but is signed by another key (BAD_SIGNATURE)', async () => {
    const impostor = await makeCertificate('CN=Test Intermediate', { ca: true, noKeyIds: true });
    const forged = await makeCertificate('CN=forged', { issuer: impostor, noKeyIds: true });
    assertCode(verify({ trustAnchors: [pki.root.pem] }, forged, pki.intermediate), 'BAD_SIGNATURE', /not signed/);
  });

  it('refuses an issuer that is not a CA (NOT_A_CA), by basic constraints or by key usage', async () => {
    const notCa = await makeCertificate('CN=not a CA', { issuer: pki.root, ca: false, keyUsage: x509.KeyUsageFlags.keyCertSign });
    const leaf = await makeCertificate('CN=under a leaf', { issuer: notCa });
    assertCode(verify({ trustAnchors: [pki.root.pem] }, leaf, notCa), 'NOT_A_CA', /basicConstraints/);

    const noBasicConstraints = await makeCertificate('CN=no bc', { issuer: pki.root, ca: null, keyUsage: x509.KeyUsageFlags.keyCertSign });
    const leaf2 = await makeCertificate('CN=under no bc', { issuer: noBasicConstraints });
    assertCode(verify({ trustAnchors: [pki.root.pem] }, leaf2, noBasicConstraints), 'NOT_A_CA');

    const noCertSign = await makeCertificate('CN=no certsign', { issuer: pki.root, ca: true, keyUsage: x509.KeyUsageFlags.cRLSign });
    const leaf3 = await makeCertificate('CN=under no certsign', { issuer: noCertSign });
    assertCode(verify({ trustAnchors: [pki.root.pem] }, leaf3, noCertSign), 'NOT_A_CA', /keyUsage/);
  });

  it('enforces path length constraints, not counting self-issued certificates', async () => {
    // pki.intermediate has pathlen 0: one more CA below it is too many.
    const sub = await makeCertificate('CN=Sub CA', { issuer: pki.intermediate, ca: true });
    const leaf = await makeCertificate('CN=deep', { issuer: sub });
    assertCode(verify({ trustAnchors: [pki.root.pem] }, leaf, sub, pki.intermediate), 'PATH_LENGTH_EXCEEDED', /allows 0/);

    const root = await makeCertificate('CN=Root pathlen 1', { pathLength: 1 });
    const a = await makeCertificate('CN=A', { issuer: root, ca: true });
    // A rollover certificate: same name, new key, issued by the old one; self-issued, so not counted.
    const aRollover = await makeCertificate('CN=A', { issuer: a, ca: true });
    const leafA = await makeCertificate('CN=leaf under rollover', { issuer: aRollover });
    assertOk(verify({ trustAnchors: [root.pem] }, leafA, aRollover, a));
    const b = await makeCertificate('CN=B', { issuer: a, ca: true });
    const leafB = await makeCertificate('CN=leaf under B', { issuer: b });
    assertCode(verify({ trustAnchors: [root.pem] }, leafB, b, a), 'PATH_LENGTH_EXCEEDED');
  });

  it('checks every certificate in the path at the clock it is given', async () => {
    const expiredIntermediate = await makeCertificate('CN=Old Intermediate', {
      issuer: pki.root,
      ca: true,
      notAfter: new Date(TEST_NOW.getTime() - DAY),
    });
    const leaf = await makeCertificate('CN=fresh', { issuer: expiredIntermediate });
    assertCode(verify({ trustAnchors: [pki.root.pem] }, leaf, expiredIntermediate), 'CERT_EXPIRED', /Old Intermediate/);
    const later = () => new Date(pki.leaf.certificate.validToDate.getTime() + DAY);
    assertCode(verify({ trustAnchors: [pki.root.pem], clock: later }, pki.leaf, pki.intermediate), 'CERT_EXPIRED', /client certificate/);
    const earlier = () => new Date(pki.leaf.certificate.validFromDate.getTime() - DAY);
    assertCode(verify({ trustAnchors: [pki.root.pem], clock: earlier }, pki.leaf, pki.intermediate), 'CERT_NOT_YET_VALID');
  });

  it('finds the valid path among cross-signed alternatives, and survives loops', async () => {
    // X and Y cross-sign each other; only Y chains to the anchor through its root-issued copy.
    const keysX = await makeCertificate('CN=X');
    const keysY = await makeCertificate('CN=Y');
    const xByY = await makeCertificate('CN=X', { issuer: keysY, keys: keysX.keys, ca: true });
    const yByX = await makeCertificate('CN=Y', { issuer: keysX, keys: keysY.keys, ca: true });
    const yByRoot = await makeCertificate('CN=Y', { issuer: pki.root, keys: keysY.keys, ca: true });
    const leaf = await makeCertificate('CN=looped', { issuer: keysX });
    const result = verify({ trustAnchors: [pki.root.pem] }, leaf, xByY, yByX, yByRoot);
    assertOk(result);
    assert.deepEqual(result.identity.path.map((entry) => entry.subject), ['CN=looped', 'CN=X', 'CN=Y', 'CN=Test Root']);
    // Without the way out, the loop ends in a refusal, not a hang.
    assertCode(verify({ trustAnchors: [pki.root.pem] }, leaf, xByY, yByX), 'UNTRUSTED_ISSUER');
  });

  it('stops at maxPathLength', async () => {
    let issuer = pki.root;
    const chain: TestCertificate[] = [];
    for (let i = 0; i < 4; i++) {
      issuer = await makeCertificate(`CN=Level ${i}`, { issuer, ca: true });
      chain.unshift(issuer);
    }
    const leaf = await makeCertificate('CN=deep leaf', { issuer });
    assertOk(verify({ trustAnchors: [pki.root.pem] }, leaf, ...chain));
    assertCode(verify({ trustAnchors: [pki.root.pem], maxPathLength: 4 }, leaf, ...chain), 'PATH_SEARCH_LIMIT');
  });

  it('bounds the search over many certificates sharing one name', async () => {
    // Ten same-named CAs under an unknown root: every ordering is a candidate path.
    const unknownRoot = await makeCertificate('CN=Unknown');
    const keys = (await makeCertificate('CN=Twin')).keys;
    const twins: TestCertificate[] = [];
    for (let i = 0; i < 9; i++) twins.push(await makeCertificate('CN=Twin', { issuer: i === 0 ? unknownRoot : twins[i - 1]!, keys, ca: true, noKeyIds: true }));
    const leaf = await makeCertificate('CN=twin leaf', { issuer: twins[8]!, noKeyIds: true });
    const started = performance.now();
    const result = verify({ trustAnchors: [pki.root.pem], maxChainLength: 10 }, leaf, ...twins);
    assert.equal(result.ok, false);
    assert.ok(performance.now() - started < 2000, 'bounded time');
  });

  it('trusts a leaf configured as an anchor itself (a pinned self-signed certificate)', async () => {
    const self = await makeCertificate('CN=device', { ca: false });
    const result = verify({ trustAnchors: [self.pem] }, self);
    assertOk(result);
    assert.deepEqual(result.identity.path.map((entry) => entry.thumbprint), [self.thumbprint]);
  });
});

describe('leaf checks', () => {
  it('refuses a leaf whose extended key usage excludes clientAuth, and accepts anyExtendedKeyUsage or none', async () => {
    const server = await makeCertificate('CN=server', { issuer: pki.root, eku: [x509.ExtendedKeyUsage.serverAuth] });
    assertCode(verify({ trustAnchors: [pki.root.pem] }, server), 'EKU_NOT_CLIENT_AUTH');
    const any = await makeCertificate('CN=any', { issuer: pki.root, eku: ['2.5.29.37.0'] });
    assertOk(verify({ trustAnchors: [pki.root.pem] }, any));
    const none = await makeCertificate('CN=none', { issuer: pki.root, eku: null });
    assertOk(verify({ trustAnchors: [pki.root.pem] }, none));
  });

  it('refuses an intermediate whose extended key usage excludes clientAuth', async () => {
    const serverCa = await makeCertificate('CN=Server-only CA', { issuer: pki.root, ca: true, eku: [x509.ExtendedKeyUsage.serverAuth] });
    const leaf = await makeCertificate('CN=client under server CA', { issuer: serverCa });
    assertCode(verify({ trustAnchors: [pki.root.pem] }, leaf, serverCa), 'EKU_NOT_CLIENT_AUTH', /Server-only CA/);
  });

  it('refuses a leaf whose key usage lacks digitalSignature', async () => {
    const leaf = await makeCertificate('CN=encipher only', { issuer: pki.root, keyUsage: x509.KeyUsageFlags.keyEncipherment });
    assertCode(verify({ trustAnchors: [pki.root.pem] }, leaf), 'KEY_USAGE_INVALID');
  });

  it('refuses unsupported critical extensions in the leaf and in intermediates', async () => {
    const critical = new x509.Extension('1.3.6.1.4.1.99999.1', true, new Uint8Array([0x05, 0x00]));
    const leaf = await makeCertificate('CN=critical', { issuer: pki.root, extensions: [critical] });
    assertCode(verify({ trustAnchors: [pki.root.pem] }, leaf), 'UNSUPPORTED_CRITICAL_EXTENSION', /1\.3\.6\.1\.4\.1\.99999\.1/);
    const nameConstrained = await makeCertificate('CN=Constrained CA', {
      issuer: pki.root,
      ca: true,
      extensions: [new x509.Extension('2.5.29.30', true, new Uint8Array([0x30, 0x00]))],
    });
    const under = await makeCertificate('CN=under constraints', { issuer: nameConstrained });
    assertCode(verify({ trustAnchors: [pki.root.pem] }, under, nameConstrained), 'UNSUPPORTED_CRITICAL_EXTENSION', /2\.5\.29\.30/);
    // A non-critical unknown extension is fine.
    const benign = await makeCertificate('CN=benign', { issuer: pki.root, extensions: [new x509.Extension('1.3.6.1.4.1.99999.2', false, new Uint8Array([0x05, 0x00]))] });
    assertOk(verify({ trustAnchors: [pki.root.pem] }, benign));
  });
});

describe('malformed certificates', () => {
  it('refuses a certificate OpenSSL parses but whose validity dates cannot be read (found by fuzzing)', () => {
    const der = Buffer.from(pki.leaf.der);
    // The notBefore UTCTime itself (tag, length 13, YYMMDDHHMMSSZ): the bytes 17 0d alone may also
    // occur in the random serial number, before it.
    const utcTime = new x509.X509Certificate(pki.leaf.der).notBefore.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d+Z$/, '$1$2$3$4$5$6Z');
    const notBefore = der.indexOf(Buffer.concat([Buffer.from([0x17, 0x0d]), Buffer.from(utcTime, 'latin1')]));
    assert.ok(notBefore > 0, `notBefore ${utcTime} found in the DER`);
    // The whole time fixed, not only its first two bytes: with the certificate's own digits after
    // them OpenSSL sometimes reads a far-future date instead (year 222623), and the test flaked.
    der.write('\x05\x000101000000Z', notBefore + 2, 'latin1');
    const result = createVerifier({ trustAnchors: [pki.root.pem], clock }).verifyHeaders({ 'x-forwarded-client-cert': formatXfcc([der]) });
    assertCode(result, 'CERT_MALFORMED', /validity dates/);
  });
});

describe('allow-lists', () => {
  it('admits only listed thumbprints, in any notation', async () => {
    const colons = pki.leaf.thumbprint.toUpperCase().match(/../g)!.join(':');
    assertOk(verify({ trustAnchors: [pki.root.pem], allow: { thumbprints: [colons] } }, pki.leaf, pki.intermediate));
    const other = await makeCertificate('CN=other', { issuer: pki.intermediate });
    assertCode(
      verify({ trustAnchors: [pki.root.pem], allow: { thumbprints: [pki.leaf.thumbprint] } }, other, pki.intermediate),
      'THUMBPRINT_NOT_ALLOWED',
    );
  });

  it('pins without any CA: a listed self-signed certificate passes, any other fails', async () => {
    const device = await makeCertificate('CN=device', { ca: false });
    const impostor = await makeCertificate('CN=device', { ca: false });
    assertOk(verify({ allow: { thumbprints: [device.thumbprint] } }, device));
    assertCode(verify({ allow: { thumbprints: [device.thumbprint] } }, impostor), 'THUMBPRINT_NOT_ALLOWED');
  });

  it('matches SPKI pins in hex, base64 and sha256/base64, across re-issued certificates with the same key', async () => {
    const result = verify({ trustAnchors: [pki.root.pem] }, pki.leaf, pki.intermediate);
    assertOk(result);
    const hex = result.identity.spkiSha256;
    const base64 = Buffer.from(hex, 'hex').toString('base64');
    const renewed = await makeCertificate('CN=client-1, O=Tests', { issuer: pki.intermediate, keys: pki.leaf.keys });
    for (const pin of [hex, base64, `sha256/${base64}`]) {
      assertOk(verify({ trustAnchors: [pki.root.pem], allow: { spkiSha256: [pin] } }, renewed, pki.intermediate));
    }
    const other = await makeCertificate('CN=client-1, O=Tests', { issuer: pki.intermediate });
    assertCode(verify({ trustAnchors: [pki.root.pem], allow: { spkiSha256: [hex] } }, other, pki.intermediate), 'SPKI_NOT_ALLOWED');
  });

  it('matches subjects as identity.subject prints them', async () => {
    assertOk(verify({ trustAnchors: [pki.root.pem], allow: { subjects: ['CN=client-1, O=Tests'] } }, pki.leaf, pki.intermediate));
    assertOk(verify({ trustAnchors: [pki.root.pem], allow: { subjects: ['CN=client-1\nO=Tests'] } }, pki.leaf, pki.intermediate));
    assertCode(verify({ trustAnchors: [pki.root.pem], allow: { subjects: ['CN=client-1'] } }, pki.leaf, pki.intermediate), 'SUBJECT_NOT_ALLOWED');
  });

  it('matches SANs by type, DNS case-insensitively, URIs exactly or by a /* path prefix', async () => {
    const admitted = (sans: string[]) => verify({ trustAnchors: [pki.root.pem], allow: { sans } }, pki.leaf, pki.intermediate).ok;
    assert.equal(admitted(['dns:CLIENT-1.tests.example']), true);
    assert.equal(admitted(['uri:spiffe://tests.example/client/1']), true);
    assert.equal(admitted(['uri:spiffe://tests.example/*']), true);
    assert.equal(admitted(['uri:spiffe://tests.example/client/*']), true);
    assert.equal(admitted(['uri:spiffe://tests.example/client/2']), false);
    assert.equal(admitted(['uri:spiffe://tests.exam/*']), false);
    assert.equal(admitted(['dns:spiffe://tests.example/client/1']), false, 'types do not mix');
    assertCode(verify({ trustAnchors: [pki.root.pem], allow: { sans: ['email:a@b.example'] } }, pki.leaf, pki.intermediate), 'SAN_NOT_ALLOWED');
    const withIp = await makeCertificate('CN=ip', { issuer: pki.root, sans: [{ type: 'ip', value: '2001:db8::1' }, { type: 'ip', value: '10.1.2.3' }] });
    const ipAdmitted = (sans: string[]) => verify({ trustAnchors: [pki.root.pem], allow: { sans } }, withIp).ok;
    assert.equal(ipAdmitted(['ip:2001:0db8:0:0:0:0:0:1']), true);
    assert.equal(ipAdmitted(['ip:10.1.2.3']), true);
    assert.equal(ipAdmitted(['ip:10.1.2.4']), false);
  });

  it('requires every configured list to match', () => {
    const result = verify(
      { trustAnchors: [pki.root.pem], allow: { thumbprints: [pki.leaf.thumbprint], subjects: ['CN=someone else'] } },
      pki.leaf,
      pki.intermediate,
    );
    assertCode(result, 'SUBJECT_NOT_ALLOWED');
  });
});

describe('identity on refusals', () => {
  it('carries the leaf identity with an empty path', async () => {
    const other = await makeCertificate('CN=Other Root');
    const result = verify({ trustAnchors: [other.pem] }, pki.leaf, pki.intermediate);
    assert.equal(result.ok, false);
    assert.equal(result.identity?.thumbprint, pki.leaf.thumbprint);
    assert.deepEqual(result.identity?.path, []);
  });

  it('gives no spiffeId when there are several URI SANs', async () => {
    const two = await makeCertificate('CN=two', {
      issuer: pki.root,
      sans: [
        { type: 'url', value: 'spiffe://a.example/x' },
        { type: 'url', value: 'spiffe://b.example/y' },
      ],
    });
    const result = verify({ trustAnchors: [pki.root.pem] }, two);
    assertOk(result);
    assert.equal(result.identity.spiffeId, null);
  });
});

describe('verify() on a certificate read separately', () => {
  it('verifies what the reader returns', () => {
    const verifier = createVerifier({ trustAnchors: [pki.root.pem], clock });
    const read = verifier.reader.read(xfccFor(pki.leaf, pki.intermediate));
    assert.ok(read.ok);
    assertOk(verifier.verify(read.certificate));
  });
});
