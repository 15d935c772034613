// CRLs made by `openssl ca -gencrl` at test time (a real CA tool, not the code under test).
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { X509Certificate } from 'node:crypto';
import { run } from './clients.ts';

const stamp = (date: Date): string => date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';

/** One line of an `openssl ca` database (index.txt), read by `openssl ca -gencrl` and `openssl ocsp -index`: valid or revoked an hour ago. */
export function indexLine(pem: string, revoked: boolean): string {
  const certificate = new X509Certificate(pem);
  const subject = certificate.subject.split('\n').map((part) => `/${part}`).join('');
  const revocation = revoked ? `${stamp(new Date(Date.now() - 3_600_000))},keyCompromise` : '';
  return `${revoked ? 'R' : 'V'}\t${stamp(new Date(certificate.validTo))}\t${revocation}\t${certificate.serialNumber}\tunknown\t${subject}\n`;
}

/** A CRL (PEM) signed by the CA in `caCertPath`/`caKeyPath`, revoking `revoked` (PEM certificates), with nextUpdate in `seconds`. */
export async function opensslCrl(caCertPath: string, caKeyPath: string, revoked: readonly string[], seconds = 86_400): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-crl-'));
  writeFileSync(join(dir, 'index.txt'), revoked.map((pem) => indexLine(pem, true)).join(''));
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    `[ca]\ndefault_ca = test\n[test]\ndatabase = ${join(dir, 'index.txt')}\ncrlnumber = ${join(dir, 'crlnumber')}\ndefault_md = sha256\n[crl_ext]\nauthorityKeyIdentifier = keyid:always\n`,
  );
  const out = join(dir, 'crl.pem');
  const made = await run('openssl', ['ca', '-batch', '-gencrl', '-config', join(dir, 'ca.cnf'), '-cert', caCertPath, '-keyfile', caKeyPath, '-crlexts', 'crl_ext', '-crlsec', String(seconds), '-out', out]);
  if (made.code !== 0) throw new Error(`openssl ca -gencrl failed: ${made.stderr}`);
  return readFileSync(out, 'utf8');
}
