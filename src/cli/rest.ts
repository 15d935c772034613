// `certgate rest`, as `az rest`: any request to the management endpoint, with the token added.
// URLs copied from Azure's docs (https://management.azure.com/...) go to the configured endpoint.
import { readFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { Command, Option } from 'commander';
import { CliError } from './errors.ts';
import { ManagementClient } from './management-client.ts';
import { addGlobalOptions, cliLogger, globalOptions, outputAction } from './output.ts';
import { enumOption } from './options.ts';
import { loadProfile } from './profile.ts';

const AZURE_RESOURCE_MANAGER = 'https://management.azure.com';

interface RestOptions {
  method: string;
  url?: string;
  uri?: string;
  body?: string;
  headers?: string[];
  uriParameters?: string[];
  skipAuthorizationHeader?: boolean;
}

export function restCommand(): Command {
  return addGlobalOptions(
    new Command('rest')
      .description('Invoke a custom request on the certgate management endpoint.')
      .addOption(enumOption('-m, --method <method>', 'HTTP request method.', ['delete', 'get', 'head', 'options', 'patch', 'post', 'put']).default('get'))
      .option('-u, --url <url>', 'Request URL: absolute on the endpoint, https://management.azure.com/... (sent to the endpoint), or a path starting with /subscriptions.')
      .addOption(new Option('--uri <url>', 'Same as --url.').hideHelp())
      .option('-b, --body <body>', 'Request body: JSON, or @file to read it from a file.')
      .option('--headers <headers...>', 'Space-separated headers in KEY=VALUE form, or a JSON object.')
      .option('--uri-parameters <parameters...>', 'Space-separated query parameters in KEY=VALUE form, or a JSON object.')
      .option('--skip-authorization-header', 'Do not add the Authorization header.')
      .addHelpText(
        'after',
        `
Examples:
  APP_ID=$(certgate containerapp show --name shop --resource-group demo --query id --output tsv)
  certgate rest --method patch --url "https://management.azure.com/$APP_ID?api-version=2025-01-01" \\
    --body '{"properties":{"configuration":{"ingress":{"clientCertificateMode":"require"}}}}'
  certgate rest --url /subscriptions --uri-parameters api-version=2022-12-01 --query "value[].id" -o tsv
`,
      ),
  ).action(
    outputAction(async (options: RestOptions, command: Command) => {
      const log = cliLogger(globalOptions(command));
      const profile = await loadProfile();
      const given = options.url ?? options.uri;
      if (!given) throw new CliError('the following arguments are required: --url/--uri/-u', { kind: 'usage' });
      const url = new URL(resolveUrl(given, profile.endpoint, (note) => log.warning(note)));
      for (const [name, value] of Object.entries(keyValues(options.uriParameters, '--uri-parameters'))) url.searchParams.set(name, value);
      const headers = keyValues(options.headers, '--headers');
      const body = options.body === undefined ? undefined : await readBody(options.body);
      if (body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
        headers['Content-Type'] = 'application/json';
      }
      const client = new ManagementClient(profile);
      try {
        const onEndpoint = url.href.startsWith(`${profile.endpoint}/`) || url.href === profile.endpoint;
        if (!options.skipAuthorizationHeader) {
          if (onEndpoint) headers['Authorization'] = `Bearer ${await client.token()}`;
          // az would offer --resource here; certgate has one token, for its own endpoint, and sends it nowhere else.
          else log.warning(`${url.origin} is not the management endpoint (${profile.endpoint}), so no Authorization header was added (certgate's token is for its endpoint only); if that service needs one, pass it with --headers Authorization=...`);
        }
        const response = await client.send(options.method, url.href, body, headers);
        if (response.status >= 400) {
          throw new CliError(`${STATUS_CODES[response.status] ?? `HTTP ${response.status}`}(${response.text})`, { statusCode: response.status });
        }
        return response.json ?? (response.text === '' ? undefined : response.text);
      } finally {
        await client.close();
      }
    }),
  );
}

export function resolveUrl(given: string, endpoint: string, note: (text: string) => void): string {
  if (given.startsWith('/')) return `${endpoint}${given.replace(/^\/+/, '/')}`;
  if (given.toLowerCase().startsWith(AZURE_RESOURCE_MANAGER)) {
    note(`${AZURE_RESOURCE_MANAGER} is Azure's; sending the request to ${endpoint} instead.`);
    return `${endpoint}${given.slice(AZURE_RESOURCE_MANAGER.length)}`;
  }
  return given;
}

/** az reads --headers and --uri-parameters as KEY=VALUE words or as one JSON object. */
function keyValues(values: string[] | undefined, option: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values ?? []) {
    if (value.trimStart().startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch (error) {
        throw new CliError(`${option}: not valid JSON: ${(error as Error).message}`, { kind: 'usage' });
      }
      for (const [name, item] of Object.entries(parsed as Record<string, unknown>)) out[name] = String(item);
      continue;
    }
    const equals = value.indexOf('=');
    if (equals <= 0) throw new CliError(`${option}: expected KEY=VALUE, got '${value}'.`, { kind: 'usage' });
    out[value.slice(0, equals)] = value.slice(equals + 1);
  }
  return out;
}

async function readBody(body: string): Promise<string> {
  if (!body.startsWith('@')) return body;
  try {
    return await readFile(body.slice(1), 'utf8');
  } catch (error) {
    throw new CliError(`Cannot read the body file ${body.slice(1)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
