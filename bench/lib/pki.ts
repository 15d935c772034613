// One set of certificates for every proxy: an ECDSA P-256 CA, a server certificate for the bench's
// host names, and a client certificate. Made with the openssl command.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './system.ts';

export interface BenchPki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Server certificate then key in one file (HAProxy's `crt`). */
  readonly serverCombined: string;
  readonly serverP12: string;
  readonly serverP12Password: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** Client certificate then key in one file (ab's -E). */
  readonly clientCombined: string;
}

async function openssl(args: string[], dir: string): Promise<void> {
  const result = await run('openssl', args, { cwd: dir, timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

export async function makeBenchPki(dir: string, serverNames: readonly string[]): Promise<BenchPki> {
  const p = (name: string) => join(dir, name);
  const days = '30';
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  await openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=certgate bench CA', '-days', days, '-sha256', '-out', 'ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  writeFileSync(p('server.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${serverNames.map((name) => `DNS:${name}`).join(',')}`,
    '',
  ].join('\n'));
  writeFileSync(p('client.ext'), ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth', ''].join('\n'));
  for (const [name, subject] of [['server', `/CN=${serverNames[0]}`], ['client', '/CN=bench client 1/O=certgate bench']] as const) {
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.ec.key`], dir);
    // PKCS#8, which every proxy reads.
    await openssl(['pkcs8', '-topk8', '-nocrypt', '-in', `${name}.ec.key`, '-out', `${name}.key`], dir);
    await openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', days, '-sha256',
      '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
    writeFileSync(p(`${name}-combined.pem`), readFileSync(p(`${name}.pem`), 'utf8') + readFileSync(p(`${name}.key`), 'utf8'));
  }
  const password = 'bench';
  await openssl(['pkcs12', '-export', '-in', 'server.pem', '-inkey', 'server.key', '-passout', `pass:${password}`, '-out', 'server.p12'], dir);
  return {
    dir,
    caCert: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    serverCombined: p('server-combined.pem'),
    serverP12: p('server.p12'),
    serverP12Password: password,
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    clientCombined: p('client-combined.pem'),
  };
}
