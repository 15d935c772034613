// `certgate containerapp ingress ...`: show/enable/update/disable, and az's subgroups for IP access
// restrictions, CORS, sticky sessions and traffic. Each sends the PATCH az would send; the
// management API refuses what the ingress does not enforce (docs/ingress.md, Ingress settings).
import { Command, InvalidArgumentError, Option } from 'commander';
import { CLIENT_CERTIFICATE_MODES, TRANSPORTS, VERIFICATION_MEMBERS } from '../model/ingress.ts';
import { CliError } from './errors.ts';
import { enumOption, parseBoolean } from './options.ts';
import { appCommand, getApp, getIngress, patchIngress, type AppOptions, type Ingress } from './containerapp-common.ts';

export interface IngressOptions {
  type?: 'external' | 'internal';
  targetPort?: number;
  exposedPort?: number;
  transport?: string;
  allowInsecure?: boolean;
  clientCertificateMode?: string;
  targetHost?: string;
}

const parsePort = (value: string) => {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new InvalidArgumentError('expected a port from 1 to 65535.');
  return port;
};
const parseCount = (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number of seconds.');
  return Number(value);
};

export function ingressOptions(command: Command, forCreate: boolean): Command {
  return command
    .addOption(enumOption(forCreate ? '--ingress <type>' : '--type <type>', 'The ingress type: reachable from outside the environment or not.', ['external', 'internal']))
    .addOption(new Option('--target-port <port>', 'The port the app listens on.').argParser(parsePort))
    .addOption(new Option('--exposed-port <port>', 'Additional exposed port (tcp transport only).').argParser(parsePort))
    .addOption(enumOption('--transport <transport>', 'Transport protocol.', TRANSPORTS))
    .addOption(new Option('--allow-insecure [bool]', 'Also serve plain HTTP (else HTTP redirects to HTTPS).').argParser(parseBoolean))
    .addOption(enumOption('--client-certificate-mode <mode>', 'Client certificates: ignore (never asked), accept (asked, optional), require (handshake fails without).', CLIENT_CERTIFICATE_MODES))
    .addOption(new Option('--target-host <host>', 'Host the app listens on (certgate; default 127.0.0.1).'));
}

export function ingressPatch(options: IngressOptions & { ingress?: 'external' | 'internal' }): Ingress {
  const type = options.type ?? options.ingress;
  const patch: Ingress = {};
  if (type !== undefined) patch['external'] = type === 'external';
  if (options.targetPort !== undefined) patch['targetPort'] = options.targetPort;
  if (options.exposedPort !== undefined) patch['exposedPort'] = options.exposedPort;
  if (options.transport !== undefined) patch['transport'] = options.transport;
  // `--allow-insecure` alone means true, as in az.
  if (options.allowInsecure !== undefined) patch['allowInsecure'] = options.allowInsecure;
  if (options.clientCertificateMode !== undefined) patch['clientCertificateMode'] = options.clientCertificateMode;
  if (options.targetHost !== undefined) patch['targetHost'] = options.targetHost;
  return patch;
}

export function ingressCommand(): Command {
  const ingress = new Command('ingress').description("Manage a container app's ingress, including its client-certificate mode.");

  ingress.addCommand(
    appCommand("show", "Show a container app's ingress.", 'certgate containerapp ingress show -n shop -g demo --query clientCertificateMode -o tsv', (c) => c, (session, options) => getIngress(session, options)),
  );

  ingress.addCommand(
    appCommand<AppOptions & IngressOptions>(
      'enable',
      "Enable (or replace) a container app's ingress.",
      'certgate containerapp ingress enable -n shop -g demo --type external --target-port 3000 --client-certificate-mode accept',
      (c) => ingressOptions(c, false),
      async (session, options) => {
        if (!options.type || options.targetPort === undefined) throw new CliError('--type and --target-port are required.', { kind: 'usage' });
        return patchIngress(session, options, ingressPatch(options));
      },
    ),
  );

  ingress.addCommand(
    appCommand<AppOptions & IngressOptions>(
      'update',
      "Update a container app's ingress (only the options given change).",
      'certgate containerapp ingress update -n shop -g demo --client-certificate-mode require --allow-insecure false',
      (c) => ingressOptions(c, false),
      async (session, options) => {
        const patch = ingressPatch(options);
        if (Object.keys(patch).length === 0) throw new CliError('Nothing to update: give at least one ingress option.', { kind: 'usage' });
        await getIngress(session, options);
        return patchIngress(session, options, patch);
      },
    ),
  );

  ingress.addCommand(
    appCommand("disable", "Disable a container app's ingress.", 'certgate containerapp ingress disable -n shop -g demo', (c) => c, async (session, options) => {
      await patchIngress(session, options, null);
      return undefined;
    }),
  );

  ingress.addCommand(accessRestrictionCommand());
  ingress.addCommand(corsCommand());
  ingress.addCommand(stickySessionsCommand());
  ingress.addCommand(trafficCommand());
  ingress.addCommand(verificationCommand());
  return ingress;
}

interface VerificationOptions extends AppOptions {
  trustAnchors?: string[];
  intermediates?: string[];
  crls?: string[];
  validationMode?: string;
  revocationMode?: string;
  onlineRevocation?: string;
  allowThumbprints?: string[];
  allowSpki?: string[];
  allowSubjects?: string[];
  allowSans?: string[];
}


/** certgate: client-certificate verification at the edge (docs/ingress.md, Client-certificate verification). */
function verificationCommand(): Command {
  const group = new Command('verification').description("Verify client certificates at the ingress (certgate extension): trust anchors, intermediates, CRLs, allow-lists.");
  const verificationOf = (ingress: Ingress | undefined) => Object.fromEntries(VERIFICATION_MEMBERS.filter((member) => ingress?.[member] !== undefined).map((member) => [member, ingress![member]]));
  group.addCommand(
    appCommand<VerificationOptions>(
      'set',
      'Set the verification policy (replacing any). Certificates are named as in the environment (or by resource id).',
      'certgate containerapp ingress verification set -n shop -g demo --trust-anchors devices-root --crls devices-root-crl',
      (c) =>
        c
          .addOption(new Option('--trust-anchors <names...>', 'Environment certificates of type ClientCertificateTrustAnchor.'))
          .addOption(new Option('--intermediates <names...>', 'Environment certificates of type ClientCertificateIntermediate.'))
          .addOption(new Option('--crls <names...>', 'Environment certificates of type ClientCertificateRevocationList.'))
          .addOption(enumOption('--validation-mode <mode>', 'AllowValidOnly (default): refuse bad certificates; AllowInsecureFallback (mode accept): forward with the verdict.', ['AllowValidOnly', 'AllowInsecureFallback']))
          .addOption(enumOption('--revocation-mode <mode>', 'When revocation status cannot be learned: HardFail (default) refuses, SoftFail serves, RequireCrl also refuses an issuer no CRL covers.', ['HardFail', 'SoftFail', 'RequireCrl']))
          .addOption(enumOption('--online-revocation <source>', "Off (default): uploaded CRLs only; Crl: fetch the certificate's CRL distribution points; Ocsp: ask its OCSP responder.", ['Off', 'Crl', 'Ocsp']))
          .addOption(new Option('--allow-thumbprints <sha256...>', 'Only these leaf SHA-256 thumbprints (pins; work without anchors).'))
          .addOption(new Option('--allow-spki <sha256...>', 'Only these public-key (SPKI) SHA-256 hashes.'))
          .addOption(new Option('--allow-subjects <subjects...>', 'Only these leaf subjects (e.g. "CN=device-42, O=Contoso").'))
          .addOption(new Option('--allow-sans <names...>', 'Only leaves with one of these names: dns:…, uri:… (a final /* is a prefix), email:…, ip:….')),
      async (session, options) => {
        const app = await getApp(session, options);
        if (!app.properties.configuration.ingress) throw new CliError(`The ingress of '${options.name}' is disabled; use 'containerapp ingress enable'.`, { code: 'IngressDisabled' });
        const ids = (names: string[] | undefined) => names?.map((name) => (name.includes('/') ? name : `${app.properties.managedEnvironmentId}/certificates/${name}`));
        const allow: Ingress = {};
        if (options.allowThumbprints) allow['thumbprints'] = options.allowThumbprints;
        if (options.allowSpki) allow['spkiSha256'] = options.allowSpki;
        if (options.allowSubjects) allow['subjects'] = options.allowSubjects;
        if (options.allowSans) allow['sans'] = options.allowSans;
        const policy: Ingress = {
          clientCertificateTrustAnchors: ids(options.trustAnchors) ?? null,
          clientCertificateIntermediates: ids(options.intermediates) ?? null,
          clientCertificateRevocationLists: ids(options.crls) ?? null,
          clientCertificateValidationMode: options.validationMode ?? null,
          clientCertificateRevocationMode: options.revocationMode ?? null,
          clientCertificateOnlineRevocation: options.onlineRevocation ?? null,
          // Each list null first (merge-patch): a list left out of the new policy must not survive from the old one.
          clientCertificateAllow: Object.keys(allow).length === 0 ? null : { thumbprints: null, spkiSha256: null, subjects: null, sans: null, ...allow },
        };
        if (Object.values(policy).every((value) => value === null)) throw new CliError('Nothing to set: give --trust-anchors or an --allow-* list.', { kind: 'usage' });
        return verificationOf(await patchIngress(session, options, policy));
      },
    ),
  );
  group.addCommand(appCommand('show', 'Show the verification policy.', 'certgate containerapp ingress verification show -n shop -g demo', (c) => c, async (session, options) => verificationOf(await getIngress(session, options))));
  group.addCommand(
    appCommand('remove', 'Remove the verification policy (back to forwarding whatever the client sent, as ACA).', 'certgate containerapp ingress verification remove -n shop -g demo', (c) => c, async (session, options) => {
      await getIngress(session, options);
      await patchIngress(session, options, Object.fromEntries(VERIFICATION_MEMBERS.map((member) => [member, null])));
      return undefined;
    }),
  );
  return group;
}

interface IpRule {
  name: string;
  description?: string;
  ipAddressRange: string;
  action: string;
}

function accessRestrictionCommand(): Command {
  const group = new Command('access-restriction').description('Manage IP access restrictions (ingress.ipSecurityRestrictions).');
  const rulesOf = (ingress: Ingress) => (ingress['ipSecurityRestrictions'] as IpRule[] | undefined) ?? [];
  const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

  group.addCommand(
    appCommand<AppOptions & { ruleName: string; ipAddress: string; action: string; description?: string }>(
      'set',
      'Add an IP access restriction rule, or replace the rule of that name.',
      'certgate containerapp ingress access-restriction set -n shop -g demo --rule-name office --ip-address 10.0.0.0/8 --action Allow',
      (c) =>
        c
          .requiredOption('--rule-name <name>', 'Name of the rule.')
          .requiredOption('--ip-address <range>', 'IP address or range in CIDR notation (e.g. 10.0.0.0/8).')
          .addOption(enumOption('--action <action>', 'Allow: only the ranges of Allow rules get in; Deny: the ranges of Deny rules are kept out. All rules share one action.', ['Allow', 'Deny']).makeOptionMandatory())
          .option('--description <text>', 'Description of the rule.'),
      async (session, options) => {
        const rules = rulesOf(await getIngress(session, options));
        const rule: IpRule = { name: options.ruleName, ipAddressRange: options.ipAddress, action: options.action, ...(options.description === undefined ? {} : { description: options.description }) };
        const index = rules.findIndex((existing) => sameName(existing.name, options.ruleName));
        const next = index < 0 ? [...rules, rule] : rules.map((existing, i) => (i === index ? rule : existing));
        return rulesOf((await patchIngress(session, options, { ipSecurityRestrictions: next })) ?? {});
      },
    ),
  );

  group.addCommand(
    appCommand<AppOptions & { ruleName: string }>(
      'remove',
      'Remove an IP access restriction rule.',
      'certgate containerapp ingress access-restriction remove -n shop -g demo --rule-name office',
      (c) => c.requiredOption('--rule-name <name>', 'Name of the rule.'),
      async (session, options) => {
        const rules = rulesOf(await getIngress(session, options));
        const next = rules.filter((rule) => !sameName(rule.name, options.ruleName));
        if (next.length === rules.length) throw new CliError(`The container app '${options.name}' has no IP access restriction rule named '${options.ruleName}'.`, { code: 'RuleNotFound' });
        return rulesOf((await patchIngress(session, options, { ipSecurityRestrictions: next })) ?? {});
      },
    ),
  );

  group.addCommand(
    appCommand('list', 'List the IP access restriction rules.', 'certgate containerapp ingress access-restriction list -n shop -g demo -o table', (c) => c, async (session, options) => rulesOf(await getIngress(session, options))),
  );
  return group;
}

interface CorsOptions extends AppOptions {
  allowedOrigins?: string[];
  allowedMethods?: string[];
  allowedHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: number;
  allowCredentials?: boolean;
}

function corsCommand(): Command {
  const group = new Command('cors').description("Manage a container app's CORS policy (ingress.corsPolicy), answered by the ingress.");
  const corsOptions = (command: Command, originsRequired: boolean) => {
    const origins = new Option('--allowed-origins <origins...>', 'Space-separated origins allowed (e.g. https://shop.example; * for any).');
    return command
      .addOption(originsRequired ? origins.makeOptionMandatory() : origins)
      .addOption(new Option('--allowed-methods <methods...>', 'Space-separated HTTP methods allowed.'))
      .addOption(new Option('--allowed-headers <headers...>', 'Space-separated request headers allowed.'))
      .addOption(new Option('--expose-headers <headers...>', 'Space-separated response headers exposed to scripts.'))
      .addOption(new Option('--max-age <seconds>', 'How long a preflight answer may be cached.').argParser(parseCount))
      .addOption(new Option('--allow-credentials [bool]', 'Allow credentialed requests (not with origin *).').argParser(parseBoolean));
  };
  const policyOf = (options: CorsOptions): Ingress => {
    const policy: Ingress = {};
    if (options.allowedOrigins) policy['allowedOrigins'] = options.allowedOrigins;
    if (options.allowedMethods) policy['allowedMethods'] = options.allowedMethods;
    if (options.allowedHeaders) policy['allowedHeaders'] = options.allowedHeaders;
    if (options.exposeHeaders) policy['exposeHeaders'] = options.exposeHeaders;
    if (options.maxAge !== undefined) policy['maxAge'] = options.maxAge;
    if (options.allowCredentials !== undefined) policy['allowCredentials'] = options.allowCredentials;
    return policy;
  };
  const corsOf = (ingress: Ingress | undefined) => ingress?.['corsPolicy'];

  group.addCommand(
    appCommand<CorsOptions>(
      'enable',
      'Set the CORS policy (replacing any).',
      'certgate containerapp ingress cors enable -n shop -g demo --allowed-origins https://shop.example --allowed-methods GET POST --max-age 600',
      (c) => corsOptions(c, true),
      async (session, options) => {
        await getIngress(session, options);
        // null first: members left out of the new policy must not survive from the old one.
        return corsOf(await patchIngress(session, options, { corsPolicy: { allowedMethods: null, allowedHeaders: null, exposeHeaders: null, maxAge: null, allowCredentials: null, ...policyOf(options) } }));
      },
    ),
  );

  group.addCommand(
    appCommand<CorsOptions>(
      'update',
      'Change members of the CORS policy (only the options given change).',
      'certgate containerapp ingress cors update -n shop -g demo --allowed-headers content-type',
      (c) => corsOptions(c, false),
      async (session, options) => {
        const policy = policyOf(options);
        if (Object.keys(policy).length === 0) throw new CliError('Nothing to update: give at least one CORS option.', { kind: 'usage' });
        if (!corsOf(await getIngress(session, options))) throw new CliError(`CORS is not enabled on '${options.name}'; use 'containerapp ingress cors enable'.`, { code: 'CorsDisabled' });
        return corsOf(await patchIngress(session, options, { corsPolicy: policy }));
      },
    ),
  );

  group.addCommand(
    appCommand('disable', 'Remove the CORS policy.', 'certgate containerapp ingress cors disable -n shop -g demo', (c) => c, async (session, options) => {
      await getIngress(session, options);
      await patchIngress(session, options, { corsPolicy: null });
      return undefined;
    }),
  );

  group.addCommand(appCommand('show', 'Show the CORS policy.', 'certgate containerapp ingress cors show -n shop -g demo', (c) => c, async (session, options) => corsOf(await getIngress(session, options))));
  return group;
}

function stickySessionsCommand(): Command {
  const group = new Command('sticky-sessions').description('Manage session affinity (ingress.stickySessions).');
  group.addCommand(
    appCommand<AppOptions & { affinity: string }>(
      'set',
      'Set the session affinity.',
      'certgate containerapp ingress sticky-sessions set -n shop -g demo --affinity none',
      (c) => c.addOption(enumOption('--affinity <affinity>', 'sticky: a client keeps its replica; none: no affinity.', ['sticky', 'none']).makeOptionMandatory()),
      async (session, options) => {
        await getIngress(session, options);
        return (await patchIngress(session, options, { stickySessions: { affinity: options.affinity } }))?.['stickySessions'];
      },
    ),
  );
  group.addCommand(
    appCommand('show', 'Show the session affinity.', 'certgate containerapp ingress sticky-sessions show -n shop -g demo', (c) => c, async (session, options) => (await getIngress(session, options))['stickySessions'] ?? { affinity: 'none' }),
  );
  return group;
}

/** `latest=100` and `<revision>=<weight>` as az takes them for --revision-weight. */
function parseWeights(values: readonly string[]): Ingress[] {
  return values.map((value) => {
    const match = /^([^=]+)=(\d{1,3})$/.exec(value);
    if (!match || Number(match[2]) > 100) throw new CliError(`'${value}' is not <revision>=<weight>: give latest=100 or a revision name and a weight from 0 to 100.`, { kind: 'usage' });
    const weight = Number(match[2]);
    return match[1]!.toLowerCase() === 'latest' ? { latestRevision: true, weight } : { revisionName: match[1], weight };
  });
}

function trafficCommand(): Command {
  const group = new Command('traffic').description("Manage the app's traffic weights (certgate runs one revision per app: latest=100).");
  group.addCommand(
    appCommand<AppOptions & { revisionWeight?: string[]; labelWeight?: string[] }>(
      'set',
      'Set the traffic weights of revisions.',
      'certgate containerapp ingress traffic set -n shop -g demo --revision-weight latest=100',
      (c) =>
        c
          .addOption(new Option('--revision-weight <weights...>', "Space-separated <revision>=<weight>; 'latest' names the latest revision."))
          .addOption(new Option('--label-weight <weights...>', 'Space-separated <label>=<weight> (certgate has no revision labels: refused).')),
      async (session, options) => {
        if (options.labelWeight) throw new CliError('certgate has no revision labels: use --revision-weight latest=100.', { code: 'LabelsNotSupported' });
        if (!options.revisionWeight) throw new CliError('Give --revision-weight.', { kind: 'usage' });
        await getIngress(session, options);
        return (await patchIngress(session, options, { traffic: parseWeights(options.revisionWeight) }))?.['traffic'] ?? [];
      },
    ),
  );
  group.addCommand(
    appCommand('show', 'Show the traffic weights.', 'certgate containerapp ingress traffic show -n shop -g demo', (c) => c, async (session, options) => (await getIngress(session, options))['traffic'] ?? [{ latestRevision: true, weight: 100 }]),
  );
  return group;
}
