// Reading certificates and keys for `certgate cert`: PEM (any number of CERTIFICATE blocks and a
// key), DER, or PKCS#12. Problems with the user's files are CliErrors naming the file.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pemBlocks } from '../../pki/pem.ts';
import { readPkcs12 } from '../../pki/pkcs12.ts';
import { CliError } from '../errors.ts';

export interface Material {
  certificates: X509Certificate[];
  key?: KeyObject;
}

export function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const known: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    EEXIST: 'file exists',
  };
  if (code && known[code]) return known[code];
  // Library messages may span lines; an error here is one line.
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
}

export function readBytes(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new CliError(`cannot read ${what} '${path}': ${reason(error)}`, { code: 'FileNotReadable' });
  }
}

const PEM_KEY_LABELS = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY']);

function privateKeyFromPem(block: string, path: string, password: string | undefined): KeyObject {
  try {
    return createPrivateKey({ key: block, format: 'pem', ...(password === undefined ? {} : { passphrase: password }) });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'ERR_MISSING_PASSPHRASE') {
      throw new CliError(`the private key in '${path}' is encrypted: give its password with --password or --password-file`, {
        code: 'KeyPasswordRequired',
      });
    }
    if (/BAD_DECRYPT|bad decrypt/i.test(`${code} ${reason(error)}`)) {
      throw new CliError(`wrong password for the private key in '${path}'`, { code: 'KeyWrongPassword' });
    }
    throw new CliError(`the private key in '${path}' cannot be read: ${reason(error)}`, { code: 'InvalidKey' });
  }
}


function readPem(text: string, path: string, what: string, password: string | undefined): Material {
  const material: Material = { certificates: [] };
  for (const { text: block, label } of pemBlocks(text)) {
    if (label === 'CERTIFICATE') {
      try {
        material.certificates.push(new X509Certificate(block));
      } catch (error) {
        throw new CliError(
          `certificate ${material.certificates.length + 1} in ${what} '${path}' is not a valid X.509 certificate: ${reason(error)}`,
          { code: 'InvalidCertificate' },
        );
      }
    } else if (PEM_KEY_LABELS.has(label) && !material.key) {
      material.key = privateKeyFromPem(block, path, password);
    }
  }
  if (material.certificates.length === 0 && !material.key) {
    throw new CliError(`${what} '${path}' holds no CERTIFICATE or PRIVATE KEY PEM block`, { code: 'InvalidCertificateFile' });
  }
  return material;
}

function derPrivateKey(data: Buffer): KeyObject | undefined {
  for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
    try {
      return createPrivateKey({ key: data, format: 'der', type });
    } catch {
      // not this encoding
    }
  }
  return undefined;
}

/**
 * Reads certificates and a private key from a PEM file (any number of CERTIFICATE blocks and a
 * key), a DER certificate or key, or a PKCS#12 file (`password`, '' when not given).
 */
export async function readMaterial(path: string, what: string, password?: string): Promise<Material> {
  const data = readBytes(path, what);
  if (data.includes('-----BEGIN ')) return readPem(data.toString('latin1'), path, what, password);
  try {
    return { certificates: [new X509Certificate(data)] };
  } catch {
    // not a DER certificate
  }
  const key = derPrivateKey(data);
  if (key) return { certificates: [], key };
  const p12 = await readPkcs12(new Uint8Array(data), password ?? '');
  if (p12.ok) {
    return {
      certificates: [p12.certificate, ...p12.chain],
      key: createPrivateKey(p12.keyPem),
    };
  }
  switch (p12.code) {
    case 'Pkcs12Malformed':
      if (p12.message.startsWith('not a PKCS#12')) {
        throw new CliError(`${what} '${path}' is not a certificate, a private key or a PKCS#12 file, or it is damaged`, {
          code: 'InvalidCertificateFile',
        });
      }
      break;
    case 'Pkcs12WrongPassword':
      throw new CliError(
        `wrong password for the PKCS#12 file '${path}'${password === undefined ? ': give it with --password or --password-file' : ''}`,
        { code: p12.code },
      );
  }
  throw new CliError(`${what} '${path}': ${reason(p12.message)}`, { code: p12.code });
}

export function firstCertificate(material: Material, path: string, what: string): X509Certificate {
  const cert = material.certificates[0];
  if (!cert) throw new CliError(`${what} '${path}' holds no certificate`, { code: 'InvalidCertificateFile' });
  return cert;
}

export function keyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export interface PasswordOptions {
  password?: string;
  passwordFile?: string;
}

/** --password, or the first line of --password-file ('-' reads standard input), as openssl's `file:`. */
export function passwordFrom(options: PasswordOptions): string | undefined {
  if (options.password !== undefined) return options.password;
  if (options.passwordFile === undefined) return undefined;
  const source = options.passwordFile === '-' ? 0 : options.passwordFile;
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read the password file '${options.passwordFile}': ${reason(error)}`, { code: 'FileNotReadable' });
  }
  return text.split(/\r?\n/)[0] ?? '';
}
