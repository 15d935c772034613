// `certgate cert export`: a certificate, key and chain to a password-protected PKCS#12 file.
import { Command } from 'commander';
import { certificatesToPem, derToPem } from '../../pki/pem.ts';
import { exportPkcs12 } from '../../pki/pkcs12.ts';
import { CliError } from '../errors.ts';
import { outputAction } from '../output.ts';
import { checkOutputs, writeOutputs } from './files.ts';
import { firstCertificate, keyPem, passwordFrom, readMaterial } from './material.ts';
import type { PasswordOptions } from './material.ts';
import { passwordOptions, withExamples } from './options.ts';

interface ExportOptions extends PasswordOptions {
  cert: string;
  key?: string;
  keyPassword?: string;
  chain?: string;
  out: string;
  legacy?: boolean;
  friendlyName?: string;
  force?: boolean;
}

export function exportCommand(): Command {
  const command = new Command('export')
    .summary('write a certificate, key and chain to a password-protected PKCS#12 file')
    .description(
      'Write a certificate, its private key and its chain to a password-protected PKCS#12 (.p12, .pfx) file: ' +
        'AES-256-CBC with PBKDF2 and a SHA-256 MAC, or with --legacy 3DES and a SHA-1 MAC for old clients.',
    )
    .requiredOption('--cert <file>', 'the certificate (PEM or DER); a PEM may hold its chain, and its key, after it')
    .option('--key <file>', 'its private key (PEM or DER); not needed when --cert holds it')
    .option('--key-password <password>', 'password of an encrypted private key')
    .option('--chain <file>', 'intermediates to include after the certificate (PEM); default: those in --cert')
    .requiredOption('--out <file>', 'where to write the PKCS#12 file (mode 0600)')
    .option('--legacy', 'encrypt with 3DES and a SHA-1 MAC, for clients that predate AES in PKCS#12 (older Windows, macOS, Java 8)')
    .option('--friendly-name <name>', 'name shown for the certificate by Windows and macOS')
    .option('--force', 'overwrite the output file if it exists');
  passwordOptions(command, 'the PKCS#12 file (one of --password, --password-file is required)');
  return withExamples(command, [
    'certgate cert export --cert device-42.pem --key device-42.key --password "$P12_PASSWORD" --out device-42.p12',
    'certgate cert export --cert leaf.pem --key leaf.key --chain int.pem --password-file pass.txt --out leaf.p12',
    'certgate cert export --cert leaf.pem --key leaf.key --password secret --legacy --out leaf-legacy.p12',
    'curl --cert-type P12 --cert device-42.p12:"$P12_PASSWORD" https://app.env.certgate.localhost:8443/',
  ])
    .action(
      outputAction(async (options: ExportOptions) => {
        const password = passwordFrom(options);
        if (password === undefined) {
          throw new CliError('the PKCS#12 file needs a password: give --password or --password-file', { kind: 'usage' });
        }
        checkOutputs([{ path: options.out, option: '--out' }], options.force ?? false);
        const source = await readMaterial(options.cert, 'certificate', options.keyPassword);
        const cert = firstCertificate(source, options.cert, 'certificate');
        let key = source.key;
        if (options.key) {
          key = (await readMaterial(options.key, 'key', options.keyPassword)).key;
          if (!key) throw new CliError(`the key file '${options.key}' holds no private key`, { code: 'InvalidKey' });
        }
        if (!key) throw new CliError(`'${options.cert}' holds no private key: give it with --key`, { kind: 'usage' });
        if (!cert.checkPrivateKey(key)) {
          throw new CliError(`the private key does not belong to the certificate '${options.cert}'`, { code: 'KeyMismatch' });
        }
        const chain = options.chain
          ? (await readMaterial(options.chain, 'chain', undefined)).certificates
          : source.certificates.slice(1);
        const pfx = await exportPkcs12({
          certPem: derToPem(cert.raw),
          keyPem: keyPem(key),
          chainPem: certificatesToPem(chain),
          password,
          legacy: options.legacy ?? false,
          ...(options.friendlyName === undefined ? {} : { friendlyName: options.friendlyName }),
        });
        writeOutputs([{ path: options.out, option: '--out', data: pfx, secret: true }], options.force ?? false);
        // Like az's export commands, nothing is printed on success.
        return undefined;
      }),
    );
}
