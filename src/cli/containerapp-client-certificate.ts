// `certgate containerapp client-certificate list/show`: the client certificates a container app saw
// (certgate's inventory, a management-API extension: docs/observability.md). Answers "who uses the
// certificate with this thumbprint" (--search) and "which expire within 30 days" (--expiring-within).
import { Command, InvalidArgumentError } from 'commander';
import { appCommand, V, type AppOptions } from './containerapp-common.ts';
import { appPath, listAll } from './session.ts';

/** `30d` or `30` (days), 0 to 99999. */
export function parseDays(value: string): number {
  const match = /^(\d{1,5})d?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a number of days, such as 30d or 30');
  return Number(match[1]);
}

interface ListOptions extends AppOptions {
  expiringWithin?: number;
  search?: string;
}

export function clientCertificateCommand(): Command {
  const command = new Command('client-certificate').description('The client certificates a container app saw on its connections (certgate extension).');
  command.addCommand(
    appCommand<ListOptions>(
      'list',
      'List the client certificates seen by a container app: subject, issuer, validity, first and last seen, connection count, last verdict.',
      'certgate containerapp client-certificate list -n shop -g demo --expiring-within 30d --query "[].{subject:properties.subject, notAfter:properties.notAfter}" -o table',
      (c) =>
        c
          .option('--expiring-within <days>', 'Only certificates whose notAfter is within this many days (30d).', parseDays)
          .option('--search <text>', 'Thumbprint prefix, or part of the subject or of a SAN (case-insensitive).'),
      async (session, options) => {
        const query = new URLSearchParams();
        if (options.expiringWithin !== undefined) query.set('expiringWithinDays', String(options.expiringWithin));
        if (options.search !== undefined) query.set('search', options.search);
        const extra = query.size > 0 ? `&${query.toString()}` : '';
        return listAll(session.client, `${appPath(session.subscription, options.resourceGroup, options.name)}/clientCertificates?${V}${extra}`);
      },
    ),
  );
  command.addCommand(
    appCommand<AppOptions & { thumbprint: string }>(
      'show',
      'Show one client certificate a container app saw, by its SHA-256 thumbprint.',
      'certgate containerapp client-certificate show -n shop -g demo --thumbprint 3f2a...',
      (c) => c.requiredOption('--thumbprint <sha256>', 'The SHA-256 thumbprint (hex).'),
      async (session, options) =>
        (await session.client.arm('GET', `${appPath(session.subscription, options.resourceGroup, options.name)}/clientCertificates/${encodeURIComponent(options.thumbprint.replaceAll(':', '').toLowerCase())}?${V}`)).json,
    ),
  );
  return command;
}
