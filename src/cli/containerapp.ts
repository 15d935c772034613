// `certgate containerapp ...` (apps and their ingress), as in az, plus --target-host (where the app
// listens: certgate runs no containers) and --client-certificate-mode (the option az lacks).
import { Command, Option } from 'commander';
import { CliError } from './errors.ts';
import { addGlobalOptions, outputAction } from './output.ts';
import { environmentCommand } from './containerapp-env.ts';
import { ingressCommand, ingressOptions, ingressPatch, type IngressOptions } from './containerapp-ingress.ts';
import { hostnameCommand } from './containerapp-hostname.ts';
import { type AppOptions, V } from './containerapp-common.ts';
import { appPath, confirmDelete, environmentPath, groupPath, listAll, parseTags, withSession, type Session } from './session.ts';

async function environmentId(session: Session, group: string, environment: string): Promise<{ id: string; location: string }> {
  const path = environment.startsWith('/subscriptions/') ? environment : environmentPath(session.subscription, group, environment);
  const env = (await session.client.arm('GET', `${path}?${V}`)).json as { id: string; location: string };
  return { id: env.id, location: env.location };
}

export function containerappCommand(): Command {
  const containerapp = new Command('containerapp').description('Manage container apps: their ingress and its client-certificate mode.');

  containerapp.addCommand(
    addGlobalOptions(
      ingressOptions(
        new Command('create')
          .description('Create a container app (certgate serves whatever listens at --target-host:--target-port).')
          .requiredOption('-n, --name <name>', 'Name of the container app.')
          .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
          .requiredOption('--environment <environment>', 'Name or resource id of the environment.')
          .option('--image <image>', 'Container image, stored as given (certgate runs no containers).')
          .addOption(new Option('--tags <tags...>', 'Space-separated tags: key[=value].')),
        true,
      ).addHelpText(
        'after',
        '\nExamples:\n  certgate containerapp create -n shop -g demo --environment env1 --ingress external --target-port 3000 --client-certificate-mode require\n',
      ),
    ).action(
      outputAction(async (options: AppOptions & IngressOptions & { environment: string; image?: string; tags?: string[]; ingress?: 'external' | 'internal' }, command: Command) => {
        const ingress = ingressPatch(options);
        if (Object.keys(ingress).length > 0 && options.targetPort === undefined) {
          throw new CliError('--target-port is required when ingress is enabled.', { kind: 'usage' });
        }
        if (Object.keys(ingress).length > 0 && ingress['external'] === undefined) ingress['external'] = false;
        return withSession(command, async (session) => {
          const environment = await environmentId(session, options.resourceGroup, options.environment);
          const tags = parseTags(options.tags);
          const body = {
            location: environment.location,
            ...(tags ? { tags } : {}),
            properties: {
              managedEnvironmentId: environment.id,
              configuration: Object.keys(ingress).length > 0 ? { ingress } : {},
              template: { containers: [{ name: options.name, image: options.image ?? 'mcr.microsoft.com/k8se/quickstart:latest' }] },
            },
          };
          return (await session.client.arm('PUT', `${appPath(session.subscription, options.resourceGroup, options.name)}?${V}`, body)).json;
        });
      }),
    ),
  );

  containerapp.addCommand(
    addGlobalOptions(
      new Command('show')
        .description('Show details of a container app.')
        .requiredOption('-n, --name <name>', 'Name of the container app.')
        .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
        .addHelpText('after', '\nExamples:\n  APP_ID=$(certgate containerapp show --name shop --resource-group demo --query id --output tsv)\n'),
    ).action(
      outputAction(async (options: AppOptions, command: Command) =>
        withSession(command, async ({ client, subscription }) => (await client.arm('GET', `${appPath(subscription, options.resourceGroup, options.name)}?${V}`)).json),
      ),
    ),
  );

  containerapp.addCommand(
    addGlobalOptions(
      new Command('list')
        .description('List container apps by subscription, resource group or environment.')
        .option('-g, --resource-group <group>', 'Name of the resource group.')
        .option('--environment <environment>', 'Only the apps of this environment (name or resource id).')
        .addHelpText('after', '\nExamples:\n  certgate containerapp list -g demo --query "[].{name:name, mode:properties.configuration.ingress.clientCertificateMode}" -o table\n'),
    ).action(
      outputAction(async (options: { resourceGroup?: string; environment?: string }, command: Command) =>
        withSession(command, async ({ client, subscription }) => {
          const scope = options.resourceGroup ? groupPath(subscription, options.resourceGroup) : `/subscriptions/${subscription}`;
          const apps = (await listAll(client, `${scope}/providers/Microsoft.App/containerApps?${V}`)) as { properties: { managedEnvironmentId: string } }[];
          if (!options.environment) return apps;
          const wanted = options.environment.toLowerCase();
          return apps.filter((app) => {
            const id = app.properties.managedEnvironmentId.toLowerCase();
            return id === wanted || id.endsWith(`/managedenvironments/${wanted}`);
          });
        }),
      ),
    ),
  );

  containerapp.addCommand(
    addGlobalOptions(
      new Command('update')
        .description('Update a container app (tags, target host).')
        .requiredOption('-n, --name <name>', 'Name of the container app.')
        .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
        .addOption(new Option('--tags <tags...>', 'Space-separated tags: key[=value] (replace the tags).'))
        .option('--target-host <host>', 'Host the app listens on (certgate).')
        // No --image: certgate runs no containers, and the management API refuses a template change (OperationNotSupported).
        .addHelpText('after', '\nExamples:\n  certgate containerapp update -n shop -g demo --target-host 10.0.0.5\n'),
    ).action(
      outputAction(async (options: AppOptions & { tags?: string[]; targetHost?: string }, command: Command) =>
        withSession(command, async ({ client, subscription }) => {
          const path = `${appPath(subscription, options.resourceGroup, options.name)}?${V}`;
          const patch: Record<string, unknown> = {};
          const tags = parseTags(options.tags);
          if (tags) patch['tags'] = tags;
          const properties: Record<string, unknown> = {};
          if (options.targetHost !== undefined) properties['configuration'] = { ingress: { targetHost: options.targetHost } };
          if (Object.keys(properties).length > 0) patch['properties'] = properties;
          if (Object.keys(patch).length === 0) throw new CliError('Nothing to update: give --tags or --target-host.', { kind: 'usage' });
          return (await client.arm('PATCH', path, patch)).json;
        }),
      ),
    ),
  );

  containerapp.addCommand(
    addGlobalOptions(
      new Command('delete')
        .description('Delete a container app.')
        .requiredOption('-n, --name <name>', 'Name of the container app.')
        .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
        .option('-y, --yes', 'Do not prompt for confirmation.')
        .addHelpText('after', '\nExamples:\n  certgate containerapp delete -n shop -g demo --yes\n'),
    ).action(
      outputAction(async (options: AppOptions & { yes?: boolean }, command: Command) => {
        await confirmDelete(`container app '${options.name}'`, options.yes);
        await withSession(command, ({ client, subscription }) => client.arm('DELETE', `${appPath(subscription, options.resourceGroup, options.name)}?${V}`));
        return undefined;
      }),
    ),
  );

  containerapp.addCommand(ingressCommand());
  containerapp.addCommand(hostnameCommand());
  containerapp.addCommand(environmentCommand());
  return containerapp;
}
