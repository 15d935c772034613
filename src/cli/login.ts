// `certgate login` / `certgate logout`: the profile later commands use.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { ADMIN_CREDENTIALS_FILE, type AdminCredentials } from '../control/admin-credentials.ts';
import { CliError } from './errors.ts';
import { ManagementClient } from './management-client.ts';
import { addGlobalOptions, cliLogger, globalOptions, outputAction } from './output.ts';
import { profilePath, removeProfile, saveProfile, type Profile } from './profile.ts';

interface LoginOptions {
  dataDir?: string;
  endpoint?: string;
  clientId?: string;
  clientSecret?: string;
  ca?: string;
  tenant?: string;
}

export function loginCommand(): Command {
  return addGlobalOptions(
    new Command('login')
      .description("Log in to a certgate management endpoint: with the administrator's credentials from a data dir, or with a service principal.")
      .option('--data-dir <dir>', "certgate's data dir on this machine: use its administrator credentials and CA.")
      .option('--endpoint <url>', 'The management endpoint, e.g. https://127.0.0.1:9443.')
      .option('-u, --client-id <id>', 'The service principal\'s client id.')
      .addOption(new Option('-p, --client-secret <secret>', "The service principal's secret (or CERTGATE_CLIENT_SECRET).").env('CERTGATE_CLIENT_SECRET'))
      .option('--ca <file>', "PEM file of the CA that issued the endpoint's certificate (certgate's <data-dir>/ca/ca.pem).")
      .option('--tenant <id>', 'The tenant id (default: from the endpoint).')
      .addHelpText(
        'after',
        '\nExamples:\n  certgate login --data-dir .certgate\n  certgate login --endpoint https://gateway.example:9443 --client-id "$ID" --client-secret "$SECRET" --ca ca.pem\n',
        ),
    { subscription: false },
  ).action(
    outputAction(async (options: LoginOptions, command: Command) => {
      const log = cliLogger(globalOptions(command));
      const partial = await profileFrom(options);
      const client = new ManagementClient({ ...partial, tenantId: partial.tenantId ?? '', subscriptionId: '' });
      try {
        const list = (await client.arm('GET', '/subscriptions?api-version=2022-12-01')).json as { value: { subscriptionId: string; displayName: string; state: string; tenantId: string }[] };
        const first = list.value[0];
        if (!first) throw new CliError('The endpoint has no subscription this principal can use.', { code: 'NoSubscription' });
        const profile: Profile = { ...partial, tenantId: partial.tenantId ?? first.tenantId, subscriptionId: partial.subscriptionId ?? first.subscriptionId };
        const path = await saveProfile(profile);
        log.info(`Profile saved to ${path}`);
        // What `az login --service-principal` prints.
        return list.value.map((subscription) => ({
          cloudName: 'certgate',
          homeTenantId: subscription.tenantId,
          id: subscription.subscriptionId,
          isDefault: subscription.subscriptionId === profile.subscriptionId,
          managedByTenants: [],
          name: subscription.displayName,
          state: subscription.state,
          tenantId: subscription.tenantId,
          user: { name: profile.clientId, type: 'servicePrincipal' },
        }));
      } finally {
        await client.close();
      }
    }),
  );
}

export function logoutCommand(): Command {
  return addGlobalOptions(new Command('logout').description('Forget the saved login (the profile and its secret).'), { subscription: false }).action(
    outputAction(async (_options: unknown, command: Command) => {
      const removed = await removeProfile();
      if (!removed) cliLogger(globalOptions(command)).warning(`Not logged in (no ${profilePath()}).`);
      return undefined;
    }),
  );
}

async function profileFrom(options: LoginOptions): Promise<Omit<Profile, 'tenantId' | 'subscriptionId'> & { tenantId?: string; subscriptionId?: string }> {
  if (options.dataDir) {
    const path = join(options.dataDir, ADMIN_CREDENTIALS_FILE);
    let credentials: AdminCredentials;
    try {
      credentials = JSON.parse(await readFile(path, 'utf8')) as AdminCredentials;
    } catch (error) {
      throw new CliError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}. Run 'certgate serve --data-dir ${options.dataDir}' once first.`);
    }
    return {
      endpoint: (options.endpoint ?? credentials.endpoint).replace(/\/+$/, ''),
      caPem: await readText(options.ca ?? credentials.caCertificate, 'CA certificate'),
      clientId: credentials.clientId,
      clientSecret: credentials.clientSecret,
      tenantId: credentials.tenantId,
      subscriptionId: credentials.subscriptionId,
    };
  }
  if (!options.endpoint || !options.clientId || !options.clientSecret || !options.ca) {
    throw new CliError('Give --data-dir, or all of --endpoint, --client-id, --client-secret and --ca.', { kind: 'usage' });
  }
  return {
    endpoint: options.endpoint.replace(/\/+$/, ''),
    caPem: await readText(options.ca, 'CA certificate'),
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    ...(options.tenant ? { tenantId: options.tenant } : {}),
  };
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError(`Cannot read the ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
