// `certgate containerapp env ...` and `containerapp env certificate ...`, as in az.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { basename, extname } from 'node:path';
import { Command, Option } from 'commander';
import { CliError } from './errors.ts';
import { managedCertificateName } from './containerapp-common.ts';
import { enumOption } from './options.ts';
import { TRUST_MATERIAL_TYPES } from '../model/trust.ts';

const CERTIFICATE_TYPES = ['ServerSSLCertificate', ...TRUST_MATERIAL_TYPES];
import { addGlobalOptions, outputAction } from './output.ts';
import { APP_VERSION, confirmDelete, environmentPath, groupPath, listAll, parseTags, RESOURCE_MANAGER_VERSION, withSession } from './session.ts';

const V = `api-version=${APP_VERSION}`;

interface EnvOptions {
  name: string;
  resourceGroup: string;
}

export function environmentCommand(): Command {
  const env = new Command('env').description('Manage Container Apps environments (each has a default domain and a wildcard certificate).');

  env.addCommand(
    addGlobalOptions(
      withCustomDomainOptions(
        new Command('create')
          .description('Create a Container Apps environment.')
          .requiredOption('-n, --name <name>', 'Name of the environment.')
          .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
          .option('-l, --location <location>', "Location (default: the resource group's).")
          .addOption(new Option('--tags <tags...>', 'Space-separated tags: key[=value].')),
      ).addHelpText(
        'after',
        '\nExamples:\n  certgate containerapp env create --name env1 --resource-group demo\n' +
          '  certgate containerapp env create -n env1 -g demo --custom-domain-dns-suffix apps.example.com \\\n' +
          '      --custom-domain-certificate-file wildcard.pfx --custom-domain-certificate-password "$PFX_PASSWORD"\n',
      ),
    ).action(
      outputAction(async (options: EnvOptions & CustomDomainOptions & { location?: string; tags?: string[] }, command: Command) => {
        if ((options.customDomainDnsSuffix === undefined) !== (options.customDomainCertificateFile === undefined)) {
          throw new CliError('--custom-domain-dns-suffix and --custom-domain-certificate-file must be given together.');
        }
        const customDomainConfiguration = await customDomainConfigurationOf(options);
        return withSession(command, async ({ client, subscription }) => {
          const location =
            options.location ??
            ((await client.arm('GET', `${groupPath(subscription, options.resourceGroup)}?api-version=${RESOURCE_MANAGER_VERSION}`)).json as { location: string }).location;
          const tags = parseTags(options.tags);
          const properties = customDomainConfiguration ? { customDomainConfiguration } : {};
          return (await client.arm('PUT', `${environmentPath(subscription, options.resourceGroup, options.name)}?${V}`, { location, ...(tags ? { tags } : {}), properties })).json;
        });
      }),
    ),
  );

  env.addCommand(
    addGlobalOptions(
      withCustomDomainOptions(
        new Command('update')
          .description("Update a Container Apps environment (its DNS suffix and wildcard certificate, its tags).")
          .requiredOption('-n, --name <name>', 'Name of the environment.')
          .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
          .addOption(new Option('--tags <tags...>', 'Space-separated tags: key[=value].')),
      ).addHelpText(
        'after',
        '\nExamples:\n  certgate containerapp env update -n env1 -g demo --custom-domain-dns-suffix apps.example.com \\\n' +
          '      --custom-domain-certificate-file wildcard.pfx --custom-domain-certificate-password "$PFX_PASSWORD"\n' +
          '  certgate containerapp env update -n env1 -g demo --custom-domain-certificate-file renewed.pfx --custom-domain-certificate-password "$PFX_PASSWORD"\n',
      ),
    ).action(
      outputAction(async (options: EnvOptions & CustomDomainOptions & { tags?: string[] }, command: Command) => {
        const customDomainConfiguration = await customDomainConfigurationOf(options);
        const tags = parseTags(options.tags);
        if (!customDomainConfiguration && !tags) throw new CliError('Nothing to update: give --custom-domain-dns-suffix, --custom-domain-certificate-file or --tags.');
        // A PATCH, as az sends: members not named keep their values.
        const body = { ...(tags ? { tags } : {}), ...(customDomainConfiguration ? { properties: { customDomainConfiguration } } : {}) };
        return withSession(command, async ({ client, subscription }) => (await client.arm('PATCH', `${environmentPath(subscription, options.resourceGroup, options.name)}?${V}`, body)).json);
      }),
    ),
  );

  env.addCommand(
    addGlobalOptions(
      new Command('show')
        .description('Show details of a Container Apps environment.')
        .requiredOption('-n, --name <name>', 'Name of the environment.')
        .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
        .addHelpText('after', '\nExamples:\n  certgate containerapp env show -n env1 -g demo --query properties.defaultDomain -o tsv\n'),
    ).action(
      outputAction(async (options: EnvOptions, command: Command) =>
        withSession(command, async ({ client, subscription }) => (await client.arm('GET', `${environmentPath(subscription, options.resourceGroup, options.name)}?${V}`)).json),
      ),
    ),
  );

  env.addCommand(
    addGlobalOptions(
      new Command('list')
        .description('List Container Apps environments by subscription or resource group.')
        .option('-g, --resource-group <group>', 'Name of the resource group.')
        .addHelpText('after', '\nExamples:\n  certgate containerapp env list -g demo -o table\n'),
    ).action(
      outputAction(async (options: { resourceGroup?: string }, command: Command) =>
        withSession(command, ({ client, subscription }) =>
          listAll(client, `${options.resourceGroup ? groupPath(subscription, options.resourceGroup) : `/subscriptions/${subscription}`}/providers/Microsoft.App/managedEnvironments?${V}`),
        ),
      ),
    ),
  );

  env.addCommand(
    addGlobalOptions(
      new Command('delete')
        .description('Delete a Container Apps environment (it must have no apps).')
        .requiredOption('-n, --name <name>', 'Name of the environment.')
        .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
        .option('-y, --yes', 'Do not prompt for confirmation.')
        .addHelpText('after', '\nExamples:\n  certgate containerapp env delete -n env1 -g demo --yes\n'),
    ).action(
      outputAction(async (options: EnvOptions & { yes?: boolean }, command: Command) => {
        await confirmDelete(`environment '${options.name}'`, options.yes);
        await withSession(command, ({ client, subscription }) => client.arm('DELETE', `${environmentPath(subscription, options.resourceGroup, options.name)}?${V}`));
        return undefined;
      }),
    ),
  );

  env.addCommand(certificateCommand());
  return env;
}

function certificateCommand(): Command {
  const certificate = new Command('certificate').description('Manage certificates of a Container Apps environment (for custom domains).');

  certificate.addCommand(
    addGlobalOptions(
      new Command('upload')
        .description('Add or update a certificate from a PKCS12 (.pfx/.p12) file, or client-certificate trust material (certgate types: a CA certificate or a CRL, PEM or DER).')
        .requiredOption('-n, --name <name>', 'Name of the environment.')
        .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
        .requiredOption('-f, --certificate-file <file>', 'The PKCS12 file (.pfx or .p12) with the certificate and its key; for trust material the PEM/DER certificate or CRL.')
        .option('-p, --password <password>', 'The PKCS12 file\'s password.', '')
        .option('-c, --certificate-name <name>', 'Name of the certificate resource (default: from the file name).')
        .addOption(enumOption('--certificate-type <type>', 'ServerSSLCertificate (a PKCS12, the default) or certgate trust material for client-certificate verification.', CERTIFICATE_TYPES))
        .addHelpText(
          'after',
          '\nExamples:\n  certgate containerapp env certificate upload -g demo -n env1 --certificate-file shop.pfx --password "$PFX_PASSWORD"\n' +
            '  certgate containerapp env certificate upload -g demo -n env1 --certificate-file devices-root.pem --certificate-type ClientCertificateTrustAnchor\n' +
            '  certgate containerapp env certificate upload -g demo -n env1 --certificate-file devices-root.crl --certificate-type ClientCertificateRevocationList\n',
        ),
    ).action(
      outputAction(async (options: EnvOptions & { certificateFile: string; password: string; certificateName?: string; certificateType?: string }, command: Command) => {
        const value = await readCertificateFile(options.certificateFile);
        const name = options.certificateName ?? certificateNameFromFile(options.certificateFile);
        return withSession(command, async ({ client, subscription }) => {
          const envPath = environmentPath(subscription, options.resourceGroup, options.name);
          const env = (await client.arm('GET', `${envPath}?${V}`)).json as { location: string };
          const trust = options.certificateType !== undefined && options.certificateType !== 'ServerSSLCertificate';
          const properties = trust ? { certificateType: options.certificateType, value: value.toString('base64') } : { value: value.toString('base64'), password: options.password };
          return (await client.arm('PUT', `${envPath}/certificates/${encodeURIComponent(name)}?${V}`, { location: env.location, properties })).json;
        });
      }),
    ),
  );

  certificate.addCommand(
    addGlobalOptions(
      new Command('create')
        .description('Create a managed certificate for a custom domain, obtained by ACME (certgate serve --acme-directory); waits until it is issued or failed.')
        .requiredOption('-n, --name <name>', 'Name of the environment.')
        .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
        .requiredOption('--hostname <hostname>', 'The custom domain the certificate is for.')
        .addOption(new Option('-v, --validation-method <method>', 'How control of the domain is proved: HTTP (ACME HTTP-01 on certgate\'s plain-HTTP port).').makeOptionMandatory())
        .option('-c, --certificate-name <name>', 'Name of the managed certificate resource (default: mc-<hostname>).')
        .option('--no-wait', 'Do not wait for the certificate to be issued.')
        .addHelpText('after', '\nExamples:\n  certgate containerapp env certificate create -g demo -n env1 --hostname shop.example.com --validation-method HTTP\n'),
    ).action(
      outputAction(async (options: EnvOptions & { hostname: string; validationMethod: string; certificateName?: string; wait: boolean }, command: Command) => {
        const name = options.certificateName ?? managedCertificateName(options.hostname);
        return withSession(command, async ({ client, subscription }) => {
          const envPath = environmentPath(subscription, options.resourceGroup, options.name);
          const env = (await client.arm('GET', `${envPath}?${V}`)).json as { location: string };
          const path = `${envPath}/managedCertificates/${encodeURIComponent(name)}?${V}`;
          const put = await client.arm('PUT', path, { location: env.location, properties: { subjectName: options.hostname, domainControlValidation: options.validationMethod.toUpperCase() } });
          // As az does: after a 201, the resource is polled until its provisioningState is terminal.
          if (!options.wait || put.status !== 201) return put.json;
          const deadline = Date.now() + MANAGED_CERTIFICATE_TIMEOUT_MS;
          for (;;) {
            await sleep(MANAGED_CERTIFICATE_POLL_MS);
            const got = (await client.arm('GET', path)).json as { properties?: { provisioningState?: string } };
            const state = got.properties?.provisioningState?.toLowerCase();
            if (state === 'succeeded' || state === 'failed' || state === 'canceled' || Date.now() > deadline) return got;
          }
        });
      }),
    ),
  );

  certificate.addCommand(
    addGlobalOptions(
      new Command('list')
        .description('List the certificates of an environment: uploaded ones, then managed ones (as az does).')
        .requiredOption('-n, --name <name>', 'Name of the environment.')
        .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
        .addHelpText('after', '\nExamples:\n  certgate containerapp env certificate list -g demo -n env1 -o table\n'),
    ).action(
      outputAction(async (options: EnvOptions, command: Command) =>
        withSession(command, async ({ client, subscription }) => {
          const envPath = environmentPath(subscription, options.resourceGroup, options.name);
          return [...(await listAll(client, `${envPath}/certificates?${V}`)), ...(await listAll(client, `${envPath}/managedCertificates?${V}`))];
        }),
      ),
    ),
  );

  certificate.addCommand(
    addGlobalOptions(
      new Command('delete')
        .description('Delete a certificate from an environment (it must not be bound to a custom domain).')
        .requiredOption('-n, --name <name>', 'Name of the environment.')
        .requiredOption('-g, --resource-group <group>', 'Name of the resource group.')
        .requiredOption('-c, --certificate <name>', 'Name or resource id of the certificate.')
        .option('-y, --yes', 'Do not prompt for confirmation.')
        .addHelpText('after', '\nExamples:\n  certgate containerapp env certificate delete -g demo -n env1 --certificate shop --yes\n'),
    ).action(
      outputAction(async (options: EnvOptions & { certificate: string; yes?: boolean }, command: Command) => {
        const name = options.certificate.includes('/') ? options.certificate.slice(options.certificate.lastIndexOf('/') + 1) : options.certificate;
        await confirmDelete(`certificate '${name}'`, options.yes);
        await withSession(command, async ({ client, subscription }) => {
          const envPath = environmentPath(subscription, options.resourceGroup, options.name);
          // An id names its collection; a bare name is an uploaded certificate if there is one, else a managed one.
          const byId = options.certificate.toLowerCase().includes('/managedcertificates/') ? 'managedCertificates' : options.certificate.includes('/') ? 'certificates' : undefined;
          const uploaded = byId === undefined ? await client.arm('GET', `${envPath}/certificates/${encodeURIComponent(name)}?${V}`).then(() => true, () => false) : byId === 'certificates';
          await client.arm('DELETE', `${envPath}/${uploaded ? 'certificates' : 'managedCertificates'}/${encodeURIComponent(name)}?${V}`);
        });
        return undefined;
      }),
    ),
  );
  return certificate;
}

interface CustomDomainOptions {
  customDomainDnsSuffix?: string;
  customDomainCertificateFile?: string;
  customDomainCertificatePassword?: string;
}

/** az's options for an environment's own DNS suffix and its wildcard certificate. */
function withCustomDomainOptions(command: Command): Command {
  return command
    .option('--custom-domain-dns-suffix <suffix>', 'The DNS suffix of the environment: its apps are served at <app>.<suffix>.')
    .option('--custom-domain-certificate-file <file>', 'The PKCS12 file (.pfx or .p12) with the wildcard certificate for *.<suffix> and its key.')
    .option('--custom-domain-certificate-password <password>', "The PKCS12 file's password.");
}

/** customDomainConfiguration from the options (undefined when none is given); the file is read here, sent base64. */
async function customDomainConfigurationOf(options: CustomDomainOptions): Promise<Record<string, string> | undefined> {
  if (options.customDomainDnsSuffix === undefined && options.customDomainCertificateFile === undefined) {
    if (options.customDomainCertificatePassword !== undefined) throw new CliError('--custom-domain-certificate-password needs --custom-domain-certificate-file.');
    return undefined;
  }
  const out: Record<string, string> = {};
  if (options.customDomainDnsSuffix !== undefined) out['dnsSuffix'] = options.customDomainDnsSuffix;
  if (options.customDomainCertificateFile !== undefined) {
    out['certificateValue'] = (await readCertificateFile(options.customDomainCertificateFile)).toString('base64');
    out['certificatePassword'] = options.customDomainCertificatePassword ?? '';
  }
  return out;
}

async function readCertificateFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new CliError(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** How long `env certificate create` waits for the directory (az waits up to 20 minutes too), and how often it looks. */
const MANAGED_CERTIFICATE_TIMEOUT_MS = 20 * 60_000;
const MANAGED_CERTIFICATE_POLL_MS = 1_000;

/** az names an uploaded certificate after its file when --certificate-name is not given. */
function certificateNameFromFile(file: string): string {
  return basename(file, extname(file)).toLowerCase().replace(/[^a-z0-9-]/g, '-');
}
