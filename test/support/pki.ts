import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCa, createSelfSigned, issueCertificate, sha256Thumbprint } from '../../src/pki/issue.ts';
import type { IssuedCertificate } from '../../src/pki/issue.ts';
import { exportPkcs12 } from '../../src/pki/pkcs12.ts';

const execFileAsync = promisify(execFile);

/** Password of every PKCS#12 file that makeTestPki writes. */
export const TEST_PKI_PASSWORD = 'test';

export type TestPkiCa = {
  issued: IssuedCertificate;
  certPath: string;
  keyPath: string;
};

export type TestPkiIdentity = TestPkiCa & {
  /** Lower-case hex SHA-256 of the certificate, as in X-Forwarded-Client-Cert `Hash`. */
  thumbprint: string;
  /** Written by exportPkcs12 (AES-256, SHA-256 MAC), with the chain if any. */
  p12Path: string;
  /** Written by `openssl pkcs12 -export` (OpenSSL 3 defaults: AES-256, SHA-256 MAC), with the chain if any. */
  opensslP12Path: string;
};

export type TestPki = {
  dir: string;
  password: string;
  root: TestPkiCa;
  /** Issued by root, pathlen 0. */
  intermediate: TestPkiCa;
  /** Issued by root, EKU serverAuth, SANs localhost, 127.0.0.1 and ::1. */
  server: TestPkiIdentity;
  /** Issued by the intermediate, EKU clientAuth. */
  client: TestPkiIdentity & {
    /** client.pem followed by intermediate.pem: what a client presents so that `root` alone verifies it. */
    chainPath: string;
    /** exportPkcs12 legacy: 3DES key and certificates, SHA-1 MAC. */
    legacyP12Path: string;
    /** `openssl pkcs12 -export -legacy`: RC2-40 certificates, 3DES key, SHA-1 MAC; OpenSSL 3 and Node.js need their legacy provider to read it. */
    opensslLegacyP12Path: string;
  };
  /** Issued by root directly, EKU clientAuth. */
  clientDirect: TestPkiIdentity;
  /** Self-signed, EKU clientAuth. */
  selfSigned: TestPkiIdentity;
  /** Issued by root, EKU clientAuth, expired yesterday. */
  expired: TestPkiIdentity;
};

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Creates a root CA, an intermediate and client/server certificates (all ECDSA P-256) and writes
 * each as `<name>.pem` and `<name>.key`, plus `client-chain.pem` and PKCS#12 files (password
 * TEST_PKI_PASSWORD) made both by exportPkcs12 and by the openssl command, into `dir`.
 */
export async function makeTestPki(dir: string): Promise<TestPki> {
  await mkdir(dir, { recursive: true });
  const root = await createCa({ commonName: 'certgate test root CA' });
  const intermediate = await issueCertificate({
    issuer: root,
    commonName: 'certgate test intermediate CA',
    kind: 'intermediate',
  });
  const [server, client, clientDirect, selfSigned, expired] = await Promise.all([
    issueCertificate({
      issuer: root,
      commonName: 'localhost',
      kind: 'server',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    }),
    issueCertificate({ issuer: intermediate, commonName: 'test client', kind: 'client' }),
    issueCertificate({ issuer: root, commonName: 'test client (issued by root)', kind: 'client' }),
    createSelfSigned({ commonName: 'test self-signed client', kind: 'client' }),
    issueCertificate({
      issuer: root,
      commonName: 'test expired client',
      kind: 'client',
      notBefore: new Date(Date.now() - 30 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    }),
  ]);

  const writePem = async (name: string, issued: IssuedCertificate): Promise<TestPkiCa> => {
    const certPath = join(dir, `${name}.pem`);
    const keyPath = join(dir, `${name}.key`);
    await Promise.all([writeFile(certPath, issued.certPem), writeFile(keyPath, issued.keyPem, { mode: 0o600 })]);
    return { issued, certPath, keyPath };
  };

  const opensslExport = async (files: TestPkiCa, out: string, extraArgs: string[]): Promise<string> => {
    const chainArgs = files.issued.chainPem === '' ? [] : ['-certfile', join(dir, 'intermediate.pem')];
    await execFileAsync('openssl', [
      'pkcs12', '-export', '-in', files.certPath, '-inkey', files.keyPath, ...chainArgs,
      '-passout', `pass:${TEST_PKI_PASSWORD}`, '-out', out, ...extraArgs,
    ]);
    return out;
  };

  const writeIdentity = async (name: string, issued: IssuedCertificate): Promise<TestPkiIdentity> => {
    const files = await writePem(name, issued);
    const p12Path = join(dir, `${name}.p12`);
    const p12 = await exportPkcs12({ ...files.issued, password: TEST_PKI_PASSWORD, friendlyName: name });
    await writeFile(p12Path, p12, { mode: 0o600 });
    const opensslP12Path = await opensslExport(files, join(dir, `${name}.openssl.p12`), []);
    return { ...files, thumbprint: sha256Thumbprint(issued.certPem), p12Path, opensslP12Path };
  };

  const [rootFiles, intermediateFiles] = await Promise.all([
    writePem('root', root),
    writePem('intermediate', intermediate),
  ]);
  const [serverFiles, clientFiles, clientDirectFiles, selfSignedFiles, expiredFiles] = await Promise.all([
    writeIdentity('server', server),
    writeIdentity('client', client),
    writeIdentity('client-direct', clientDirect),
    writeIdentity('self-signed', selfSigned),
    writeIdentity('expired', expired),
  ]);

  const chainPath = join(dir, 'client-chain.pem');
  const legacyP12Path = join(dir, 'client.legacy.p12');
  const [, legacyP12, opensslLegacyP12Path] = await Promise.all([
    writeFile(chainPath, client.certPem + client.chainPem),
    exportPkcs12({ ...client, password: TEST_PKI_PASSWORD, legacy: true, friendlyName: 'client' }),
    opensslExport(clientFiles, join(dir, 'client.openssl-legacy.p12'), ['-legacy']),
  ]);
  await writeFile(legacyP12Path, legacyP12, { mode: 0o600 });

  return {
    dir,
    password: TEST_PKI_PASSWORD,
    root: rootFiles,
    intermediate: intermediateFiles,
    server: serverFiles,
    client: { ...clientFiles, chainPath, legacyP12Path, opensslLegacyP12Path },
    clientDirect: clientDirectFiles,
    selfSigned: selfSignedFiles,
    expired: expiredFiles,
  };
}
