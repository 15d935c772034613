// A CA that publishes revocation status, made with openssl at test time (a real CA tool, not the
// code under test): certificates naming CRL distribution points and OCSP responders, and a real
// `openssl ocsp` responder behind a loopback HTTP server.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { run } from './clients.ts';
import { indexLine } from './openssl-crl.ts';

export interface OpensslCa {
  readonly certPath: string;
  readonly keyPath: string;
  readonly pem: string;
}

export interface OpensslLeaf {
  readonly certPath: string;
  readonly keyPath: string;
  readonly pem: string;
}

async function openssl(args: string[]): Promise<void> {
  const result = await run('openssl', args);
  if (result.code !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

export async function opensslCa(dir: string, name: string): Promise<OpensslCa> {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '30', '-subj', `/CN=${name}`, '-config', ext, '-extensions', 'v3']);
  return { certPath, keyPath, pem: readFileSync(certPath, 'utf8') };
}

/** A certificate issued by `ca`; `extensions` are openssl x509v3 lines (crlDistributionPoints=…, authorityInfoAccess=…). */
export async function opensslIssue(dir: string, ca: OpensslCa, name: string, extensions: readonly string[], usage = 'extendedKeyUsage=clientAuth'): Promise<OpensslLeaf> {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', usage, 'authorityKeyIdentifier=keyid', ...extensions, ''].join('\n'));
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', csr, '-subj', `/CN=${name}`]);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial', `0x1${randomBytes(8).toString('hex').slice(1)}`, '-days', '10', '-extfile', ext, '-out', certPath]);
  return { certPath, keyPath, pem: readFileSync(certPath, 'utf8') };
}

/** A loopback port nothing listens on (bound then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface OcspResponder {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * `openssl ocsp` answering `good` and `revoked` from an index.txt, signed by a delegated responder
 * certificate (OCSP-signing EKU unless `signerUsage` says otherwise) that `ca` issued; nextUpdate
 * one minute after each answer. `openssl ocsp -port` would listen on every interface, so a Node
 * HTTP server on 127.0.0.1 takes each POSTed request and has openssl's responder answer it
 * (`-reqin`/`-respout`, the same responder code): the tests stay on loopback.
 */
export async function startOcspResponder(dir: string, ca: OpensslCa, port: number, good: readonly string[], revoked: readonly string[], signerUsage = 'extendedKeyUsage=OCSPSigning'): Promise<OcspResponder> {
  const signer = await opensslIssue(dir, ca, `ocsp-signer-${port}`, [], signerUsage);
  const index = join(dir, `ocsp-index-${port}.txt`);
  writeFileSync(index, [...good.map((pem) => indexLine(pem, false)), ...revoked.map((pem) => indexLine(pem, true))].join(''));
  let served = 0;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const name = join(dir, `ocsp-${port}-${served++}`);
      writeFileSync(`${name}.req`, Buffer.concat(chunks));
      run('openssl', ['ocsp', '-index', index, '-CA', ca.certPath, '-rsigner', signer.certPath, '-rkey', signer.keyPath, '-reqin', `${name}.req`, '-respout', `${name}.resp`, '-nmin', '1']).then(
        (result) => {
          if (result.code !== 0) {
            response.writeHead(500).end(result.stderr);
            return;
          }
          response.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(readFileSync(`${name}.resp`));
        },
        (error: Error) => response.writeHead(500).end(error.message),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
