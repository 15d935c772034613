// `certgate cert verify`: a certificate against trusted CAs, with the app library's path builder
// (src/app-auth/path.ts) and the purpose as its parameter.
import { Command } from 'commander';
import type { X509Certificate } from 'node:crypto';
import { buildPath, checkValidity, indexAnchors } from '../../app-auth/path.ts';
import type { PathFailure } from '../../app-auth/path.ts';
import { allowsPurpose, describeCertificate, signedBy } from '../../pki/facts.ts';
import type { CertificateInfo, Purpose } from '../../pki/facts.ts';
import { CliError, type CliErrorCode } from '../errors.ts';
import { enumOption } from '../options.ts';
import { outputAction } from '../output.ts';
import { firstCertificate, passwordFrom, readMaterial } from './material.ts';
import type { PasswordOptions } from './material.ts';
import { collect, parseDate, passwordOptions, withExamples } from './options.ts';
import { factsOf, isoSeconds } from './summary.ts';

const PURPOSES = ['any', 'client', 'server'] as const;
const MAX_CHAIN_LENGTH = 10;

export interface VerifyResult {
  valid: true;
  subject: string;
  thumbprint: string;
  /** Subjects from the certificate to the trusted CA. */
  chain: string[];
  purpose: (typeof PURPOSES)[number];
  verifiedAt: string;
}

const PURPOSE = { any: 'any', client: 'clientAuth', server: 'serverAuth' } as const satisfies Record<(typeof PURPOSES)[number], Purpose>;

// The path builder's codes (the app library's catalog) as the CLI's.
const CLI_CODES: Partial<Record<PathFailure['code'], CliErrorCode>> = {
  UNTRUSTED_ISSUER: 'CertificateUntrusted',
  PATH_SEARCH_LIMIT: 'CertificateUntrusted',
  UNSUPPORTED_CRITICAL_EXTENSION: 'CertificateUntrusted',
  BAD_SIGNATURE: 'CertificateSignatureInvalid',
  CERT_EXPIRED: 'CertificateExpired',
  CERT_NOT_YET_VALID: 'CertificateNotYetValid',
  NOT_A_CA: 'CertificateNotCa',
  PATH_LENGTH_EXCEEDED: 'PathLengthExceeded',
  EKU_NOT_CLIENT_AUTH: 'CertificatePurposeInvalid',
  CERT_MALFORMED: 'InvalidCertificate',
};

/**
 * Builds a path from `leaf` through `untrusted` to a certificate in `anchors` with the app
 * library's path builder (signatures, key identifiers, issuers that are CAs allowed to sign within
 * their path length and validity at `at`, intermediates allowing `purpose`), then checks the
 * leaf's own validity and purpose. Throws a CliError naming the first problem.
 */
export function verifyCertificate(
  leaf: X509Certificate,
  untrusted: X509Certificate[],
  anchors: X509Certificate[],
  at: Date,
  purpose: (typeof PURPOSES)[number],
): CertificateInfo[] {
  const leafInfo = factsOf(leaf);
  const built = buildPath(leafInfo, untrusted, {
    options: {
      ...indexAnchors(anchors.map(factsOf)),
      intermediates: [],
      crlsByIssuer: new Map(),
      requireCrl: false,
      allowExpiredCrl: false,
      maxPathLength: MAX_CHAIN_LENGTH,
    },
    purpose: PURPOSE[purpose],
    now: at.getTime(),
    describe: describeCertificate,
    signedBy,
  });
  // As openssl does, the leaf's own validity is named before its issuers'.
  if (!built.ok && !isTimeCode(built.code)) throw pathError(built);
  checkTime(leafInfo, at);
  if (!built.ok) throw pathError(built);
  if (!allowsPurpose(leafInfo, PURPOSE[purpose])) {
    throw new CliError(`'${leafInfo.subject}' is not for ${purpose} authentication (its extended key usage lacks ${purpose}Auth)`, {
      code: 'CertificatePurposeInvalid',
    });
  }
  return built.path;
}

type TimeCode = 'CERT_EXPIRED' | 'CERT_NOT_YET_VALID';

function isTimeCode(code: PathFailure['code']): code is TimeCode {
  return code === 'CERT_EXPIRED' || code === 'CERT_NOT_YET_VALID';
}

function timeError(info: CertificateInfo, code: TimeCode): CliError {
  return code === 'CERT_EXPIRED'
    ? new CliError(`'${info.subject}' expired on ${isoSeconds(new Date(info.notAfter))}`, { code: 'CertificateExpired' })
    : new CliError(`'${info.subject}' is not valid before ${isoSeconds(new Date(info.notBefore))}`, { code: 'CertificateNotYetValid' });
}

function checkTime(info: CertificateInfo, at: Date): void {
  const code = checkValidity(info, at.getTime(), '')?.code;
  if (code !== undefined && isTimeCode(code)) throw timeError(info, code);
}

function pathError(failure: PathFailure & { certificate?: CertificateInfo }): CliError {
  const code = CLI_CODES[failure.code] ?? 'CertificateUntrusted';
  const about = failure.certificate;
  if (about === undefined) return new CliError(failure.message, { code });
  if (isTimeCode(failure.code)) return timeError(about, failure.code);
  if (failure.code !== 'UNTRUSTED_ISSUER') return new CliError(failure.message, { code });
  return new CliError(
    about.selfIssued
      ? `'${about.subject}' is self-signed and not among the trusted certificates (--ca)`
      : `no issuer of '${about.subject}' (issued by '${about.issuer}') among the trusted (--ca) or intermediate (--untrusted) certificates`,
    { code },
  );
}

interface VerifyOptions extends PasswordOptions {
  ca: string;
  untrusted?: string[];
  purpose: (typeof PURPOSES)[number];
  at?: Date;
}

export function verifyCommand(): Command {
  const command = new Command('verify')
    .summary('verify a certificate against trusted CAs')
    .description(
      'Verify a certificate against trusted CAs: a chain of valid signatures through intermediates to a --ca certificate, ' +
        'every certificate within its validity, issuers that are CAs within their path length, and the purpose. ' +
        'Prints the chain on success; fails with exit code 1 otherwise.',
    )
    .argument('<file>', 'the certificate (PEM, DER or PKCS#12); certificates after the first one are used as intermediates')
    .requiredOption('--ca <file>', 'trusted CA certificate(s) (PEM bundle, DER or PKCS#12); an intermediate here is trusted as it is')
    .option('--untrusted <file>', 'intermediate certificates that may complete the chain (repeatable)', collect())
    .addOption(enumOption('--purpose <purpose>', 'extended key usage the chain must allow', PURPOSES).default('any'))
    .option('--at <date>', 'check validity at this time instead of now (ISO 8601)', parseDate);
  passwordOptions(command, 'a PKCS#12 file');
  return withExamples(command, [
    'certgate cert verify device-42.pem --ca ca.pem',
    'certgate cert verify leaf.pem --ca root.pem --untrusted int.pem --purpose client',
    'certgate cert verify device-42.p12 --password "$P12_PASSWORD" --ca ca.pem --query valid --output tsv',
  ])
    .action(
      outputAction(async (file: string, options: VerifyOptions): Promise<VerifyResult> => {
        const at = options.at ?? new Date();
        const subject = await readMaterial(file, 'certificate', passwordFrom(options));
        const leaf = firstCertificate(subject, file, 'certificate');
        const anchors = (await readMaterial(options.ca, 'CA certificate')).certificates;
        if (anchors.length === 0) throw new CliError(`'${options.ca}' holds no certificate`, { code: 'InvalidCertificateFile' });
        const untrusted = [...subject.certificates.slice(1)];
        for (const path of options.untrusted ?? []) untrusted.push(...(await readMaterial(path, 'intermediate certificate')).certificates);
        const chain = verifyCertificate(leaf, untrusted, anchors, at, options.purpose);
        return {
          valid: true,
          subject: chain[0]!.subject,
          thumbprint: chain[0]!.fingerprint,
          chain: chain.map((info) => info.subject),
          purpose: options.purpose,
          verifiedAt: isoSeconds(at),
        };
      }),
    );
}

