// az-compatible errors for the CLI: one table of exit codes, and errors printed to stderr as
// `ERROR: (Code) message` (or `ERROR: message`), as azure-cli prints them.
import { CommanderError } from 'commander';
import type { Command } from 'commander';

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

export interface CliErrorOptions {
  /** az-style error code, printed as `(Code)`: an ARM error code such as ResourceNotFound, or certgate's own. */
  code?: string;
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
    this.code = options.code;
    this.statusCode = options.statusCode;
    this.recommendation = options.recommendation;
    this.kind =
      options.kind ??
      (options.statusCode === 404 || options.code === 'ResourceNotFound' ? 'resourceNotFound' : 'error');
  }
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
  const code = error instanceof CliError && error.code ? `(${error.code}) ` : '';
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
