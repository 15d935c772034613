// `certgate cert ...`: the certificate toolkit for mutual TLS. create-ca, issue, export (PKCS#12),
// show and verify; inputs may be PEM, DER or PKCS#12. Problems with the user's files (missing,
// garbage, wrong password, key not matching) are CliErrors: one `ERROR:` line, exit code 1.
// @peculiar/x509 (through tsyringe) needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { createCa, isSelfSigned, issueCertificate } from '../pki/issue.ts';
import type { IssuedCertificate, KeyType } from '../pki/issue.ts';
import { exportPkcs12, readPkcs12 } from '../pki/pkcs12.ts';
import { sha256Hex } from '../xfcc/index.ts';
import { CliError, configureUsageErrors } from './errors.ts';
import { addGlobalOptions, cliLogger, globalOptions, outputAction } from './output.ts';
import { enumOption } from './options.ts';
import { normalizeHostname } from '../model/hostnames.ts';

const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'rsa-2048', 'rsa-3072'];
const KINDS = ['client', 'server', 'intermediate'] as const;
const PURPOSES = ['any', 'client', 'server'] as const;
const MAX_CHAIN_LENGTH = 10;
const DAY_MS = 24 * 60 * 60 * 1000;
// src/pki/issue.ts's defaults, which `issue` caps at the CA's expiry.
const DEFAULT_DAYS = { client: 397, server: 397, intermediate: 3650 } as const;

// ---- what `show`, `create-ca`, `issue` and `verify` print

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** At the time of the command. */
  status: 'valid' | 'expired' | 'notYetValid';
  /** SHA-256 of the DER, lower-case hex: the X-Forwarded-Client-Cert `Hash`. */
  thumbprint: string;
  /** SHA-1 of the DER, upper-case hex: what Azure and Windows call the thumbprint. */
  sha1Thumbprint: string;
  keyType: string;
  isCa: boolean;
  /** basicConstraints pathLenConstraint of a CA; null when absent. */
  pathLength: number | null;
  selfSigned: boolean;
  keyUsages: string[];
  extendedKeyUsages: string[];
  dnsNames: string[];
  ipAddresses: string[];
  uris: string[];
  emails: string[];
}

const CURVE_NAMES: Record<string, string> = { prime256v1: 'p256', secp384r1: 'p384', secp521r1: 'p521' };

function keyTypeOf(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return `rsa-${details.modulusLength}`;
    case 'rsa-pss':
      return `rsa-pss-${details.modulusLength}`;
    case 'ec':
      return `ec-${CURVE_NAMES[details.namedCurve ?? ''] ?? details.namedCurve}`;
    default:
      return key.asymmetricKeyType ?? 'unknown';
  }
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const EKU_NAMES = new Map<string, string>(Object.entries(x509.ExtendedKeyUsage).map(([name, oid]) => [oid, name]));

function keyUsageNames(flags: number): string[] {
  return Object.entries(x509.KeyUsageFlags)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && (flags & entry[1]) !== 0)
    .map(([name]) => name);
}

function extensionsOf(cert: X509Certificate) {
  try {
    const parsed = new x509.X509Certificate(new Uint8Array(cert.raw));
    const names = parsed.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
    const of = (type: string) => names.filter((name) => name.type === type).map((name) => name.value);
    return {
      subject: parsed.subject,
      issuer: parsed.issuer,
      basicConstraints: parsed.getExtension(x509.BasicConstraintsExtension),
      keyUsages: parsed.getExtension(x509.KeyUsagesExtension)?.usages,
      extendedKeyUsages: parsed.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String),
      dnsNames: of('dns'),
      ipAddresses: of('ip'),
      uris: of('url'),
      emails: of('email'),
    };
  } catch (error) {
    throw new CliError(`cannot read the extensions of certificate '${cert.subject}': ${reason(error)}`, {
      code: 'InvalidCertificate',
    });
  }
}

export function summarize(cert: X509Certificate, now: Date = new Date()): CertificateSummary {
  const ext = extensionsOf(cert);
  const notBefore = cert.validFromDate;
  const notAfter = cert.validToDate;
  return {
    subject: ext.subject,
    issuer: ext.issuer,
    serialNumber: cert.serialNumber.toUpperCase(),
    notBefore: isoSeconds(notBefore),
    notAfter: isoSeconds(notAfter),
    status: now < notBefore ? 'notYetValid' : now > notAfter ? 'expired' : 'valid',
    thumbprint: sha256Hex(cert.raw),
    sha1Thumbprint: createHash('sha1').update(cert.raw).digest('hex').toUpperCase(),
    keyType: keyTypeOf(cert.publicKey),
    isCa: cert.ca,
    pathLength: cert.ca ? (ext.basicConstraints?.pathLength ?? null) : null,
    selfSigned: isSelfSigned(cert),
    keyUsages: ext.keyUsages === undefined ? [] : keyUsageNames(ext.keyUsages),
    extendedKeyUsages: (ext.extendedKeyUsages ?? []).map((oid) => EKU_NAMES.get(oid) ?? oid),
    dnsNames: ext.dnsNames,
    ipAddresses: ext.ipAddresses,
    uris: ext.uris,
    emails: ext.emails,
  };
}

/** The table shows the columns that identify a certificate, in this order (knack's table_transformer). */
function certificateTable(value: unknown): unknown {
  const row = (cert: CertificateSummary) => ({
    subject: cert.subject,
    issuer: cert.issuer,
    notAfter: cert.notAfter,
    status: cert.status,
    thumbprint: cert.thumbprint,
  });
  return Array.isArray(value) ? (value as CertificateSummary[]).map(row) : row(value as CertificateSummary);
}

// ---- reading certificates and keys (PEM, DER, PKCS#12)

interface Material {
  certificates: X509Certificate[];
  key?: KeyObject;
}

function reason(error: unknown): string {
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

function readBytes(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new CliError(`cannot read ${what} '${path}': ${reason(error)}`, { code: 'FileNotReadable' });
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
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
  for (const [block, label] of text.matchAll(PEM_BLOCK)) {
    if (label === 'CERTIFICATE') {
      try {
        material.certificates.push(new X509Certificate(block));
      } catch (error) {
        throw new CliError(
          `certificate ${material.certificates.length + 1} in ${what} '${path}' is not a valid X.509 certificate: ${reason(error)}`,
          { code: 'InvalidCertificate' },
        );
      }
    } else if (label && PEM_KEY_LABELS.has(label) && !material.key) {
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

function legacyProviderLoaded(): boolean {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].includes('--openssl-legacy-provider');
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
    const chain = p12.chainPem.match(PEM_BLOCK) ?? [];
    return {
      certificates: [p12.certificate, ...chain.map((block) => new X509Certificate(block))],
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
    case 'Pkcs12Unsupported':
      if (!legacyProviderLoaded() && /legacy-provider/.test(p12.message)) {
        throw new CliError(
          `the PKCS#12 file '${path}' uses an algorithm of OpenSSL's legacy provider: run certgate with NODE_OPTIONS=--openssl-legacy-provider`,
          { code: p12.code },
        );
      }
      break;
  }
  throw new CliError(`${what} '${path}': ${reason(p12.message)}`, { code: p12.code });
}

function firstCertificate(material: Material, path: string, what: string): X509Certificate {
  const cert = material.certificates[0];
  if (!cert) throw new CliError(`${what} '${path}' holds no certificate`, { code: 'InvalidCertificateFile' });
  return cert;
}

function pem(cert: X509Certificate): string {
  const text = cert.toString();
  return text.endsWith('\n') ? text : `${text}\n`;
}

function keyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

interface PasswordOptions {
  password?: string;
  passwordFile?: string;
}

/** --password, or the first line of --password-file ('-' reads standard input), as openssl's `file:`. */
function passwordFrom(options: PasswordOptions): string | undefined {
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

// ---- writing results: never over an existing file without --force; keys and PKCS#12 mode 0600

interface OutputFile {
  path: string;
  option: string;
  data: string | Uint8Array;
  secret: boolean;
}

function checkOutputs(files: Omit<OutputFile, 'data' | 'secret'>[], force: boolean): void {
  const seen = new Map<string, string>();
  for (const file of files) {
    const absolute = resolve(file.path);
    const other = seen.get(absolute);
    if (other) throw new CliError(`${other} and ${file.option} name the same file '${file.path}'`, { kind: 'usage' });
    seen.set(absolute, file.option);
    if (!force && existsSync(file.path)) {
      throw new CliError(`'${file.path}' (${file.option}) already exists: use --force to overwrite it`, { code: 'FileExists' });
    }
  }
}

function writeOutputs(files: OutputFile[], force: boolean): void {
  checkOutputs(files, force);
  for (const file of files) {
    try {
      // Removing first, then creating exclusively, gives a replaced key file mode 0600 from its
      // first byte (writing over it would keep the old file's mode).
      if (force) rmSync(file.path, { force: true });
      writeFileSync(file.path, file.data, { mode: file.secret ? 0o600 : 0o644, flag: 'wx' });
    } catch (error) {
      throw new CliError(`cannot write '${file.path}' (${file.option}): ${reason(error)}`, { code: 'FileNotWritable' });
    }
  }
}

// ---- option parsers (a bad value is a usage error, exit code 2)

function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 36500) {
    throw new InvalidArgumentError('expected a whole number of days from 1 to 36500');
  }
  return Number(value);
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 100) throw new InvalidArgumentError('expected a whole number from 0 to 100');
  return Number(value);
}

function parseDate(value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('expected an ISO 8601 date, e.g. 2030-01-31 or 2030-01-31T12:00:00Z');
  }
  return date;
}

function collect(check?: (value: string) => void) {
  return (value: string, previous: string[] | undefined): string[] => {
    check?.(value);
    return [...(previous ?? []), value];
  };
}

const checkDns = (value: string) => {
  // The one host-name rule; a certificate may also name a wildcard (`*.example.com`).
  if (normalizeHostname(value.startsWith('*.') ? value.slice(2) : value) === undefined) {
    throw new InvalidArgumentError(`'${value}' is not a DNS name`);
  }
};
const checkIp = (value: string) => {
  if (isIP(value) === 0) throw new InvalidArgumentError(`'${value}' is not an IPv4 or IPv6 address`);
};
const checkUri = (value: string) => {
  if (!URL.canParse(value)) throw new InvalidArgumentError(`'${value}' is not an absolute URI such as spiffe://example.org/workload`);
};
const checkEmail = (value: string) => {
  if (!/^[^@\s]+@[^@\s]+$/.test(value)) throw new InvalidArgumentError(`'${value}' is not an email address`);
};

interface ValidityOptions {
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
}

function validityOptions(command: Command, defaultDays: string): Command {
  return command
    .addOption(new Option('--days <n>', `validity in days (default: ${defaultDays})`).argParser(parsePositive).conflicts('notAfter'))
    .addOption(new Option('--not-before <date>', 'start of validity, ISO 8601 (default: 5 minutes ago)').argParser(parseDate))
    .addOption(new Option('--not-after <date>', 'end of validity, ISO 8601 (instead of --days)').argParser(parseDate));
}

function validity(options: ValidityOptions): { validityDays?: number; notBefore?: Date; notAfter?: Date } {
  if (options.notBefore && options.notAfter && options.notAfter <= options.notBefore) {
    throw new CliError('--not-after must be later than --not-before', { kind: 'usage' });
  }
  return {
    ...(options.days === undefined ? {} : { validityDays: options.days }),
    ...(options.notBefore ? { notBefore: options.notBefore } : {}),
    ...(options.notAfter ? { notAfter: options.notAfter } : {}),
  };
}

function keyTypeOption(): Option {
  return enumOption('--key-type <type>', 'key of the new certificate', KEY_TYPES).default('ec-p256');
}

function passwordOptions(command: Command, what: string): Command {
  return command
    .addOption(new Option('--password <password>', `password of ${what}`).conflicts('passwordFile'))
    .addOption(new Option('--password-file <file>', `read the password of ${what} from the first line of a file ('-': standard input)`));
}

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  ${line}`).join('\n')}\n`;
}

// ---- cert create-ca

interface CreateCaOptions extends ValidityOptions {
  name: string;
  outCert: string;
  outKey: string;
  keyType: KeyType;
  pathLength?: number;
  force?: boolean;
}

function createCaCommand(): Command {
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
  return addGlobalOptions(command, { subscription: false })
    .addHelpText(
      'after',
      examples([
        'certgate cert create-ca --name "My CA" --out-cert ca.pem --out-key ca.key',
        'certgate cert create-ca --name "My RSA CA" --key-type rsa-3072 --days 1825 --out-cert ca.pem --out-key ca.key',
        'certgate cert create-ca --name "My CA" --out-cert ca.pem --out-key ca.key --query thumbprint --output tsv',
      ]),
    )
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

// ---- cert issue

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
  const ext = extensionsOf(cert);
  if (!cert.ca) {
    throw new CliError(`'${options.ca}' (${ext.subject}) is not a CA certificate (basicConstraints CA:FALSE)`, { code: 'NotCaCertificate' });
  }
  if (ext.keyUsages !== undefined && (ext.keyUsages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw new CliError(`the CA '${ext.subject}' may not sign certificates (its key usage lacks keyCertSign)`, { code: 'NotCaCertificate' });
  }
  const chainPem = material.certificates
    .slice(1)
    .filter((other) => !isSelfSigned(other))
    .map(pem)
    .join('');
  return { certPem: pem(cert), keyPem: keyPem(key), chainPem, certificate: cert };
}

function issueCommand(): Command {
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
  return addGlobalOptions(command, { subscription: false })
    .addHelpText(
      'after',
      examples([
        'certgate cert issue --ca ca.pem --ca-key ca.key --cn device-42 --out-cert device-42.pem --out-key device-42.key',
        'certgate cert issue --ca ca.pem --ca-key ca.key --cn api --kind server --dns api.example.com --ip 127.0.0.1 \\\n' +
          '      --out-cert api.pem --out-key api.key',
        'certgate cert issue --ca ca.pem --ca-key ca.key --cn "Issuing CA" --kind intermediate --out-cert int.pem --out-key int.key',
        'certgate cert issue --ca int.pem --ca-key int.key --cn workload --uri spiffe://example.org/workload --days 30 \\\n' +
          '      --out-cert workload.pem --out-key workload.key --out-chain workload-chain.pem',
      ]),
    )
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
        const issuerLimit = extensionsOf(issuer.certificate).basicConstraints?.pathLength;
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

// ---- cert export

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

function exportCommand(): Command {
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
  return addGlobalOptions(command, { subscription: false })
    .addHelpText(
      'after',
      examples([
        'certgate cert export --cert device-42.pem --key device-42.key --password "$P12_PASSWORD" --out device-42.p12',
        'certgate cert export --cert leaf.pem --key leaf.key --chain int.pem --password-file pass.txt --out leaf.p12',
        'certgate cert export --cert leaf.pem --key leaf.key --password secret --legacy --out leaf-legacy.p12',
        'curl --cert-type P12 --cert device-42.p12:"$P12_PASSWORD" https://app.env.certgate.localhost:8443/',
      ]),
    )
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
          certPem: pem(cert),
          keyPem: keyPem(key),
          chainPem: chain.map(pem).join(''),
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

// ---- cert show

function showCommand(): Command {
  const command = new Command('show')
    .summary('show certificates of a PEM, DER or PKCS#12 file, with SHA-256 thumbprints')
    .description(
      'Show a certificate: subject, issuer, SANs, validity, key, and its SHA-256 thumbprint (the X-Forwarded-Client-Cert Hash). ' +
        'A file with several certificates (a PEM bundle, a PKCS#12 with its chain) gives a list.',
    )
    .argument('<file>', 'PEM, DER or PKCS#12 file');
  passwordOptions(command, 'a PKCS#12 file or an encrypted key');
  return addGlobalOptions(command, { subscription: false })
    .addHelpText(
      'after',
      examples([
        'certgate cert show device-42.pem',
        'certgate cert show device-42.p12 --password "$P12_PASSWORD" --output table',
        'certgate cert show device-42.pem --query thumbprint --output tsv',
        'certgate cert show chain.pem --query "[].{subject: subject, notAfter: notAfter}" --output table',
      ]),
    )
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

// ---- cert verify

export interface VerifyResult {
  valid: true;
  subject: string;
  thumbprint: string;
  /** Subjects from the certificate to the trusted CA. */
  chain: string[];
  purpose: (typeof PURPOSES)[number];
  verifiedAt: string;
}

const EKU_FOR_PURPOSE = { client: x509.ExtendedKeyUsage.clientAuth, server: x509.ExtendedKeyUsage.serverAuth } as const;
const ANY_EKU = '2.5.29.37.0';

function same(a: X509Certificate, b: X509Certificate): boolean {
  return a.raw.equals(b.raw);
}

/**
 * Builds a path from `leaf` through `untrusted` to a certificate in `anchors` (checkIssued:
 * names, key identifiers and the issuer's keyCertSign; verify: the signature), then checks each
 * certificate's validity at `at`, that issuers are CAs within their path length, and the
 * extended key usage for `purpose`. Throws a CliError naming the first problem.
 */
export function verifyCertificate(
  leaf: X509Certificate,
  untrusted: X509Certificate[],
  anchors: X509Certificate[],
  at: Date,
  purpose: (typeof PURPOSES)[number],
): X509Certificate[] {
  let longest: X509Certificate[] = [leaf];
  let badSignature: { child: X509Certificate; issuer: X509Certificate } | undefined;
  const issuedBy = (child: X509Certificate, issuer: X509Certificate) => {
    if (!child.checkIssued(issuer)) return false;
    if (child.verify(issuer.publicKey)) return true;
    badSignature ??= { child, issuer };
    return false;
  };
  const build = (path: X509Certificate[]): X509Certificate[] | undefined => {
    const current = path.at(-1) as X509Certificate;
    if (path.length > longest.length) longest = path;
    if (anchors.some((anchor) => same(anchor, current))) return path;
    const anchor = anchors.find((candidate) => issuedBy(current, candidate));
    if (anchor) return [...path, anchor];
    if (path.length >= MAX_CHAIN_LENGTH) return undefined;
    for (const candidate of untrusted) {
      if (path.some((cert) => same(cert, candidate)) || !issuedBy(current, candidate)) continue;
      const found = build([...path, candidate]);
      if (found) return found;
    }
    return undefined;
  };
  const chain = build([leaf]);
  if (!chain) {
    if (badSignature) {
      throw new CliError(
        `the signature of '${extensionsOf(badSignature.child).subject}' does not verify with the key of '${extensionsOf(badSignature.issuer).subject}'`,
        { code: 'CertificateSignatureInvalid' },
      );
    }
    const last = longest.at(-1) as X509Certificate;
    const { subject, issuer } = extensionsOf(last);
    throw new CliError(
      isSelfSigned(last)
        ? `'${subject}' is self-signed and not among the trusted certificates (--ca)`
        : `no issuer of '${subject}' (issued by '${issuer}') among the trusted (--ca) or intermediate (--untrusted) certificates`,
      { code: 'CertificateUntrusted' },
    );
  }
  for (const cert of chain) {
    const { subject } = extensionsOf(cert);
    if (at > cert.validToDate) {
      throw new CliError(`'${subject}' expired on ${isoSeconds(cert.validToDate)}`, { code: 'CertificateExpired' });
    }
    if (at < cert.validFromDate) {
      throw new CliError(`'${subject}' is not valid before ${isoSeconds(cert.validFromDate)}`, { code: 'CertificateNotYetValid' });
    }
  }
  chain.forEach((cert, index) => {
    if (index === 0) return;
    const ext = extensionsOf(cert);
    const isAnchor = index === chain.length - 1;
    // As OpenSSL does, a trust anchor without basicConstraints (an X.509 v1 root) may issue.
    if (!cert.ca && !(isAnchor && ext.basicConstraints === undefined)) {
      throw new CliError(`'${ext.subject}' issued a certificate but is not a CA (basicConstraints CA:FALSE)`, { code: 'CertificateNotCa' });
    }
    const limit = ext.basicConstraints?.pathLength;
    if (limit !== undefined && index - 1 > limit) {
      throw new CliError(`'${ext.subject}' allows ${limit} intermediate CA(s) below it; the chain has ${index - 1}`, {
        code: 'PathLengthExceeded',
      });
    }
  });
  if (purpose !== 'any') {
    const wanted = EKU_FOR_PURPOSE[purpose];
    // The anchor is trusted as it is; every other certificate with an EKU must allow the purpose.
    for (const cert of chain.slice(0, chain.length > 1 ? -1 : undefined)) {
      const ext = extensionsOf(cert);
      if (ext.extendedKeyUsages && !ext.extendedKeyUsages.includes(wanted) && !ext.extendedKeyUsages.includes(ANY_EKU)) {
        throw new CliError(`'${ext.subject}' is not for ${purpose} authentication (its extended key usage lacks ${purpose}Auth)`, {
          code: 'CertificatePurposeInvalid',
        });
      }
    }
  }
  return chain;
}

interface VerifyOptions extends PasswordOptions {
  ca: string;
  untrusted?: string[];
  purpose: (typeof PURPOSES)[number];
  at?: Date;
}

function verifyCommand(): Command {
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
  return addGlobalOptions(command, { subscription: false })
    .addHelpText(
      'after',
      examples([
        'certgate cert verify device-42.pem --ca ca.pem',
        'certgate cert verify leaf.pem --ca root.pem --untrusted int.pem --purpose client',
        'certgate cert verify device-42.p12 --password "$P12_PASSWORD" --ca ca.pem --query valid --output tsv',
      ]),
    )
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
          subject: extensionsOf(leaf).subject,
          thumbprint: sha256Hex(leaf.raw),
          chain: chain.map((cert) => extensionsOf(cert).subject),
          purpose: options.purpose,
          verifiedAt: isoSeconds(at),
        };
      }),
    );
}

// ---- cert

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

