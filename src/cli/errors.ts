// az-compatible errors for the CLI: one table of exit codes, and errors printed to stderr as
// `ERROR: (Code) message` (or `ERROR: message`), as azure-cli prints them.
import { CommanderError } from 'commander';
import type { Command } from 'commander';
import { defineCatalog } from '../model/error-catalog.ts';
import { PkiError, type PkiErrorCode } from '../pki/codes.ts';

/**
 * az's exit codes (azure-cli README, "Exit codes"). Every exit code the CLI returns comes from
 * this table, through exitCodeFor.
 */
export const EXIT_CODES = {
  /** The command ran (also --help and --version). */
  success: 0,
  /** Generic error: an error status from the service, failed validation, an unreadable file, a JMESPath runtime error. */
  error: 1,
  /** Parser error: unknown command or option, a missing or invalid argument, a --query that does not parse. */
  usage: 2,
  /** The resource does not exist (HTTP 404, ResourceNotFound): az's existence check through `show`. */
  resourceNotFound: 3,
} as const;

export type ErrorKind = Exclude<keyof typeof EXIT_CODES, 'success'>;

/**
 * The CLI's own error codes, printed as `(Code)`, each with its exit code. docs/cli.md "Errors and
 * exit codes" lists each one (test/error-catalogs.test.ts checks both ways). Codes of the
 * management API (docs/management-api.md) and of the PKI catalog (src/pki/codes.ts) are printed as
 * they come.
 */
export const CLI_ERRORS = defineCatalog({
  NotLoggedIn: { status: EXIT_CODES.error, meaning: "no profile: run 'certgate login' first" },
  BadProfile: { status: EXIT_CODES.error, meaning: "the profile file cannot be read as a profile; run 'certgate login' again" },
  ConnectionFailed: { status: EXIT_CODES.error, meaning: 'the management endpoint cannot be reached (the system code is in the message)' },
  NoSubscription: { status: EXIT_CODES.error, meaning: 'the endpoint has no subscription the logged-in principal can use' },
  SubscriptionNotFound: { status: EXIT_CODES.error, meaning: '--subscription names no subscription of the profile' },
  IngressDisabled: { status: EXIT_CODES.error, meaning: "the app's ingress is disabled; the command needs one ('containerapp ingress enable')" },
  CorsDisabled: { status: EXIT_CODES.error, meaning: "CORS is not enabled on the app ('containerapp ingress cors enable')" },
  RuleNotFound: { status: EXIT_CODES.error, meaning: 'the app has no IP access restriction rule of that name' },
  LabelsNotSupported: { status: EXIT_CODES.error, meaning: 'revision labels were given; certgate has no revision labels' },
  HostnameExists: { status: EXIT_CODES.error, meaning: "the hostname is already on the app ('containerapp hostname bind' binds a certificate)" },
  HostnameNotFound: { status: EXIT_CODES.error, meaning: 'the app has no custom domain of that hostname' },
  FileNotReadable: { status: EXIT_CODES.error, meaning: 'an input file (certificate, key, password file) cannot be read' },
  FileExists: { status: EXIT_CODES.error, meaning: 'an output file exists already; --force overwrites it' },
  FileNotWritable: { status: EXIT_CODES.error, meaning: 'an output file cannot be written' },
  InvalidCertificateFile: { status: EXIT_CODES.error, meaning: 'a file holds no certificate (or no CERTIFICATE or PRIVATE KEY block), or is neither PEM, DER nor PKCS#12' },
  InvalidCertificate: { status: EXIT_CODES.error, meaning: 'a certificate in a file is not a valid X.509 certificate, or its extensions cannot be read' },
  InvalidKey: { status: EXIT_CODES.error, meaning: 'a private key cannot be read, or a key file holds none' },
  KeyPasswordRequired: { status: EXIT_CODES.error, meaning: 'the private key is encrypted and no password was given' },
  KeyWrongPassword: { status: EXIT_CODES.error, meaning: 'the password does not decrypt the private key' },
  KeyMismatch: { status: EXIT_CODES.error, meaning: 'the private key does not belong to the certificate (or the CA key to the CA certificate)' },
  NotCaCertificate: { status: EXIT_CODES.error, meaning: '--ca is not a CA certificate, or its key usage lacks keyCertSign' },
  PathLengthExceeded: { status: EXIT_CODES.error, meaning: "a CA's path length constraint forbids the intermediate to issue, or the verified chain exceeds it" },
  IssueFailed: { status: EXIT_CODES.error, meaning: 'the certificate could not be issued (the PKI error is in the message)' },
  CertificateSignatureInvalid: { status: EXIT_CODES.error, meaning: "verify: a certificate's signature does not verify with its issuer's key" },
  CertificateUntrusted: { status: EXIT_CODES.error, meaning: 'verify: no path to a trusted certificate (--ca), e.g. self-signed or a missing intermediate' },
  CertificateExpired: { status: EXIT_CODES.error, meaning: 'verify: a certificate of the chain has expired' },
  CertificateNotYetValid: { status: EXIT_CODES.error, meaning: 'verify: a certificate of the chain is not valid yet' },
  CertificateNotCa: { status: EXIT_CODES.error, meaning: 'verify: a certificate that issued another is not a CA (basicConstraints CA:FALSE)' },
  CertificatePurposeInvalid: { status: EXIT_CODES.error, meaning: "verify: the leaf's extended key usage lacks the purpose asked for (clientAuth or serverAuth)" },
});

/** A code the CLI prints: its own, or the PKI catalog's (src/pki/codes.ts). */
export type CliErrorCode = keyof typeof CLI_ERRORS | PkiErrorCode;

export interface CliErrorOptions {
  /** az-style error code, printed as `(Code)`: the CLI's own (CLI_ERRORS) or the PKI catalog's. */
  code?: CliErrorCode;
  /** A code the management API answered with (ARM or OAuth, docs/management-api.md), printed as it came. */
  serviceCode?: string;
  /** Chooses the exit code; defaults from statusCode and code, else 'error'. */
  kind?: ErrorKind;
  /** HTTP status of a service error; 404 means resourceNotFound. */
  statusCode?: number;
  /** Printed on the line after the error, as az prints its recommendations. */
  recommendation?: string;
  cause?: unknown;
}

/** An error meant for the user: printed as one `ERROR:` line, never with a stack trace. */
export class CliError extends Error {
  readonly code: string | undefined;
  readonly kind: ErrorKind;
  readonly statusCode: number | undefined;
  readonly recommendation: string | undefined;

  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = options.code ?? options.serviceCode;
    this.statusCode = options.statusCode;
    this.recommendation = options.recommendation;
    this.kind = options.kind ?? (options.statusCode === 404 || options.serviceCode === 'ResourceNotFound' ? 'resourceNotFound' : kindOf(options.code));
  }
}

/** The exit code a CLI code has in CLI_ERRORS, as a kind; a PKI code (or none) is 'error'. */
function kindOf(code: CliErrorCode | undefined): ErrorKind {
  const status = code !== undefined && Object.hasOwn(CLI_ERRORS, code) ? CLI_ERRORS[code as keyof typeof CLI_ERRORS].status : EXIT_CODES.error;
  return (Object.keys(EXIT_CODES) as ErrorKind[]).find((kind) => EXIT_CODES[kind] === status) ?? 'error';
}

// Commander reports these after printing help or the version, which are not failures.
const COMMANDER_SUCCESS_CODES = new Set(['commander.helpDisplayed', 'commander.version']);

/** The row of EXIT_CODES an error belongs to. */
export function errorKind(error: unknown): keyof typeof EXIT_CODES {
  if (error instanceof CommanderError) {
    if (COMMANDER_SUCCESS_CODES.has(error.code)) return 'success';
    // `.help()` exits 0; commander's help after a bare group command (`certgate cert`) is a usage error.
    if (error.code === 'commander.help') return error.exitCode === 0 ? 'success' : 'usage';
    return 'usage';
  }
  if (error instanceof CliError) return error.kind;
  return 'error';
}

export function exitCodeFor(error: unknown): number {
  return EXIT_CODES[errorKind(error)];
}

/**
 * The text az prints for an error: `ERROR: (Code) message` or `ERROR: message`, then the
 * recommendation if any; with `debug`, the stack too. Ends with a newline; '' for commander's
 * own errors, which commander has printed already.
 */
export function formatError(error: unknown, options: { debug?: boolean } = {}): string {
  if (error instanceof CommanderError) return '';
  const message = error instanceof Error ? error.message : String(error);
  // A PKI failure that reached the top (e.g. serve's local CA) carries its catalog code too.
  const code = (error instanceof CliError || error instanceof PkiError) && error.code ? `(${error.code}) ` : '';
  const lines = [`ERROR: ${code}${message}`];
  if (error instanceof CliError && error.recommendation) lines.push(error.recommendation);
  if (options.debug && error instanceof Error && error.stack) lines.push(error.stack);
  return `${lines.join('\n')}\n`;
}

/** Prints the error as az does and returns the exit code for it. */
export function reportError(
  error: unknown,
  options: { debug?: boolean; stderr?: { write(text: string): unknown } } = {},
): number {
  const text = formatError(error, options);
  if (text) (options.stderr ?? process.stderr).write(text);
  return exitCodeFor(error);
}

/**
 * Makes commander's parse errors on `command` and every subcommand under it az-like: one line,
 * `ERROR: ...` (the project's one-line rule for bad values), exiting with the usage code (2)
 * instead of commander's 1. The program must let the CommanderError thrown here reach its top
 * level, which exits with `error.exitCode` (src/main.ts does).
 */
export function configureUsageErrors(command: Command): Command {
  command
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'ERROR: ')) })
    .exitOverride((error) => {
      throw new CommanderError(exitCodeFor(error), error.code, error.message);
    });
  for (const sub of command.commands) configureUsageErrors(sub);
  return command;
}
