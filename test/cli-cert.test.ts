// `certgate cert ...` as users run it: the real CLI in child processes, its files checked with
// openssl, its PKCS#12 files used by curl, Node.js (`pfx`) and `openssl pkcs12`, and its
// thumbprint compared with the Hash the gateway forwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { certgate as runCertgate, exec, NODE, type CliResult } from './support/cli.ts';

const PASSWORD = 'p12 secret';

type Result = CliResult;

function certgate(args: string[], options: { env?: Record<string, string> } = {}): Promise<Result> {
  return runCertgate(args, { ...options, cwd: dir });
}

function openssl(args: string[]): Promise<Result> {
  return exec('openssl', args, { cwd: dir });
}

/** Runs certgate and expects exit code 0; returns stdout. */
async function ok(args: string[]): Promise<string> {
  const result = await certgate(args);
  assert.equal(result.code, 0, `certgate ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** A user-facing failure: exactly one `ERROR:` line (az's form), no stack trace, the given exit code. */
function assertOneLineError(result: Result, exitCode: number, pattern: RegExp): void {
  assert.equal(result.code, exitCode, `exit code (stderr: ${result.stderr})`);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^ERROR: [^\n]+\n$/, 'a single ERROR line');
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

function derSha256(pemPath: string): string {
  return createHash('sha256').update(new X509Certificate(readFileSync(pemPath)).raw).digest('hex');
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

let dir: string;

before(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'certgate-cli-cert-')));
  // root -> intermediate -> client leaf (with SANs), and root -> server, made with the CLI itself.
  await ok(['cert', 'create-ca', '--name', 'Test Root CA', '--out-cert', 'root.pem', '--out-key', 'root.key']);
  await ok(['cert', 'issue', '--ca', 'root.pem', '--ca-key', 'root.key', '--cn', 'Test Issuing CA', '--kind', 'intermediate', '--out-cert', 'int.pem', '--out-key', 'int.key']);
  await ok([
    'cert', 'issue', '--ca', 'int.pem', '--ca-key', 'int.key', '--cn', 'device-42',
    '--dns', 'device-42.example.com', '--dns', 'alt.example.com', '--ip', '10.1.2.3', '--uri', 'spiffe://example.org/device/42', '--email', 'ops@example.com',
    '--out-cert', 'leaf.pem', '--out-key', 'leaf.key', '--out-chain', 'leaf-chain.pem',
  ]);
  await ok(['cert', 'issue', '--ca', 'root.pem', '--ca-key', 'root.key', '--cn', 'localhost', '--kind', 'server', '--dns', 'localhost', '--ip', '127.0.0.1', '--out-cert', 'server.pem', '--out-key', 'server.key']);
  await ok(['cert', 'export', '--cert', 'leaf.pem', '--key', 'leaf.key', '--chain', 'leaf-chain.pem', '--password', PASSWORD, '--out', 'leaf.p12']);
  await ok(['cert', 'export', '--cert', 'leaf.pem', '--key', 'leaf.key', '--chain', 'leaf-chain.pem', '--password', PASSWORD, '--legacy', '--out', 'leaf-legacy.p12']);
  // An unrelated CA, and the leaf, its intermediate and its key in one PEM file.
  await ok(['cert', 'create-ca', '--name', 'Other CA', '--out-cert', 'other-ca.pem', '--out-key', 'other-ca.key']);
  writeFileSync(path('bundle.pem'), readFileSync(path('leaf.pem'), 'utf8') + readFileSync(path('int.pem'), 'utf8') + readFileSync(path('leaf.key'), 'utf8'));
  writeFileSync(path('pass.txt'), `${PASSWORD}\n`);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const path = (name: string) => join(dir, name);

describe('cert create-ca', () => {
  test('writes a self-signed CA certificate and a 0600 key, and prints it as cert show does', async () => {
    const shown = JSON.parse(await ok(['cert', 'create-ca', '--name', 'My CA', '--out-cert', 'my-ca.pem', '--out-key', 'my-ca.key']));
    assert.equal(mode(path('my-ca.key')), 0o600);
    // The certificate is as readable as any 0644 file under this umask.
    writeFileSync(path('probe'), '', { mode: 0o644 });
    assert.equal(mode(path('my-ca.pem')), mode(path('probe')));
    assert.equal(shown.subject, 'CN=My CA');
    assert.equal(shown.issuer, 'CN=My CA');
    assert.equal(shown.isCa, true);
    assert.equal(shown.selfSigned, true);
    assert.equal(shown.keyType, 'ec-p256');
    assert.equal(shown.thumbprint, derSha256(path('my-ca.pem')));
    const text = (await openssl(['x509', '-in', path('my-ca.pem'), '-noout', '-text'])).stdout;
    assert.match(text, /CA:TRUE/);
    assert.match(text, /Certificate Sign, CRL Sign/);
    assert.match(text, /ASN1 OID: prime256v1/);
    // The key is the certificate's.
    const fromKey = await openssl(['pkey', '-in', path('my-ca.key'), '-pubout']);
    const fromCert = await openssl(['x509', '-in', path('my-ca.pem'), '-noout', '-pubkey']);
    assert.equal(fromKey.stdout, fromCert.stdout);
  });

  test('--key-type rsa-3072, --days and --path-length', async () => {
    const shown = JSON.parse(
      await ok(['cert', 'create-ca', '--name', 'RSA CA', '--key-type', 'rsa-3072', '--days', '30', '--path-length', '1', '--out-cert', 'rsa-ca.pem', '--out-key', 'rsa-ca.key']),
    );
    assert.equal(shown.keyType, 'rsa-3072');
    assert.equal(shown.pathLength, 1);
    const days = (Date.parse(shown.notAfter) - Date.parse(shown.notBefore)) / 86_400_000;
    assert.equal(Math.round(days), 30);
    const text = (await openssl(['x509', '-in', path('rsa-ca.pem'), '-noout', '-text'])).stdout;
    assert.match(text, /Public-Key: \(3072 bit\)/);
    assert.match(text, /CA:TRUE, pathlen:1/);
  });

  test('never overwrites a file without --force; with --force the new key is 0600 again', async () => {
    writeFileSync(path('taken.key'), 'keep me');
    chmodSync(path('taken.key'), 0o644);
    const refused = await certgate(['cert', 'create-ca', '--name', 'X', '--out-cert', 'taken.pem', '--out-key', 'taken.key']);
    assertOneLineError(refused, 1, /^ERROR: \(FileExists\) 'taken.key' \(--out-key\) already exists: use --force/);
    assert.equal(readFileSync(path('taken.key'), 'utf8'), 'keep me');
    assert.equal(existsSync(path('taken.pem')), false, 'nothing is written when one output exists');

    await ok(['cert', 'create-ca', '--name', 'X', '--out-cert', 'taken.pem', '--out-key', 'taken.key', '--force']);
    assert.match(readFileSync(path('taken.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(mode(path('taken.key')), 0o600);
  });
});

describe('cert issue', () => {
  test('a client certificate through an intermediate: SANs, clientAuth, and a chain openssl verifies', async () => {
    const text = (await openssl(['x509', '-in', path('leaf.pem'), '-noout', '-text'])).stdout;
    assert.match(text, /Subject: CN ?= ?device-42/);
    assert.match(text, /Issuer: CN ?= ?Test Issuing CA/);
    assert.match(text, /DNS:device-42\.example\.com, DNS:alt\.example\.com, IP Address:10\.1\.2\.3, URI:spiffe:\/\/example\.org\/device\/42, email:ops@example\.com/);
    assert.match(text, /TLS Web Client Authentication/);
    assert.match(text, /CA:FALSE/);
    const verified = await openssl(['verify', '-CAfile', path('root.pem'), '-untrusted', path('int.pem'), '-purpose', 'sslclient', path('leaf.pem')]);
    assert.equal(verified.code, 0, verified.stderr + verified.stdout);
    // --out-chain holds the intermediate (the root is left out: the peer already trusts it).
    assert.equal(new X509Certificate(readFileSync(path('leaf-chain.pem'))).raw.equals(new X509Certificate(readFileSync(path('int.pem'))).raw), true);
    assert.equal(readFileSync(path('leaf-chain.pem'), 'utf8').match(/BEGIN CERTIFICATE/g)?.length, 1);
  });

  test('a server certificate: serverAuth, verified by openssl for sslserver', async () => {
    const text = (await openssl(['x509', '-in', path('server.pem'), '-noout', '-text'])).stdout;
    assert.match(text, /TLS Web Server Authentication/);
    const verified = await openssl(['verify', '-CAfile', path('root.pem'), '-purpose', 'sslserver', path('server.pem')]);
    assert.equal(verified.code, 0, verified.stderr + verified.stdout);
  });

  test('the CA may come as one PKCS#12 file holding its key', async () => {
    await ok(['cert', 'export', '--cert', 'int.pem', '--key', 'int.key', '--password', 'ca pass', '--out', 'int.p12']);
    const shown = JSON.parse(
      await ok(['cert', 'issue', '--ca', 'int.p12', '--ca-password', 'ca pass', '--cn', 'from-p12', '--out-cert', 'from-p12.pem', '--out-key', 'from-p12.key']),
    );
    assert.equal(shown.issuer, 'CN=Test Issuing CA');
    const verified = await openssl(['verify', '-CAfile', path('root.pem'), '-untrusted', path('int.pem'), path('from-p12.pem')]);
    assert.equal(verified.code, 0, verified.stderr + verified.stdout);
  });

  test('path lengths: an intermediate with pathlen 0 may not issue another CA; --path-length is for intermediates', async () => {
    assertOneLineError(
      await certgate(['cert', 'issue', '--ca', 'int.pem', '--ca-key', 'int.key', '--cn', 'sub', '--kind', 'intermediate', '--out-cert', 'sub.pem', '--out-key', 'sub.key']),
      1,
      /\(PathLengthExceeded\) .*path length 0/,
    );
    assertOneLineError(
      await certgate(['cert', 'issue', '--ca', 'root.pem', '--ca-key', 'root.key', '--cn', 'c', '--path-length', '1', '--out-cert', 'c.pem', '--out-key', 'c.key']),
      2,
      /--path-length applies to --kind intermediate only/,
    );
  });

  test('a CA key that is not the CA certificate key, or a CA that is not a CA, is refused', async () => {
    assertOneLineError(
      await certgate(['cert', 'issue', '--ca', 'root.pem', '--ca-key', 'int.key', '--cn', 'x', '--out-cert', 'x.pem', '--out-key', 'x.key']),
      1,
      /^ERROR: \(KeyMismatch\) /,
    );
    assertOneLineError(
      await certgate(['cert', 'issue', '--ca', 'leaf.pem', '--ca-key', 'leaf.key', '--cn', 'x', '--out-cert', 'x.pem', '--out-key', 'x.key']),
      1,
      /^ERROR: \(NotCaCertificate\) 'leaf.pem' \(CN=device-42\) is not a CA certificate/,
    );
    assert.equal(existsSync(path('x.pem')), false);
  });

  test('bad values and missing options are usage errors (exit code 2)', async () => {
    const badIp = await certgate(['cert', 'issue', '--ca', 'root.pem', '--ca-key', 'root.key', '--cn', 'x', '--ip', '10.1.2', '--out-cert', 'x.pem', '--out-key', 'x.key']);
    assert.equal(badIp.code, 2);
    assert.match(badIp.stderr, /^ERROR: option '--ip <address>' argument '10.1.2' is invalid\. '10.1.2' is not an IPv4 or IPv6 address\n/);
    const noCn = await certgate(['cert', 'issue', '--ca', 'root.pem', '--ca-key', 'root.key', '--out-cert', 'x.pem', '--out-key', 'x.key']);
    assert.equal(noCn.code, 2);
    assert.equal(noCn.stderr, "ERROR: required option '--cn <common-name>' not specified\n");
    const badKind = await certgate(['cert', 'issue', '--ca', 'root.pem', '--ca-key', 'root.key', '--cn', 'x', '--kind', 'robot', '--out-cert', 'x.pem', '--out-key', 'x.key']);
    assert.equal(badKind.code, 2);
  });

  test("by default a certificate ends with its CA; asked to outlive it, it does, with a warning that --only-show-errors hides", async () => {
    const ca = JSON.parse(await ok(['cert', 'create-ca', '--name', 'Short CA', '--days', '30', '--out-cert', 'short-ca.pem', '--out-key', 'short-ca.key']));
    const capped = await certgate(['cert', 'issue', '--ca', 'short-ca.pem', '--ca-key', 'short-ca.key', '--cn', 'capped', '--out-cert', 'capped.pem', '--out-key', 'capped.key']);
    assert.equal(capped.code, 0, capped.stderr);
    assert.equal(capped.stderr, '');
    assert.equal(JSON.parse(capped.stdout).notAfter, ca.notAfter);
    const args = ['cert', 'issue', '--ca', 'short-ca.pem', '--ca-key', 'short-ca.key', '--cn', 'long', '--days', '400', '--out-cert', 'long.pem', '--out-key', 'long.key', '--force'];
    const warned = await certgate(args);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /^WARNING: the certificate is valid until .*, after its CA expires/);
    const quiet = await certgate([...args, '--only-show-errors']);
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, '');
  });
});

describe('cert export', () => {
  test('AES-256 PKCS#12 with a SHA-256 MAC, mode 0600, read by openssl pkcs12: key, leaf and chain', async () => {
    assert.equal(mode(path('leaf.p12')), 0o600);
    const info = await openssl(['pkcs12', '-in', path('leaf.p12'), '-passin', `pass:${PASSWORD}`, '-info', '-noout']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stderr, /MAC: sha256/);
    assert.match(info.stderr, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
    const certs = await openssl(['pkcs12', '-in', path('leaf.p12'), '-passin', `pass:${PASSWORD}`, '-nokeys']);
    assert.deepEqual([...certs.stdout.matchAll(/subject=(.*)/g)].map((m) => m[1]?.replace(/\s/g, '')), ['CN=device-42', 'CN=TestIssuingCA']);
    const key = await openssl(['pkcs12', '-in', path('leaf.p12'), '-passin', `pass:${PASSWORD}`, '-nocerts', '-nodes']);
    writeFileSync(path('extracted.key'), key.stdout);
    const fromKey = await openssl(['pkey', '-in', path('extracted.key'), '-pubout']);
    const fromCert = await openssl(['x509', '-in', path('leaf.pem'), '-noout', '-pubkey']);
    assert.equal(fromKey.stdout, fromCert.stdout);
    const wrong = await openssl(['pkcs12', '-in', path('leaf.p12'), '-passin', 'pass:wrong', '-info', '-noout']);
    assert.notEqual(wrong.code, 0, 'the password protects it');
  });

  test('--legacy: 3DES with a SHA-1 MAC, read by openssl pkcs12 -legacy', async () => {
    const info = await openssl(['pkcs12', '-legacy', '-in', path('leaf-legacy.p12'), '-passin', `pass:${PASSWORD}`, '-info', '-noout']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stderr, /MAC: sha1/);
    assert.match(info.stderr, /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC/);
  });

  describe('the files authenticate to a server that requires a client certificate from the root', () => {
    let server: https.Server;
    let port: number;
    before(async () => {
      server = https.createServer(
        {
          key: readFileSync(path('server.key')),
          cert: readFileSync(path('server.pem')),
          ca: readFileSync(path('root.pem')),
          requestCert: true,
          rejectUnauthorized: true,
        },
        (req, res) => {
          const peer = (req.socket as TLSSocket).getPeerCertificate();
          res.end(peer.fingerprint256.replaceAll(':', '').toLowerCase());
        },
      );
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      port = (server.address() as AddressInfo).port;
    });
    after(() => {
      server.closeAllConnections();
      server.close();
    });

    for (const file of ['leaf.p12', 'leaf-legacy.p12']) {
      test(`curl --cert-type P12 with ${file} (which carries the intermediate)`, async () => {
        const result = await exec('curl', ['-sS', '--max-time', '15', '--cacert', path('root.pem'), '--cert-type', 'P12', '--cert', `${path(file)}:${PASSWORD}`, `https://127.0.0.1:${port}/`]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, derSha256(path('leaf.pem')));
      });
    }

    const client = `
      import https from 'node:https';
      import { readFileSync } from 'node:fs';
      const [port, pfx, passphrase, ca] = process.argv.slice(1);
      https.get({ host: '127.0.0.1', port, pfx: readFileSync(pfx), passphrase, ca: readFileSync(ca) }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => process.stdout.write(body));
      }).on('error', (error) => { process.stderr.write(error.message); process.exit(1); });`;

    test('Node.js https with pfx and passphrase', async () => {
      const result = await exec(NODE, ['--input-type=module', '-e', client, String(port), path('leaf.p12'), PASSWORD, path('root.pem')]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, derSha256(path('leaf.pem')));
    });

    test('Node.js --openssl-legacy-provider with the --legacy file', async () => {
      const result = await exec(NODE, ['--openssl-legacy-provider', '--input-type=module', '-e', client, String(port), path('leaf-legacy.p12'), PASSWORD, path('root.pem')]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, derSha256(path('leaf.pem')));
    });
  });

  test('a password is required, and the key must be the certificate key', async () => {
    const noPassword = await certgate(['cert', 'export', '--cert', 'leaf.pem', '--key', 'leaf.key', '--out', 'none.p12']);
    assertOneLineError(noPassword, 2, /needs a password: give --password or --password-file/);
    assertOneLineError(
      await certgate(['cert', 'export', '--cert', 'leaf.pem', '--key', 'server.key', '--password', 'x', '--out', 'none.p12']),
      1,
      /^ERROR: \(KeyMismatch\) the private key does not belong to the certificate 'leaf.pem'/,
    );
    assert.equal(existsSync(path('none.p12')), false);
  });

  test('--password-file: its first line; a PEM holding certificate, chain and key needs no --key or --chain', async () => {
    await ok(['cert', 'export', '--cert', 'bundle.pem', '--password-file', 'pass.txt', '--out', 'bundle.p12']);
    const certs = await openssl(['pkcs12', '-in', path('bundle.p12'), '-passin', `pass:${PASSWORD}`, '-nokeys']);
    assert.equal(certs.code, 0, certs.stderr);
    assert.equal(certs.stdout.match(/BEGIN CERTIFICATE/g)?.length, 2);
  });
});

describe('cert show', () => {
  test('PEM with several certificates gives each; DER and PKCS#12 are read; the thumbprint is the SHA-256 of the DER', async () => {
    const bundle = JSON.parse(await ok(['cert', 'show', 'bundle.pem']));
    assert.deepEqual(bundle.map((cert: { subject: string }) => cert.subject), ['CN=device-42', 'CN=Test Issuing CA']);
    const leaf = bundle[0];
    assert.deepEqual(leaf.dnsNames, ['device-42.example.com', 'alt.example.com']);
    assert.deepEqual(leaf.ipAddresses, ['10.1.2.3']);
    assert.deepEqual(leaf.uris, ['spiffe://example.org/device/42']);
    assert.deepEqual(leaf.emails, ['ops@example.com']);
    assert.deepEqual(leaf.extendedKeyUsages, ['clientAuth']);
    assert.equal(leaf.status, 'valid');
    assert.equal(leaf.thumbprint, derSha256(path('leaf.pem')));
    const sha1 = (await openssl(['x509', '-in', path('leaf.pem'), '-noout', '-fingerprint', '-sha1'])).stdout;
    assert.equal(leaf.sha1Thumbprint, sha1.split('=')[1]?.trim().replaceAll(':', ''));
    const serial = (await openssl(['x509', '-in', path('leaf.pem'), '-noout', '-serial'])).stdout;
    assert.equal(leaf.serialNumber, serial.split('=')[1]?.trim());

    await openssl(['x509', '-in', path('leaf.pem'), '-outform', 'DER', '-out', path('leaf.der')]);
    assert.equal((await ok(['cert', 'show', 'leaf.der', '--query', 'thumbprint', '-o', 'tsv'])).trim(), leaf.thumbprint);

    const p12 = JSON.parse(await ok(['cert', 'show', 'leaf.p12', '--password', PASSWORD]));
    assert.deepEqual(p12.map((cert: { thumbprint: string }) => cert.thumbprint), bundle.map((cert: { thumbprint: string }) => cert.thumbprint));
    const fromFile = await ok(['cert', 'show', 'leaf.p12', '--password-file', 'pass.txt', '--query', '[0].subject', '-o', 'tsv']);
    assert.equal(fromFile, 'CN=device-42\n');
  });

  test('a PKCS#12 file made by openssl pkcs12 -export is read', async () => {
    const made = await openssl(['pkcs12', '-export', '-in', path('leaf.pem'), '-inkey', path('leaf.key'), '-certfile', path('int.pem'), '-passout', `pass:${PASSWORD}`, '-out', path('openssl.p12')]);
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await ok(['cert', 'show', 'openssl.p12', '--password', PASSWORD, '--query', '[0].thumbprint', '-o', 'tsv'])).trim(), derSha256(path('leaf.pem')));
  });

  test('a wrong or missing password is one line and exit code 1', async () => {
    assertOneLineError(
      await certgate(['cert', 'show', 'leaf.p12', '--password', 'wrong']),
      1,
      /^ERROR: \(Pkcs12WrongPassword\) wrong password for the PKCS#12 file 'leaf.p12'\n$/,
    );
    assertOneLineError(await certgate(['cert', 'show', 'leaf-legacy.p12']), 1, /\(Pkcs12WrongPassword\) .*give it with --password or --password-file/);
  });

  test('garbage, truncated, empty and missing files are one line and exit code 1', async () => {
    writeFileSync(path('garbage.bin'), createHash('sha512').update('not a certificate').digest());
    writeFileSync(path('truncated.p12'), readFileSync(path('leaf.p12')).subarray(0, 700));
    writeFileSync(path('empty.pem'), '');
    const broken = readFileSync(path('leaf.pem'), 'utf8').replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!');
    writeFileSync(path('broken.pem'), broken);
    assertOneLineError(
      await certgate(['cert', 'show', 'garbage.bin']),
      1,
      /^ERROR: \(InvalidCertificateFile\) file 'garbage.bin' is not a certificate, a private key or a PKCS#12 file, or it is damaged\n$/,
    );
    assertOneLineError(await certgate(['cert', 'show', 'truncated.p12', '--password', PASSWORD]), 1, /\(InvalidCertificateFile\) file 'truncated.p12' .* damaged/);
    assertOneLineError(await certgate(['cert', 'show', 'empty.pem']), 1, /not a certificate, a private key or a PKCS#12 file/);
    assertOneLineError(await certgate(['cert', 'show', 'broken.pem']), 1, /\(InvalidCertificate\) certificate 1 in file 'broken.pem' is not a valid X.509 certificate/);
    assertOneLineError(await certgate(['cert', 'show', 'missing.pem']), 1, /^ERROR: \(FileNotReadable\) cannot read file 'missing.pem': no such file or directory\n$/);
  });

  test("openssl's -legacy files (RC2-40) are read as they are: no flag, no NODE_OPTIONS", async () => {
    const made = await openssl(['pkcs12', '-export', '-legacy', '-in', path('leaf.pem'), '-inkey', path('leaf.key'), '-passout', `pass:${PASSWORD}`, '-out', path('rc2.p12')]);
    assert.equal(made.code, 0, made.stderr);
    const shown = await certgate(['cert', 'show', 'rc2.p12', '--password', PASSWORD, '--query', 'thumbprint', '-o', 'tsv']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.stdout.trim(), derSha256(path('leaf.pem')));
    assertOneLineError(await certgate(['cert', 'show', 'rc2.p12', '--password', 'wrong']), 1, /\(Pkcs12WrongPassword\)/);
  });

  test('table output shows one row per certificate', async () => {
    const table = await ok(['cert', 'show', 'bundle.pem', '-o', 'table']);
    const lines = table.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^Subject\s+Issuer\s+NotAfter\s+Status\s+Thumbprint$/);
    assert.match(lines[1] ?? '', /^-+( {2}-+){4}$/);
    assert.match(lines[2] ?? '', /^CN=device-42\s+CN=Test Issuing CA\s+\S+Z\s+valid\s+[0-9a-f]{64}$/);
    assert.equal(lines.length, 4);
  });
});

describe('the thumbprint is the Hash the gateway forwards', () => {
  let gw: TestGateway;
  let echo: EchoApp;
  before(async () => {
    echo = await startEchoApp();
    gw = await startTestGateway();
    await gw.createEnvironment('env1');
    writeFileSync(path('gateway-ca.pem'), gw.caPem);
  });
  after(async () => {
    await gw?.close();
    await echo?.close();
  });

  test('curl with the exported PKCS#12 to an app in require mode', async () => {
    const host = await gw.putApp('mtls', 'env1', { targetPort: echo.port, clientCertificateMode: 'require' });
    const result = await exec('curl', [
      '-sS', '--max-time', '15', '--resolve', `${host}:${gw.httpsPort}:127.0.0.1`, '--cacert', path('gateway-ca.pem'),
      '--cert-type', 'P12', '--cert', `${path('leaf.p12')}:${PASSWORD}`, `https://${host}:${gw.httpsPort}/`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const header = String(echo.received.at(-1)?.headers['x-forwarded-client-cert']);
    const forwarded = /(?:^|;)Hash=([0-9a-f]{64})/.exec(header)?.[1];
    const shown = await ok(['cert', 'show', 'leaf.p12', '--password', PASSWORD, '--query', '[0].thumbprint', '--output', 'tsv']);
    assert.equal(shown, `${forwarded}\n`);
  });
});

describe('cert verify', () => {
  before(async () => {
    // A CA valid since 2019, so that its expired certificate was once valid.
    await ok(['cert', 'create-ca', '--name', 'Old CA', '--not-before', '2019-01-01', '--out-cert', 'old-ca.pem', '--out-key', 'old-ca.key']);
    await ok(['cert', 'issue', '--ca', 'old-ca.pem', '--ca-key', 'old-ca.key', '--cn', 'expired', '--not-before', '2020-01-01', '--not-after', '2020-06-01', '--out-cert', 'expired.pem', '--out-key', 'expired.key']);
    await ok(['cert', 'issue', '--ca', 'root.pem', '--ca-key', 'root.key', '--cn', 'future', '--not-before', '2099-01-01', '--not-after', '2099-06-01', '--out-cert', 'future.pem', '--out-key', 'future.key']);
  });

  async function opensslVerify(args: string[]): Promise<boolean> {
    return (await openssl(['verify', ...args])).code === 0;
  }

  test('a chain through --untrusted, a bundle or a PKCS#12 to the root: valid, as openssl says', async () => {
    for (const args of [
      ['leaf.pem', '--untrusted', 'int.pem'],
      ['bundle.pem'],
      ['leaf.p12', '--password', PASSWORD],
    ]) {
      const result = JSON.parse(await ok(['cert', 'verify', ...args, '--ca', 'root.pem', '--purpose', 'client']));
      assert.equal(result.valid, true);
      assert.deepEqual(result.chain, ['CN=device-42', 'CN=Test Issuing CA', 'CN=Test Root CA']);
      assert.equal(result.thumbprint, derSha256(path('leaf.pem')));
    }
    assert.equal(await opensslVerify(['-CAfile', path('root.pem'), '-untrusted', path('int.pem'), '-purpose', 'sslclient', path('leaf.pem')]), true);
    assert.equal((await ok(['cert', 'verify', 'server.pem', '--ca', 'root.pem', '--purpose', 'server', '--query', 'valid', '-o', 'tsv'])), 'true\n');
  });

  test('failures agree with openssl verify and are one line, exit code 1', async () => {
    const cases: [string[], string[], RegExp][] = [
      [['leaf.pem', '--ca', 'root.pem'], ['-CAfile', path('root.pem'), path('leaf.pem')], /\(CertificateUntrusted\) no issuer of 'CN=device-42' \(issued by 'CN=Test Issuing CA'\)/],
      [['server.pem', '--ca', 'other-ca.pem'], ['-CAfile', path('other-ca.pem'), path('server.pem')], /\(CertificateUntrusted\) /],
      [['other-ca.pem', '--ca', 'root.pem'], ['-CAfile', path('root.pem'), path('other-ca.pem')], /\(CertificateUntrusted\) 'CN=Other CA' is self-signed/],
      [['expired.pem', '--ca', 'old-ca.pem'], ['-CAfile', path('old-ca.pem'), path('expired.pem')], /\(CertificateExpired\) 'CN=expired' expired on 2020-06-01T00:00:00Z/],
      [['future.pem', '--ca', 'root.pem'], ['-CAfile', path('root.pem'), path('future.pem')], /\(CertificateNotYetValid\) 'CN=future' is not valid before 2099-01-01T00:00:00Z/],
      [['server.pem', '--ca', 'root.pem', '--purpose', 'client'], ['-CAfile', path('root.pem'), '-purpose', 'sslclient', path('server.pem')], /\(CertificatePurposeInvalid\) /],
    ];
    for (const [ours, theirs, message] of cases) {
      assert.equal(await opensslVerify(theirs), false, `openssl verify ${theirs.join(' ')}`);
      assertOneLineError(await certgate(['cert', 'verify', ...ours]), 1, message);
    }
  });

  test('--at checks validity at another time', async () => {
    assert.equal(JSON.parse(await ok(['cert', 'verify', 'expired.pem', '--ca', 'old-ca.pem', '--at', '2020-03-01'])).valid, true);
    assertOneLineError(await certgate(['cert', 'verify', 'leaf.pem', '--untrusted', 'int.pem', '--ca', 'root.pem', '--at', '2020-03-01']), 1, /\(CertificateNotYetValid\)/);
    assertOneLineError(await certgate(['cert', 'verify', 'leaf.pem', '--untrusted', 'int.pem', '--ca', 'root.pem', '--at', '2200-01-01']), 1, /\(CertificateExpired\)/);
  });
});

describe('help', () => {
  for (const sub of ['create-ca', 'issue', 'export', 'show', 'verify']) {
    test(`cert ${sub} --help has examples and the global arguments`, async () => {
      const result = await certgate(['cert', sub, '--help']);
      assert.equal(result.code, 0);
      assert.match(result.stdout, new RegExp(`^Usage: certgate cert ${sub} `));
      assert.match(result.stdout, /\nGlobal Arguments:\n[\s\S]*--query <jmespath>/);
      assert.match(result.stdout, new RegExp(`\\nExamples:\\n  certgate cert ${sub} `));
    });
  }

  test('cert without a subcommand shows the commands, exit code 2', async () => {
    const result = await certgate(['cert']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Commands:\n\s+create-ca/);
  });
});
