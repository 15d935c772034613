import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { makeTestPki } from '../../test/support/pki.ts';
import type { TestPki } from '../../test/support/pki.ts';
import { sha256Thumbprint } from './issue.ts';
import { decryptWithLegacyProvider } from './legacy-cipher.ts';
import { exportPkcs12, PKCS12_CONVERSION, readPkcs12 } from './pkcs12.ts';

const execFileAsync = promisify(execFile);

async function openssl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync('openssl', args);
}

function thumbprints(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((block) =>
    sha256Thumbprint(block),
  );
}

function samePublicKey(keyPem: string, certificate: X509Certificate): boolean {
  const fromKey = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  return fromKey.equals(certificate.publicKey.export({ type: 'spki', format: 'der' }));
}

describe('pkcs12', () => {
  let dir: string;
  let pki: TestPki;

  const writeP12 = async (name: string, data: Uint8Array): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, data);
    return path;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certgate-pkcs12-'));
    pki = await makeTestPki(join(dir, 'pki'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('default export is AES-256-CBC/PBKDF2-SHA256 with a SHA-256 MAC and openssl reads key and chain', async () => {
    const { client, intermediate } = pki;
    const p12 = await exportPkcs12({ ...client.issued, password: 's3cret', friendlyName: 'my client' });
    const path = await writeP12('modern.p12', p12);

    const info = await openssl('pkcs12', '-in', path, '-passin', 'pass:s3cret', '-info', '-noout');
    assert.match(info.stderr, /MAC: sha256, Iteration 2048/);
    assert.match(info.stderr, /PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);
    assert.match(info.stderr, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);

    const { stdout } = await openssl('pkcs12', '-in', path, '-passin', 'pass:s3cret', '-nodes');
    assert.deepEqual(thumbprints(stdout), [client.thumbprint, sha256Thumbprint(intermediate.issued.certPem)]);
    assert.match(stdout, /friendlyName: my client/);
    const keyPem = stdout.match(/-----BEGIN PRIVATE KEY-----[^-]+-----END PRIVATE KEY-----/)?.[0];
    assert.ok(keyPem);
    assert.ok(samePublicKey(keyPem, client.issued.certificate));

    await assert.rejects(openssl('pkcs12', '-in', path, '-passin', 'pass:wrong', '-nodes'), /mac verify (error|failure)/i);
  });

  test('legacy export is 3DES with a SHA-1 MAC, read by openssl -legacy and without it', async () => {
    const { client } = pki;
    const p12 = await exportPkcs12({ ...client.issued, password: 'old', legacy: true });
    const path = await writeP12('legacy.p12', p12);

    const info = await openssl('pkcs12', '-in', path, '-passin', 'pass:old', '-info', '-noout', '-legacy');
    assert.match(info.stderr, /MAC: sha1, Iteration 2048/);
    assert.match(info.stderr, /PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048/);
    assert.match(info.stderr, /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048/);

    for (const extra of [['-legacy'], []]) {
      const { stdout } = await openssl('pkcs12', '-in', path, '-passin', 'pass:old', '-nodes', ...extra);
      assert.equal(thumbprints(stdout)[0], client.thumbprint);
      assert.match(stdout, /BEGIN PRIVATE KEY/);
    }
  });

  test('node:tls loads both exports as pfx, and refuses a wrong passphrase', async () => {
    const { client } = pki;
    for (const legacy of [false, true]) {
      const pfx = await exportPkcs12({ ...client.issued, password: 'pw', legacy });
      assert.ok(createSecureContext({ pfx: Buffer.from(pfx), passphrase: 'pw' }));
      assert.throws(() => createSecureContext({ pfx: Buffer.from(pfx), passphrase: 'nope' }), /mac verify failure/i);
    }
  });

  test('readPkcs12 reads files made by openssl pkcs12 -export (AES-256 and 3DES/SHA-1)', async () => {
    const { client, clientDirect, password } = pki;
    const modern = await readPkcs12(await readFile(client.opensslP12Path), password);
    assert.ok(modern.ok, JSON.stringify(modern));
    assert.equal(modern.certPem, client.issued.certPem);
    assert.equal(modern.chainPem, client.issued.chainPem);
    assert.equal(sha256Thumbprint(modern.certificate.raw), client.thumbprint);
    assert.ok(samePublicKey(modern.keyPem, modern.certificate));

    const direct = await readPkcs12(await readFile(clientDirect.opensslP12Path), password);
    assert.ok(direct.ok);
    assert.equal(direct.chainPem, '');

    const tripleDesPath = join(dir, 'openssl-3des.p12');
    await openssl(
      'pkcs12', '-export', '-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES', '-macalg', 'sha1',
      '-in', client.certPath, '-inkey', client.keyPath, '-certfile', pki.intermediate.certPath,
      '-passout', 'pass:3des', '-out', tripleDesPath,
    );
    const tripleDes = await readPkcs12(await readFile(tripleDesPath), '3des');
    assert.ok(tripleDes.ok, JSON.stringify(tripleDes));
    assert.equal(tripleDes.certPem, client.issued.certPem);
    assert.equal(tripleDes.chainPem, client.issued.chainPem);
  });

  test('readPkcs12 reads openssl -legacy files (RC2-40, RC4) in a child with the legacy provider; this process never loads it', async () => {
    const { client, password } = pki;
    const data = await readFile(client.opensslLegacyP12Path);
    const result = await readPkcs12(data, password);
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.certPem, client.issued.certPem);
    assert.equal(result.chainPem, client.issued.chainPem);
    assert.deepEqual(result.legacyCiphers, ['rc2-40-cbc']);
    assert.ok(!process.execArgv.includes('--openssl-legacy-provider'));
    assert.throws(() => createSecureContext({ pfx: data, passphrase: password }), 'TLS in this process cannot load it');
    // Converted (exportPkcs12: AES-256, SHA-256 MAC), TLS loads it.
    const modern = await exportPkcs12({ certPem: result.certPem, keyPem: result.keyPem, chainPem: result.chainPem, password });
    createSecureContext({ pfx: Buffer.from(modern), passphrase: password });
    const reread = await readPkcs12(modern, password);
    assert.deepEqual(reread.ok && reread.legacyCiphers, []);
    // The MAC is checked first, so a wrong password is still reported as such.
    const wrong = await readPkcs12(data, 'wrong');
    assert.equal(!wrong.ok && wrong.code, 'Pkcs12WrongPassword');

    const rc4Path = join(dir, 'rc4.p12');
    await openssl(
      'pkcs12', '-export', '-legacy', '-certpbe', 'PBE-SHA1-RC4-128', '-keypbe', 'PBE-SHA1-RC4-128',
      '-in', client.certPath, '-inkey', client.keyPath, '-passout', 'pass:rc4', '-out', rc4Path,
    );
    const rc4 = await readPkcs12(await readFile(rc4Path), 'rc4');
    assert.ok(rc4.ok, JSON.stringify(rc4));
    assert.deepEqual(rc4.legacyCiphers, ['rc4']);
    assert.equal(rc4.certPem, client.issued.certPem);
  });

  test('a legacy file without a MAC: a wrong password shows when the child decrypts', async () => {
    const { client } = pki;
    const path = join(dir, 'legacy-nomac.p12');
    await openssl('pkcs12', '-export', '-legacy', '-nomac', '-in', client.certPath, '-inkey', client.keyPath, '-passout', 'pass:right', '-out', path);
    const data = await readFile(path);
    assert.ok((await readPkcs12(data, 'right')).ok);
    const wrong = await readPkcs12(data, 'wrong');
    assert.equal(!wrong.ok && wrong.code, 'Pkcs12WrongPassword', JSON.stringify(wrong));
  });

  test('a cipher even the legacy provider lacks: unavailable, with its reason', async () => {
    const result = await decryptWithLegacyProvider('no-such-cipher', new Uint8Array(16), new Uint8Array(8), new Uint8Array(16));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, 'unavailable');
    assert.match(!result.ok ? result.message : '', /cipher/i);
    assert.match(PKCS12_CONVERSION, /^openssl pkcs12 -legacy -in old\.p12 -nodes -out old\.pem && openssl pkcs12 -export -in old\.pem -out new\.p12/);
  });

  test('a wrong password is Pkcs12WrongPassword, damaged bytes are Pkcs12Malformed', async () => {
    const { client, password } = pki;
    for (const path of [client.p12Path, client.legacyP12Path, client.opensslP12Path]) {
      const data = await readFile(path);
      const wrong = await readPkcs12(data, 'not the password');
      assert.equal(!wrong.ok && wrong.code, 'Pkcs12WrongPassword', path);
      for (const length of [0, 1, 16, Math.floor(data.length / 2), data.length - 1]) {
        const truncated = await readPkcs12(data.subarray(0, length), password);
        assert.equal(!truncated.ok && truncated.code, 'Pkcs12Malformed', `${path} cut at ${length}`);
      }
    }
    const pem = await readPkcs12(new TextEncoder().encode(client.issued.certPem), password);
    assert.equal(!pem.ok && pem.code, 'Pkcs12Malformed');
    const certificateDer = await readPkcs12(new Uint8Array(client.issued.certificate.raw), password);
    assert.equal(!certificateDer.ok && certificateDer.code, 'Pkcs12Malformed');
  });

  test('without a MAC, a wrong password is detected when decrypting', async () => {
    const { client } = pki;
    const path = join(dir, 'nomac.p12');
    await openssl(
      'pkcs12', '-export', '-nomac', '-in', client.certPath, '-inkey', client.keyPath,
      '-passout', 'pass:right', '-out', path,
    );
    const data = await readFile(path);
    assert.ok((await readPkcs12(data, 'right')).ok);
    const wrong = await readPkcs12(data, 'wrong');
    assert.equal(!wrong.ok && wrong.code, 'Pkcs12WrongPassword');
  });

  test('files without a key, without a certificate, or whose key matches no certificate', async () => {
    const { client, intermediate } = pki;
    const make = async (name: string, ...args: string[]): Promise<Uint8Array> => {
      const path = join(dir, name);
      await openssl('pkcs12', '-export', ...args, '-passout', 'pass:pw', '-out', path);
      return readFile(path);
    };
    const noKey = await readPkcs12(await make('nokey.p12', '-nokeys', '-in', client.certPath), 'pw');
    assert.equal(!noKey.ok && noKey.code, 'Pkcs12NoKey');
    const noCert = await readPkcs12(await make('nocert.p12', '-nocerts', '-inkey', client.keyPath), 'pw');
    assert.equal(!noCert.ok && noCert.code, 'Pkcs12NoCertificate');
    const mismatch = await readPkcs12(
      await make('mismatch.p12', '-nocerts', '-inkey', client.keyPath, '-certfile', intermediate.certPath),
      'pw',
    );
    assert.equal(!mismatch.ok && mismatch.code, 'Pkcs12KeyMismatch');
    await assert.rejects(
      exportPkcs12({ certPem: client.issued.certPem, keyPem: pki.server.issued.keyPem, password: 'pw' }),
      /does not match/,
    );
  });

  test('the leaf is the certificate matching the key, whatever the order of the bags', async () => {
    const { client, intermediate, root } = pki;
    // Certificates before the leaf, and the root, which is not part of chainPem.
    const p12 = await exportPkcs12({
      certPem: client.issued.certPem,
      keyPem: client.issued.keyPem,
      chainPem: root.issued.certPem + intermediate.issued.certPem,
      password: 'pw',
    });
    const result = await readPkcs12(p12, 'pw');
    assert.ok(result.ok);
    assert.equal(result.certPem, client.issued.certPem);
    assert.equal(result.chainPem, intermediate.issued.certPem);
  });

  test('round trip of its own output for any password, modern and legacy', async () => {
    const { client } = pki;
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 24 }), fc.boolean(), async (password, legacy) => {
        const p12 = await exportPkcs12({ ...client.issued, password, legacy });
        const result = await readPkcs12(p12, password);
        assert.ok(result.ok, JSON.stringify(result));
        assert.equal(result.certPem, client.issued.certPem);
        assert.equal(result.chainPem, client.issued.chainPem);
        assert.ok(samePublicKey(result.keyPem, client.issued.certificate));
        const wrong = await readPkcs12(p12, `${password}x`);
        assert.equal(!wrong.ok && wrong.code, 'Pkcs12WrongPassword');
      }),
      { numRuns: 12 },
    );
  });

  test('a non-ASCII password agrees with openssl in both directions', async () => {
    const { client } = pki;
    const password = 'pässwörd-密码';
    const ours = await writeP12('unicode.p12', await exportPkcs12({ ...client.issued, password }));
    const { stdout } = await openssl('pkcs12', '-in', ours, '-passin', `pass:${password}`, '-nodes');
    assert.equal(thumbprints(stdout)[0], client.thumbprint);
    const theirs = join(dir, 'unicode-openssl.p12');
    await openssl(
      'pkcs12', '-export', '-in', client.certPath, '-inkey', client.keyPath,
      '-passout', `pass:${password}`, '-out', theirs,
    );
    assert.ok((await readPkcs12(await readFile(theirs), password)).ok);
  });

  test('readPkcs12 never throws, whatever the bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
        const result = await readPkcs12(bytes, 'pw');
        assert.equal(result.ok, false);
      }),
      { numRuns: 200 },
    );
    // A damaged valid file: most damage breaks the MAC (so it reads as a wrong password), the rest the DER.
    const valid = await readFile(pki.client.p12Path);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 }), async (index, mask) => {
        const damaged = Uint8Array.from(valid);
        damaged[index]! ^= mask;
        const result = await readPkcs12(damaged, pki.password);
        if (!result.ok) assert.match(result.code, /^Pkcs12(Malformed|WrongPassword|Unsupported)$/);
      }),
      { numRuns: 100 },
    );
  });
});
