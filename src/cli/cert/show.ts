// `certgate cert show`: the certificates of a PEM, DER or PKCS#12 file.
import { Command } from 'commander';
import { CliError } from '../errors.ts';
import { outputAction } from '../output.ts';
import { passwordFrom, readMaterial } from './material.ts';
import type { PasswordOptions } from './material.ts';
import { passwordOptions, withExamples } from './options.ts';
import { certificateTable, summarize } from './summary.ts';

export function showCommand(): Command {
  const command = new Command('show')
    .summary('show certificates of a PEM, DER or PKCS#12 file, with SHA-256 thumbprints')
    .description(
      'Show a certificate: subject, issuer, SANs, validity, key, and its SHA-256 thumbprint (the X-Forwarded-Client-Cert Hash). ' +
        'A file with several certificates (a PEM bundle, a PKCS#12 with its chain) gives a list.',
    )
    .argument('<file>', 'PEM, DER or PKCS#12 file');
  passwordOptions(command, 'a PKCS#12 file or an encrypted key');
  return withExamples(command, [
    'certgate cert show device-42.pem',
    'certgate cert show device-42.p12 --password "$P12_PASSWORD" --output table',
    'certgate cert show device-42.pem --query thumbprint --output tsv',
    'certgate cert show chain.pem --query "[].{subject: subject, notAfter: notAfter}" --output table',
  ])
    .action(
      outputAction(async (file: string, options: PasswordOptions) => {
        const material = await readMaterial(file, 'file', passwordFrom(options));
        const now = new Date();
        const certs = material.certificates.map((cert) => summarize(cert, now));
        if (certs.length === 0) throw new CliError(`'${file}' holds a private key but no certificate`, { code: 'InvalidCertificateFile' });
        return certs.length === 1 ? certs[0] : certs;
      }, { tableTransformer: certificateTable }),
    );
}
