// The action runner: --query checked (compiled) once before the handler, its result printed.
import { Command } from 'commander';
import { reportError } from '../errors.ts';
import { cliLogger, globalOptions } from './global-options.ts';
import { compileQuery } from './query.ts';
import { renderOutput } from './render.ts';
import type { RenderOptions } from './render.ts';

let stdoutGuarded = false;

function writeStdout(text: string): void {
  if (!text) return;
  if (!stdoutGuarded) {
    stdoutGuarded = true;
    // `certgate ... | head -1`: a closed pipe ends the output quietly, as in az.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  process.stdout.write(text);
}

/**
 * Wraps a commander action for a command that has the global options: the --query is checked
 * before the handler runs (exit code 2 if it is not JMESPath), the handler's return value is
 * printed with --output and --query, and an error it throws is printed as `ERROR: ...` with az's
 * exit code (set as process.exitCode). The handler receives commander's arguments unchanged.
 */
export function outputAction<Args extends unknown[]>(
  handler: (...args: Args) => unknown,
  options: Pick<RenderOptions, 'tableTransformer'> = {},
): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    const command = args.at(-1);
    if (!(command instanceof Command)) throw new TypeError('outputAction: the last action argument must be the Command');
    const global = globalOptions(command);
    const log = cliLogger(global);
    const started = performance.now();
    try {
      const query = global.query ? compileQuery(global.query) : undefined;
      const result = await handler(...args);
      writeStdout(renderOutput(result, { output: global.output, query, ...options }));
    } catch (error) {
      process.exitCode = reportError(error, { debug: global.debug });
    }
    log.info(`Command ran in ${((performance.now() - started) / 1000).toFixed(3)} seconds`);
  };
}
