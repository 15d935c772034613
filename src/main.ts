// The certgate command.
import { Command, CommanderError } from 'commander';
import { serveCommand } from './cli/serve.ts';

const program = new Command('certgate')
  .description('certgate: a client-certificate (mutual TLS) ingress with Azure Container Apps semantics')
  .showHelpAfterError()
  .addCommand(serveCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  process.stderr.write(`ERROR: ${(error as Error).message}\n`);
  process.exit(1);
}
