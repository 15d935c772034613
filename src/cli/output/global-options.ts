// az's global arguments (--output, --query, --subscription, --verbose, --debug,
// --only-show-errors) and its log lines on stderr.
import { Command, InvalidArgumentError, Option } from 'commander';
import { OUTPUT_FORMATS } from './render.ts';
import type { OutputFormat } from './render.ts';

export interface GlobalOptions {
  output: OutputFormat;
  query?: string;
  subscription?: string;
  verbose: boolean;
  debug: boolean;
  onlyShowErrors: boolean;
}

function parseOutputFormat(value: string): OutputFormat {
  const format = value.toLowerCase();
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new InvalidArgumentError(`Allowed choices are ${OUTPUT_FORMATS.join(', ')}.`);
  }
  return format as OutputFormat;
}

/**
 * Adds az's global arguments to `command`, under "Global Arguments:" in its help. --subscription
 * is left out with `{ subscription: false }` (az adds it only to commands that use a subscription).
 * The default output format comes from CERTGATE_CORE_OUTPUT (az: AZURE_CORE_OUTPUT), else json.
 */
export function addGlobalOptions(command: Command, options: { subscription?: boolean } = {}): Command {
  const group = 'Global Arguments:';
  const globals = [
    new Option('--debug', 'Increase logging verbosity to show all debug logs.'),
    new Option('--only-show-errors', 'Only show errors, suppressing warnings.'),
    new Option('-o, --output <format>', `Output format: ${OUTPUT_FORMATS.join(', ')}.`)
      .env('CERTGATE_CORE_OUTPUT')
      .argParser(parseOutputFormat)
      .default('json'),
    new Option('--query <jmespath>', 'JMESPath query string. See http://jmespath.org/ for more information and examples.'),
    ...(options.subscription === false ? [] : [new Option('--subscription <subscription>', 'Name or ID of subscription.')]),
    new Option('--verbose', 'Increase logging verbosity. Use --debug for full debug logs.'),
  ];
  for (const option of globals) command.addOption(option.helpGroup(group));
  return command;
}

/** The global options as parsed for `command` (see addGlobalOptions). */
export function globalOptions(command: Command): GlobalOptions {
  const opts = command.optsWithGlobals<Partial<GlobalOptions>>();
  return {
    output: opts.output ?? 'json',
    query: opts.query,
    subscription: opts.subscription,
    verbose: opts.verbose ?? false,
    debug: opts.debug ?? false,
    onlyShowErrors: opts.onlyShowErrors ?? false,
  };
}

export interface CliLogger {
  /** Shown unless --only-show-errors. */
  warning(message: string): void;
  /** Shown with --verbose or --debug. */
  info(message: string): void;
  /** Shown with --debug. */
  debug(message: string): void;
}

/** az's log lines on stderr: `WARNING: ...`, `INFO: ...`, `DEBUG: ...`. */
export function cliLogger(
  options: Pick<GlobalOptions, 'verbose' | 'debug' | 'onlyShowErrors'>,
  stderr: { write(text: string): unknown } = process.stderr,
): CliLogger {
  return {
    warning: (message) => {
      if (!options.onlyShowErrors) stderr.write(`WARNING: ${message}\n`);
    },
    info: (message) => {
      if (options.verbose || options.debug) stderr.write(`INFO: ${message}\n`);
    },
    debug: (message) => {
      if (options.debug) stderr.write(`DEBUG: ${message}\n`);
    },
  };
}
