// What a resource command needs: the logged-in management client and the subscription to use
// (--subscription by id or display name, else the profile's default).
import type { Command } from 'commander';
import { CliError } from './errors.ts';
import { ManagementClient } from './management-client.ts';
import { globalOptions } from './output.ts';
import { loadProfile } from './profile.ts';

export const RESOURCE_MANAGER_VERSION = '2021-04-01';
/** The Microsoft.App api-version the CLI speaks (as az 2.74 does). */
export const APP_VERSION = '2025-01-01';

export interface Session {
  readonly client: ManagementClient;
  readonly subscription: string;
}

export async function openSession(command: Command): Promise<Session> {
  const client = new ManagementClient(await loadProfile());
  const wanted = globalOptions(command).subscription;
  if (!wanted) return { client, subscription: client.profile.subscriptionId };
  if (/^[0-9a-f-]{36}$/i.test(wanted)) return { client, subscription: wanted };
  const list = await client.arm('GET', `/subscriptions?api-version=${RESOURCE_MANAGER_VERSION}`);
  const match = (list.json as { value: { subscriptionId: string; displayName: string }[] }).value.find((s) => s.displayName === wanted);
  if (!match) throw new CliError(`Subscription '${wanted}' not found. Check the spelling and casing and try again.`, { code: 'SubscriptionNotFound' });
  return { client, subscription: match.subscriptionId };
}

/** Runs `work` with a session and closes the client afterwards. */
export async function withSession<T>(command: Command, work: (session: Session) => Promise<T>): Promise<T> {
  const session = await openSession(command);
  try {
    return await work(session);
  } finally {
    await session.client.close();
  }
}

export function groupPath(subscription: string, group: string): string {
  return `/subscriptions/${subscription}/resourceGroups/${encodeURIComponent(group)}`;
}

export function appPath(subscription: string, group: string, name: string): string {
  return `${groupPath(subscription, group)}/providers/Microsoft.App/containerApps/${encodeURIComponent(name)}`;
}

export function environmentPath(subscription: string, group: string, name: string): string {
  return `${groupPath(subscription, group)}/providers/Microsoft.App/managedEnvironments/${encodeURIComponent(name)}`;
}

/** Lists follow nextLink until the end, as az does. */
export async function listAll(client: ManagementClient, path: string): Promise<unknown[]> {
  const items: unknown[] = [];
  let next: string | undefined = path;
  while (next) {
    const page = (await client.arm('GET', next)).json as { value: unknown[]; nextLink?: string };
    items.push(...page.value);
    next = page.nextLink;
  }
  return items;
}

/** az asks before deleting; without a terminal to ask on, --yes is required. */
export async function confirmDelete(what: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) {
    throw new CliError(`Deleting ${what} needs confirmation: pass --yes.`, { kind: 'usage' });
  }
  const { createInterface } = await import('node:readline/promises');
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await prompt.question(`Are you sure you want to delete ${what}? (y/n): `);
  prompt.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('Operation cancelled.', { kind: 'error' });
}

export function parseTags(values: string[] | undefined): Record<string, string> | undefined {
  if (!values) return undefined;
  const tags: Record<string, string> = {};
  for (const value of values) {
    const equals = value.indexOf('=');
    if (equals === 0) throw new CliError(`Tag '${value}' has no name.`, { kind: 'usage' });
    if (equals < 0) tags[value] = '';
    else tags[value.slice(0, equals)] = value.slice(equals + 1);
  }
  return tags;
}
