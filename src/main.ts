// The certgate command: the gateway, az-style resource commands, and the certificate toolkit.
// Only the module of the command being run is loaded (the gateway and the PKI libraries take a
// few hundred milliseconds to load, which every CLI call would otherwise pay).
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { configureUsageErrors, reportError } from './cli/errors.ts';

interface TopLevelCommand {
  readonly name: string;
  readonly description: string;
  readonly load: () => Promise<Command | Command[]>;
}

const COMMANDS: readonly TopLevelCommand[] = [
  { name: 'serve', description: 'Run the gateway: the HTTPS ingress, plain-HTTP redirects, and the ARM management API', load: async () => (await import('./cli/serve.ts')).serveCommand() },
  { name: 'login', description: 'Log in to a certgate management endpoint', load: async () => (await import('./cli/login.ts')).loginCommand() },
  { name: 'logout', description: 'Forget the saved login', load: async () => (await import('./cli/login.ts')).logoutCommand() },
  { name: 'group', description: 'Manage resource groups', load: async () => (await import('./cli/group.ts')).groupCommand() },
  { name: 'containerapp', description: 'Manage container apps, their ingress and client-certificate mode, and environments', load: async () => (await import('./cli/containerapp.ts')).containerappCommand() },
  { name: 'rest', description: 'Invoke a custom request on the certgate management endpoint', load: async () => (await import('./cli/rest.ts')).restCommand() },
  { name: 'cert', description: 'Certificates for mutual TLS: create a CA, issue, export to PKCS#12, show, verify', load: async () => (await import('./cli/cert.ts')).certCommand() },
  { name: 'echo-app', description: 'Run a demo app that shows what an app behind certgate receives', load: async () => (await import('./cli/echo-app.ts')).echoAppCommand() },
];

const program = new Command('certgate')
  .description('certgate: a client-certificate (mutual TLS) ingress with Azure Container Apps semantics')
  .showHelpAfterError()
  // As `az --version`: certgate's version and the Node.js that runs it (it needs 24).
  .version(versionText(), '--version', 'show the versions of certgate and of the Node.js running it');

const name = process.argv[2] === 'help' ? process.argv[3] : process.argv[2];
const wanted = COMMANDS.find((command) => command.name === name);
for (const command of COMMANDS) {
  // The command being run is loaded in full; the others are listed by name for `certgate --help`.
  program.addCommand(command === wanted ? ((await command.load()) as Command) : new Command(command.name).description(command.description));
}
configureUsageErrors(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  process.exit(reportError(error));
}

function versionText(): string {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `certgate ${version}\nnode     ${process.versions.node}`;
}
