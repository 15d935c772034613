// `certgate cert issue`: a client, server or intermediate CA certificate signed by a CA.
import { Command } from 'commander';
import { hasKeyUsage, isSelfSigned, KEY_USAGE } from '../../pki/facts.ts';
import { issueCertificate } from '../../pki/issue.ts';
import type { IssuedCertificate, KeyType } from '../../pki/issue.ts';
import { certificatesToPem, derToPem } from '../../pki/pem.ts';
import { CliError } from '../errors.ts';
import { enumOption } from '../options.ts';
import { cliLogger, globalOptions, outputAction } from '../output.ts';
import { checkOutputs, writeOutputs } from './files.ts';
import { firstCertificate, keyPem, readMaterial, reason } from './material.ts';
import { checkDns, checkEmail, checkIp, checkUri, collect, keyTypeOption, parseCount, validity, validityOptions, withExamples } from './options.ts';
import type { ValidityOptions } from './options.ts';
import { certificateTable, factsOf, isoSeconds, summarize } from './summary.ts';

const KINDS = ['client', 'server', 'intermediate'] as const;
const DAY_MS = 24 * 60 * 60 * 1000;
// src/pki/issue.ts's defaults, which `issue` caps at the CA's expiry.
const DEFAULT_DAYS = { client: 397, server: 397, intermediate: 3650 } as const;

interface IssueOptions extends ValidityOptions {
  ca: string;
  caKey?: string;
  caPassword?: string;
  cn: string;
  kind: (typeof KINDS)[number];
  dns?: string[];
  ip?: string[];
  uri?: string[];
  email?: string[];
  pathLength?: number;
  keyType: KeyType;
  outCert: string;
  outKey: string;
  outChain?: string;
  force?: boolean;
}

/** The CA as issueCertificate wants it: certificate, key and the intermediates above it. */
async function loadIssuer(options: IssueOptions): Promise<IssuedCertificate> {
  const material = await readMaterial(options.ca, 'CA certificate', options.caPassword);
  const cert = firstCertificate(material, options.ca, 'CA certificate');
  let key = material.key;
  if (options.caKey) {
    key = (await readMaterial(options.caKey, 'CA key', options.caPassword)).key;
    if (!key) throw new CliError(`the CA key file '${options.caKey}' holds no private key`, { code: 'InvalidKey' });
  }
  if (!key) {
    throw new CliError(`'${options.ca}' holds no private key: give the CA's key with --ca-key`, { kind: 'usage' });
  }
  if (!cert.checkPrivateKey(key)) {
    throw new CliError(`the CA key does not belong to the CA certificate '${options.ca}'`, { code: 'KeyMismatch' });
  }
  const info = factsOf(cert);
  if (!cert.ca) {
    throw new CliError(`'${options.ca}' (${info.subject}) is not a CA certificate (basicConstraints CA:FALSE)`, { code: 'NotCaCertificate' });
  }
  if (!hasKeyUsage(info, KEY_USAGE.keyCertSign)) {
    throw new CliError(`the CA '${info.subject}' may not sign certificates (its key usage lacks keyCertSign)`, { code: 'NotCaCertificate' });
  }
  const chainPem = certificatesToPem(material.certificates.slice(1).filter((other) => !isSelfSigned(other)));
  return { certPem: derToPem(cert.raw), keyPem: keyPem(key), chainPem, certificate: cert };
}

export function issueCommand(): Command {
  const command = new Command('issue')
    .summary('issue a client, server or intermediate CA certificate signed by a CA')
    .description(
      'Issue a certificate signed by a CA: a client certificate (default), a server certificate or an intermediate CA. ' +
        'Prints the new certificate as `cert show` does.',
    )
    .requiredOption('--ca <file>', 'the issuing CA certificate (PEM, DER or PKCS#12; a PEM may hold its chain after it)')
    .option('--ca-key <file>', "the CA's private key (PEM or DER); not needed when --ca holds it (PKCS#12, or PEM with the key)")
    .option('--ca-password <password>', 'password of a PKCS#12 --ca or of an encrypted CA key')
    .requiredOption('--cn <common-name>', 'common name (CN) of the new certificate')
    .addOption(enumOption('--kind <kind>', 'what the certificate is for', KINDS).default('client'))
    .option('--dns <name>', 'DNS name in the subject alternative names (repeatable)', collect(checkDns))
    .option('--ip <address>', 'IP address in the subject alternative names (repeatable)', collect(checkIp))
    .option('--uri <uri>', 'URI in the subject alternative names, e.g. a SPIFFE ID (repeatable)', collect(checkUri))
    .option('--email <address>', 'email address in the subject alternative names (repeatable)', collect(checkEmail))
    .option('--path-length <n>', 'for --kind intermediate: how many CAs may follow it (default: 0)', parseCount)
    .addOption(keyTypeOption())
    .requiredOption('--out-cert <file>', 'where to write the certificate (PEM)')
    .requiredOption('--out-key <file>', 'where to write its private key (PKCS#8 PEM, mode 0600)')
    .option('--out-chain <file>', "where to write the intermediates between it and the root (PEM; empty when the CA is the root)")
    .option('--force', 'overwrite output files that exist');
  validityOptions(command, "397, or 3650 for an intermediate; by default never past the CA's expiry");
  return withExamples(command, [
    'certgate cert issue --ca ca.pem --ca-key ca.key --cn device-42 --out-cert device-42.pem --out-key device-42.key',
    'certgate cert issue --ca ca.pem --ca-key ca.key --cn api --kind server --dns api.example.com --ip 127.0.0.1 \\\n' +
      '      --out-cert api.pem --out-key api.key',
    'certgate cert issue --ca ca.pem --ca-key ca.key --cn "Issuing CA" --kind intermediate --out-cert int.pem --out-key int.key',
    'certgate cert issue --ca int.pem --ca-key int.key --cn workload --uri spiffe://example.org/workload --days 30 \\\n' +
      '      --out-cert workload.pem --out-key workload.key --out-chain workload-chain.pem',
  ])
    .action(
      outputAction(async (options: IssueOptions, command: Command) => {
        if (options.pathLength !== undefined && options.kind !== 'intermediate') {
          throw new CliError('--path-length applies to --kind intermediate only', { kind: 'usage' });
        }
        const outputs = [
          { path: options.outCert, option: '--out-cert' },
          { path: options.outKey, option: '--out-key' },
          ...(options.outChain ? [{ path: options.outChain, option: '--out-chain' }] : []),
        ];
        checkOutputs(outputs, options.force ?? false);
        const issuer = await loadIssuer(options);
        const issuerLimit = factsOf(issuer.certificate).basicConstraints?.pathLength;
        if (options.kind === 'intermediate' && issuerLimit !== undefined && (options.pathLength ?? 0) >= issuerLimit) {
          throw new CliError(
            issuerLimit === 0
              ? `the CA '${issuer.certificate.subject}' has path length 0: it may issue end-entity certificates only`
              : `the CA '${issuer.certificate.subject}' has path length ${issuerLimit}: --path-length must be below it`,
            { code: 'PathLengthExceeded' },
          );
        }
        // A default validity ends with the CA's (an intermediate's ten years would outlive a root
        // made the same day); a validity the user asked for is kept, with a warning below.
        const explicit = options.days !== undefined || options.notAfter !== undefined;
        const caExpiry = issuer.certificate.validToDate;
        const capped = !explicit && Date.now() + DEFAULT_DAYS[options.kind] * DAY_MS > caExpiry.getTime();
        let issued: IssuedCertificate;
        try {
          issued = await issueCertificate({
            issuer,
            commonName: options.cn,
            kind: options.kind,
            keyType: options.keyType,
            dnsNames: options.dns ?? [],
            ipAddresses: options.ip ?? [],
            uris: options.uri ?? [],
            emails: options.email ?? [],
            ...(options.pathLength === undefined ? {} : { pathLength: options.pathLength }),
            ...validity(options),
            ...(capped ? { notAfter: caExpiry } : {}),
          });
        } catch (error) {
          if (error instanceof CliError) throw error;
          throw new CliError(`cannot issue the certificate: ${reason(error)}`, { code: 'IssueFailed' });
        }
        if (issued.certificate.validToDate > caExpiry) {
          cliLogger(globalOptions(command)).warning(
            `the certificate is valid until ${isoSeconds(issued.certificate.validToDate)}, after its CA expires (${isoSeconds(caExpiry)})`,
          );
        }
        writeOutputs(
          [
            { path: options.outCert, option: '--out-cert', data: issued.certPem, secret: false },
            { path: options.outKey, option: '--out-key', data: issued.keyPem, secret: true },
            ...(options.outChain ? [{ path: options.outChain, option: '--out-chain', data: issued.chainPem, secret: false }] : []),
          ],
          options.force ?? false,
        );
        return summarize(issued.certificate);
      }, { tableTransformer: certificateTable }),
    );
}
