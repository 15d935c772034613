// The shared XFCC test vectors as client identities, plus an expected-header computation written
// independently of src/xfcc (so a bug there can't hide in both).
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './clients.ts';

export const VECTORS = join(import.meta.dirname, '..', 'fixtures', 'xfcc-vectors');
const read = (name: string) => readFileSync(join(VECTORS, name), 'utf8');

export const expectedSelfSigned = read('expected-xfcc-self-signed.txt').trimEnd();
export const expectedLeafWithIntermediate = read('expected-xfcc-leaf-with-intermediate.txt').trimEnd();

/** Envoy's encoding: all but A-Z a-z 0-9 * - . _ as %XX (encodeURIComponent also spares ! ~ ' ( )). */
function envoyEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!~'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function expectedHeader(pems: string[]): string {
  const normalized = pems.map((pem) => new X509Certificate(pem).toString());
  const leafDer = new X509Certificate(pems[0]!).raw;
  const hash = createHash('sha256').update(leafDer).digest('hex');
  return `Hash=${hash};Cert="${envoyEncode(normalized[0]!)}";Chain="${normalized.map(envoyEncode).join('')}"`;
}

export interface ClientIdentity {
  label: string;
  /** PEM with the certificates the client sends, leaf first. */
  certFile: string;
  keyFile: string;
  p12File: string;
  expected: string;
}

export const P12_PASSWORD = 'test';

/** Writes the client identities of the matrix into `dir`: self-signed, leaf alone, leaf + intermediate. */
export async function clientIdentities(dir: string): Promise<Record<'self' | 'leaf' | 'chain', ClientIdentity>> {
  const make = async (label: string, pems: string[], key: string): Promise<ClientIdentity> => {
    const certFile = join(dir, `${label}.pem`);
    writeFileSync(certFile, pems.join(''));
    const keyFile = join(VECTORS, key);
    const p12File = join(dir, `${label}.p12`);
    const made = await run('openssl', ['pkcs12', '-export', '-in', certFile, '-inkey', keyFile, '-out', p12File, '-passout', `pass:${P12_PASSWORD}`]);
    if (made.code !== 0) throw new Error(`openssl pkcs12 failed: ${made.stderr}`);
    return { label, certFile, keyFile, p12File, expected: expectedHeader(pems) };
  };
  return {
    self: await make('self', [read('self.pem')], 'self.key'),
    leaf: await make('leaf', [read('leaf.pem')], 'leaf.key'),
    chain: await make('chain', [read('leaf.pem'), read('int.pem')], 'leaf.key'),
  };
}
