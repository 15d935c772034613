// `certgate group ...`, as `az group ...`.
import { Command, Option } from 'commander';
import { CliError } from './errors.ts';
import { addGlobalOptions, outputAction } from './output.ts';
import { confirmDelete, groupPath, listAll, parseTags, RESOURCE_MANAGER_VERSION, withSession } from './session.ts';

const V = `api-version=${RESOURCE_MANAGER_VERSION}`;

interface GroupName {
  name?: string;
  resourceGroup?: string;
}

/** az's group commands take the group as --name/-n or as --resource-group/-g. */
const GROUP_ALIAS = () => new Option('-g, --resource-group <name>', 'Name of the resource group (same as --name).').hideHelp();

function groupName(options: GroupName): string {
  const name = options.name ?? options.resourceGroup;
  if (!name) throw new CliError('the following arguments are required: --name/-n', { kind: 'usage' });
  return name;
}

export function groupCommand(): Command {
  const group = new Command('group').description('Manage resource groups.');

  group.addCommand(
    addGlobalOptions(
      new Command('create')
        .description('Create a new resource group (or update its tags).')
        .requiredOption('-n, --name <name>', 'Name of the new resource group.')
        .requiredOption('-l, --location <location>', 'Location, e.g. local.')
        .addOption(new Option('--tags <tags...>', 'Space-separated tags: key[=value].'))
        .addHelpText('after', '\nExamples:\n  certgate group create --name demo --location local\n'),
    ).action(
      outputAction(async (options: { name: string; location: string; tags?: string[] }, command: Command) =>
        withSession(command, async ({ client, subscription }) => {
          const tags = parseTags(options.tags);
          return (await client.arm('PUT', `${groupPath(subscription, options.name)}?${V}`, { location: options.location, ...(tags ? { tags } : {}) })).json;
        }),
      ),
    ),
  );

  group.addCommand(
    addGlobalOptions(
      new Command('show')
        .description('Get a resource group.')
        .option('-n, --name <name>', 'Name of the resource group.')
        .addOption(GROUP_ALIAS())
        .addHelpText('after', '\nExamples:\n  certgate group show --name demo --query location --output tsv\n'),
    ).action(
      outputAction(async (options: GroupName, command: Command) =>
        withSession(command, async ({ client, subscription }) => (await client.arm('GET', `${groupPath(subscription, groupName(options))}?${V}`)).json),
      ),
    ),
  );

  group.addCommand(
    addGlobalOptions(
      new Command('list').description('List resource groups.').addHelpText('after', '\nExamples:\n  certgate group list --output table\n'),
    ).action(
      outputAction(async (_options: unknown, command: Command) =>
        withSession(command, ({ client, subscription }) => listAll(client, `/subscriptions/${subscription}/resourcegroups?${V}`)),
      ),
    ),
  );

  group.addCommand(
    addGlobalOptions(
      new Command('delete')
        .description('Delete a resource group and everything in it.')
        .option('-n, --name <name>', 'Name of the resource group.')
        .addOption(GROUP_ALIAS())
        .option('-y, --yes', 'Do not prompt for confirmation.')
        .addHelpText('after', '\nExamples:\n  certgate group delete --name demo --yes\n'),
    ).action(
      outputAction(async (options: GroupName & { yes?: boolean }, command: Command) => {
        const name = groupName(options);
        await confirmDelete(`resource group '${name}' and everything in it`, options.yes);
        await withSession(command, ({ client, subscription }) => client.arm('DELETE', `${groupPath(subscription, name)}?${V}`));
        return undefined;
      }),
    ),
  );
  return group;
}
