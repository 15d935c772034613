// What the `containerapp` subcommands share: the app's options, and reading and patching its
// ingress with the ARM merge PATCH az sends (arrays are replaced whole, `null` removes a member).
import { Command } from 'commander';
import { CliError } from './errors.ts';
import { addGlobalOptions, outputAction } from './output.ts';
import { APP_VERSION, appPath, withSession, type Session } from './session.ts';

export const V = `api-version=${APP_VERSION}`;

export interface AppOptions {
  name: string;
  resourceGroup: string;
}

export type Ingress = Record<string, unknown>;

export function appOptions(command: Command): Command {
  return command.requiredOption('-n, --name <name>', 'Name of the container app.').requiredOption('-g, --resource-group <group>', 'Name of the resource group.');
}

export function appUrl(session: Session, options: AppOptions): string {
  return `${appPath(session.subscription, options.resourceGroup, options.name)}?${V}`;
}

export interface AppDocument {
  id: string;
  properties: { managedEnvironmentId: string; configuration: { ingress?: Ingress } };
}

export async function getApp(session: Session, options: AppOptions): Promise<AppDocument> {
  return (await session.client.arm('GET', appUrl(session, options))).json as AppDocument;
}

/** The app's ingress; an app without one is an error (as az: its ingress settings need an ingress). */
export async function getIngress(session: Session, options: AppOptions): Promise<Ingress> {
  const ingress = (await getApp(session, options)).properties.configuration.ingress;
  if (!ingress) throw new CliError(`The ingress of '${options.name}' is disabled; use 'containerapp ingress enable'.`, { code: 'IngressDisabled' });
  return ingress;
}

/** PATCHes `properties.configuration.ingress` and returns the ingress the server answered with. */
export async function patchIngress(session: Session, options: AppOptions, ingress: Ingress | null): Promise<Ingress | undefined> {
  const app = (await session.client.arm('PATCH', appUrl(session, options), { properties: { configuration: { ingress } } })).json as AppDocument;
  return app.properties.configuration.ingress;
}

/** A subcommand of an app: -n/-g, the global options, its examples, and an action that gets a session. */
export function appCommand<O extends AppOptions>(name: string, description: string, example: string, configure: (command: Command) => Command, work: (session: Session, options: O) => Promise<unknown>): Command {
  return addGlobalOptions(configure(appOptions(new Command(name).description(description))).addHelpText('after', `\nExamples:\n  ${example}\n`)).action(
    outputAction(async (options: O, command: Command) => withSession(command, (session) => work(session, options))),
  );
}

/** A managed certificate's default name (`env certificate create`, `hostname bind --validation-method`): `mc-<hostname>`, dots as hyphens, within a resource name's 64 characters. */
export function managedCertificateName(hostname: string): string {
  return `mc-${hostname.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 64).replace(/-+$/, '');
}
