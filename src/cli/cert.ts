// `certgate cert ...`: the certificate toolkit for mutual TLS. create-ca, issue, export (PKCS#12),
// show and verify, one file each under cert/; inputs may be PEM, DER or PKCS#12. Problems with the
// user's files (missing, garbage, wrong password, key not matching) are CliErrors: one `ERROR:`
// line, exit code 1.
import { Command } from 'commander';
import { configureUsageErrors } from './errors.ts';
import { createCaCommand } from './cert/create-ca.ts';
import { exportCommand } from './cert/export.ts';
import { issueCommand } from './cert/issue.ts';
import { examples } from './cert/options.ts';
import { showCommand } from './cert/show.ts';
import { verifyCommand } from './cert/verify.ts';

export function certCommand(): Command {
  const cert = new Command('cert')
    .description('Certificates for mutual TLS: create a CA, issue, export to PKCS#12, show, verify.')
    .addCommand(createCaCommand())
    .addCommand(issueCommand())
    .addCommand(exportCommand())
    .addCommand(showCommand())
    .addCommand(verifyCommand())
    .addHelpText(
      'after',
      examples([
        'certgate cert create-ca --name "My CA" --out-cert ca.pem --out-key ca.key',
        'certgate cert issue --ca ca.pem --ca-key ca.key --cn device-42 --out-cert device-42.pem --out-key device-42.key',
        'certgate cert export --cert device-42.pem --key device-42.key --password secret --out device-42.p12',
        'certgate cert show device-42.p12 --password secret --query thumbprint --output tsv',
        'certgate cert verify device-42.pem --ca ca.pem --purpose client',
      ]),
    );
  return configureUsageErrors(cert);
}
