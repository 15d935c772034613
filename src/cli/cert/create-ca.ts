// `certgate cert create-ca`: a self-signed root CA.
import { Command } from 'commander';
import { createCa } from '../../pki/issue.ts';
import type { KeyType } from '../../pki/issue.ts';
import { outputAction } from '../output.ts';
import { checkOutputs, writeOutputs } from './files.ts';
import { keyTypeOption, parseCount, validity, validityOptions, withExamples } from './options.ts';
import type { ValidityOptions } from './options.ts';
import { certificateTable, summarize } from './summary.ts';

interface CreateCaOptions extends ValidityOptions {
  name: string;
  outCert: string;
  outKey: string;
  keyType: KeyType;
  pathLength?: number;
  force?: boolean;
}

export function createCaCommand(): Command {
  const command = new Command('create-ca')
    .summary('create a self-signed root CA')
    .description('Create a self-signed root CA: its certificate and private key. Prints the certificate as `cert show` does.')
    .requiredOption('--name <common-name>', 'common name (CN) of the CA')
    .requiredOption('--out-cert <file>', 'where to write the CA certificate (PEM)')
    .requiredOption('--out-key <file>', 'where to write the private key (PKCS#8 PEM, mode 0600)')
    .addOption(keyTypeOption())
    .option('--path-length <n>', 'how many intermediate CAs may follow it (default: no limit)', parseCount)
    .option('--force', 'overwrite output files that exist');
  validityOptions(command, '3650');
  return withExamples(command, [
    'certgate cert create-ca --name "My CA" --out-cert ca.pem --out-key ca.key',
    'certgate cert create-ca --name "My RSA CA" --key-type rsa-3072 --days 1825 --out-cert ca.pem --out-key ca.key',
    'certgate cert create-ca --name "My CA" --out-cert ca.pem --out-key ca.key --query thumbprint --output tsv',
  ])
    .action(
      outputAction(async (options: CreateCaOptions) => {
        checkOutputs([{ path: options.outCert, option: '--out-cert' }, { path: options.outKey, option: '--out-key' }], options.force ?? false);
        const ca = await createCa({
          commonName: options.name,
          keyType: options.keyType,
          ...(options.pathLength === undefined ? {} : { pathLength: options.pathLength }),
          ...validity(options),
        });
        writeOutputs(
          [
            { path: options.outCert, option: '--out-cert', data: ca.certPem, secret: false },
            { path: options.outKey, option: '--out-key', data: ca.keyPem, secret: true },
          ],
          options.force ?? false,
        );
        return summarize(ca.certificate);
      }, { tableTransformer: certificateTable }),
    );
}
