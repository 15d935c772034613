// `certgate containerapp hostname add/bind/list/delete`: an app's custom domains
// (ingress.customDomains) without hand-written JSON, as in az. `add` records the name unbound
// (bindingType Disabled); `bind` serves it by SNI with an environment certificate.
import { Command } from 'commander';
import { CliError } from './errors.ts';
import { appCommand, getApp, managedCertificateName, patchIngress, type AppDocument, type AppOptions } from './containerapp-common.ts';
import { APP_VERSION, confirmDelete, environmentPath, type Session } from './session.ts';

interface CustomDomain {
  name: string;
  bindingType?: string;
  certificateId?: string;
}

interface HostnameOptions extends AppOptions {
  hostname: string;
}

const domainsOf = (app: AppDocument | { properties: { configuration: { ingress?: Record<string, unknown> } } }) =>
  ((app.properties.configuration.ingress?.['customDomains'] as CustomDomain[] | undefined) ?? []);
const sameHost = (a: string, b: string) => a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

async function appWithIngress(session: Session, options: AppOptions): Promise<AppDocument> {
  const app = await getApp(session, options);
  if (!app.properties.configuration.ingress) throw new CliError(`The ingress of '${options.name}' is disabled; custom domains need one ('containerapp ingress enable').`, { code: 'IngressDisabled' });
  return app;
}

async function setDomains(session: Session, options: AppOptions, domains: CustomDomain[]): Promise<CustomDomain[]> {
  const ingress = await patchIngress(session, options, { customDomains: domains });
  return (ingress?.['customDomains'] as CustomDomain[] | undefined) ?? [];
}

/** A certificate given by resource id, or by name in `--environment` (default: the app's environment). */
async function certificateId(session: Session, options: HostnameOptions & { certificate: string; environment?: string }, app: AppDocument): Promise<string> {
  if (options.certificate.startsWith('/subscriptions/')) return options.certificate;
  const environment = options.environment === undefined
    ? app.properties.managedEnvironmentId
    : options.environment.startsWith('/subscriptions/')
      ? options.environment
      : environmentPath(session.subscription, options.resourceGroup, options.environment);
  return `${environment.replace(/\/+$/, '')}/certificates/${encodeURIComponent(options.certificate)}`;
}

/** A managed certificate for `--hostname` in the app's environment (az's `hostname bind --validation-method`): its id. */
async function createManagedCertificate(session: Session, options: HostnameOptions, app: AppDocument, validationMethod: string): Promise<string> {
  const environment = app.properties.managedEnvironmentId.replace(/\/+$/, '');
  const env = (await session.client.arm('GET', `${environment}?api-version=${APP_VERSION}`)).json as { location: string };
  const name = managedCertificateName(options.hostname);
  const put = await session.client.arm('PUT', `${environment}/managedCertificates/${encodeURIComponent(name)}?api-version=${APP_VERSION}`, {
    location: env.location,
    properties: { subjectName: options.hostname, domainControlValidation: validationMethod.toUpperCase() },
  });
  return (put.json as { id: string }).id;
}

export function hostnameCommand(): Command {
  const hostname = new Command('hostname').description("Manage a container app's custom domains (hostnames).");

  hostname.addCommand(
    appCommand<HostnameOptions>(
      'add',
      'Add a hostname to a container app without binding a certificate (not served until bound).',
      'certgate containerapp hostname add -n shop -g demo --hostname shop.example.com',
      (c) => c.requiredOption('--hostname <hostname>', 'The custom domain name.'),
      async (session, options) => {
        const domains = domainsOf(await appWithIngress(session, options));
        if (domains.some((domain) => sameHost(domain.name, options.hostname))) {
          throw new CliError(`The hostname '${options.hostname}' is already on '${options.name}'; use 'containerapp hostname bind' to bind a certificate.`, { code: 'HostnameExists' });
        }
        return setDomains(session, options, [...domains, { name: options.hostname, bindingType: 'Disabled' }]);
      },
    ),
  );

  hostname.addCommand(
    appCommand<HostnameOptions & { certificate?: string; environment?: string; validationMethod?: string }>(
      'bind',
      'Add or update a hostname and bind it to an environment certificate (SNI), or to a managed certificate certgate obtains by ACME (--validation-method HTTP).',
      'certgate containerapp hostname bind -n shop -g demo --hostname shop.example.com --certificate shop-cert --environment env1\n' +
        '  certgate containerapp hostname bind -n shop -g demo --hostname shop.example.com --validation-method HTTP',
      (c) =>
        c
          .requiredOption('--hostname <hostname>', 'The custom domain name.')
          .option('--certificate <certificate>', 'Name or resource id of a certificate of the environment.')
          .option('-v, --validation-method <method>', 'Without --certificate: create a managed certificate for the hostname, validated by HTTP (ACME HTTP-01), and bind it (bindingType Auto: served once issued).')
          .option('--environment <environment>', "Name or resource id of the certificate's environment (default: the app's)."),
      async (session, options) => {
        const app = await appWithIngress(session, options);
        if ((options.certificate === undefined) === (options.validationMethod === undefined)) {
          throw new CliError('Give either --certificate (an environment certificate) or --validation-method HTTP (a managed certificate).');
        }
        const bound: CustomDomain =
          options.certificate !== undefined
            ? { name: options.hostname, bindingType: 'SniEnabled', certificateId: await certificateId(session, { ...options, certificate: options.certificate }, app) }
            : { name: options.hostname, bindingType: 'Auto', certificateId: await createManagedCertificate(session, options, app, options.validationMethod!) };
        const domains = domainsOf(app);
        const index = domains.findIndex((domain) => sameHost(domain.name, options.hostname));
        return setDomains(session, options, index < 0 ? [...domains, bound] : domains.map((domain, i) => (i === index ? bound : domain)));
      },
    ),
  );

  hostname.addCommand(
    appCommand('list', 'List the hostnames of a container app.', 'certgate containerapp hostname list -n shop -g demo -o table', (c) => c, async (session, options) => domainsOf(await getApp(session, options))),
  );

  hostname.addCommand(
    appCommand<HostnameOptions & { yes?: boolean }>(
      'delete',
      'Remove a hostname from a container app.',
      'certgate containerapp hostname delete -n shop -g demo --hostname shop.example.com --yes',
      (c) => c.requiredOption('--hostname <hostname>', 'The custom domain name.').option('-y, --yes', 'Do not prompt for confirmation.'),
      async (session, options) => {
        await confirmDelete(`hostname '${options.hostname}' of '${options.name}'`, options.yes);
        const domains = domainsOf(await appWithIngress(session, options));
        const next = domains.filter((domain) => !sameHost(domain.name, options.hostname));
        if (next.length === domains.length) throw new CliError(`The container app '${options.name}' has no hostname '${options.hostname}'.`, { code: 'HostnameNotFound' });
        return setDomains(session, options, next);
      },
    ),
  );
  return hostname;
}
