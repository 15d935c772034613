// Every member of a managed environment's `properties`, and what certgate does with it. A value that
// claims a network or security behaviour certgate does not provide (an internal environment, no
// public access, peer mTLS, a Key Vault certificate...) is refused with a 400 naming its JSON path: stored and
// ignored, it would leave its author believing the apps are private or encrypted (red team, HIGH).
// A member with no effect on what the ingress does is "stored only", and the docs say so.
// `test/environment-members.test.ts` walks the schema and the `## Environment settings` table of
// docs/management-api.md: a member added to the schema without an entry here fails there.
//
// - enforced: applied by the ingress (`refuse`, when set, names the values it does not apply).
// - refused: the values `refuse` names get a 400; the others are stored only (they change nothing).
// - stored only: kept and returned as given, no effect on the ingress.
// - secret: stored only, and never returned by GET or LIST (as in ACA).
// - read-only: computed by the server; a client may send it back, it is not stored.
import { errors, type ArmError } from '../arm/errors.ts';

export type EnvironmentMemberStatus = 'enforced' | 'refused' | 'stored only' | 'secret' | 'read-only';

export interface EnvironmentMember {
  readonly status: EnvironmentMemberStatus;
  /** One line: what certgate does with it. */
  readonly does: string;
  /** For refused values: the sub-path (from the member, '' for itself) and why, or undefined when accepted. */
  readonly refuse?: (value: unknown) => { at: string; reason: string } | undefined;
  /** A value `refuse` refuses, for the test that sends it, and the JSON path it names below the member. */
  readonly refusedExample?: unknown;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const present = (value: unknown) => value !== undefined && value !== null && value !== '';

/** The first member of `value` outside `allowed` (or set where `allowed` says false) as a refusal. */
function onlyMembers(value: unknown, allowed: Readonly<Record<string, (member: unknown) => boolean>>, reason: (name: string) => string) {
  if (!isObject(value)) return present(value) ? { at: '', reason: 'must be an object' } : undefined;
  for (const [name, member] of Object.entries(value)) {
    if (!present(member)) continue;
    const ok = allowed[name];
    if (!ok || !ok(member)) return { at: `.${name}`, reason: reason(name) };
  }
  return undefined;
}

const isFalse = (value: unknown) => value === false;

/** `{ [outer]: { enabled: false } }` or less; anything else refused with the path of what claims more. */
function disabledFlag(value: unknown, outer: string, reason: string) {
  const refusal = onlyMembers(value, { [outer]: () => true }, () => reason);
  if (refusal) return refusal;
  const nested = onlyMembers(isObject(value) ? value[outer] : undefined, { enabled: isFalse }, () => reason);
  return nested ? { at: `.${outer}${nested.at}`, reason } : undefined;
}
const any = () => true;
const NO_VNET = 'certgate has no virtual network: the apps of an environment are served on the listeners certgate binds (make an app internal with ingress.external false, served only on --internal-bind)';

export const ENVIRONMENT_MEMBERS: Readonly<Record<string, EnvironmentMember>> = {
  vnetConfiguration: {
    status: 'refused',
    does: '`internal: false` or empty: stored only; `internal: true`, a subnet or CIDRs refused (certgate has no virtual network; use `ingress.external: false` per app)',
    refuse: (value) => onlyMembers(value, { internal: isFalse }, (name) => (name === 'internal' ? `an internal environment is not supported: ${NO_VNET}` : `${name} is not supported: ${NO_VNET}`)),
    refusedExample: { internal: true },
  },
  publicNetworkAccess: {
    status: 'refused',
    does: '`Enabled` (or unset): what certgate does (external apps on the external listener); `Disabled` refused',
    refuse: (value) => (typeof value === 'string' && value.toLowerCase() !== 'enabled' ? { at: '', reason: `'${value}' is not supported: certgate serves external apps on the external listener (--bind); make each app internal with ingress.external false` } : undefined),
    refusedExample: 'Disabled',
  },
  peerAuthentication: {
    status: 'refused',
    does: '`mtls.enabled: true` refused (certgate does not authenticate app-to-app traffic); false or empty: stored only',
    refuse: (value) => disabledFlag(value, 'mtls', 'peer mTLS between apps is not provided by certgate (it terminates client TLS at the ingress only)'),
    refusedExample: { mtls: { enabled: true } },
  },
  peerTrafficConfiguration: {
    status: 'refused',
    does: '`encryption.enabled: true` refused (certgate does not encrypt app-to-app traffic); false or empty: stored only',
    refuse: (value) => disabledFlag(value, 'encryption', 'peer traffic encryption between apps is not provided by certgate (the hop from the ingress to the app is as the app configures it)'),
    refusedExample: { encryption: { enabled: true } },
  },
  customDomainConfiguration: {
    status: 'enforced',
    does: "`dnsSuffix` with its wildcard certificate (`certificateValue`, base64 PKCS12 covering `*.<dnsSuffix>`, and `certificatePassword`, both write-only): the apps are also served at `<app>.<dnsSuffix>` with it; `subjectName`, `thumbprint`, `expirationDate` read-only; `certificateKeyVaultProperties` refused (no Key Vault)",
    refuse: (value) =>
      onlyMembers(
        value,
        { dnsSuffix: any, certificateValue: any, certificatePassword: any, customDomainVerificationId: any, subjectName: any, expirationDate: any, thumbprint: any },
        (name) => `${name} is not supported: certgate reads no Key Vault; upload the wildcard certificate as certificateValue (base64 PKCS12) with certificatePassword`,
      ),
    refusedExample: { dnsSuffix: 'apps.example.com', certificateKeyVaultProperties: { keyVaultUrl: 'https://vault.example/secrets/wildcard' } },
  },
  workloadProfiles: {
    status: 'refused',
    does: 'empty, or only the `Consumption` profile az sends by default: stored only; any other profile refused (certgate runs no containers)',
    refuse: (value) => {
      if (!Array.isArray(value) || value.length === 0) return undefined;
      for (const [index, profile] of value.entries()) {
        const consumption = isObject(profile) && Object.keys(profile).every((name) => name === 'name' || name === 'workloadProfileType') && String(profile['workloadProfileType']).toLowerCase() === 'consumption';
        if (!consumption || value.length > 1) return { at: `[${index}]`, reason: 'certgate runs no containers and has no workload profiles: only [{"name": "Consumption", "workloadProfileType": "Consumption"}] (az\'s default) is accepted' };
      }
      return undefined;
    },
    refusedExample: [{ name: 'd4', workloadProfileType: 'D4', minimumCount: 1, maximumCount: 3 }],
  },
  zoneRedundant: {
    status: 'refused',
    does: '`false`: stored only; `true` refused (one certgate process is not zone-redundant)',
    refuse: (value) => (value === true ? { at: '', reason: 'certgate is one process on one host: it is not zone-redundant' } : undefined),
    refusedExample: true,
  },
  appLogsConfiguration: {
    status: 'stored only',
    does: 'stored only: certgate ships no logs to Log Analytics or Azure Monitor (its log is pino JSON on stdout); `logAnalyticsConfiguration.sharedKey` is never returned',
  },
  appInsightsConfiguration: {
    status: 'refused',
    does: 'a `connectionString` refused: certgate sends no telemetry to Application Insights',
    refuse: (value) => onlyMembers(value, {}, () => 'certgate sends no telemetry to Application Insights'),
    refusedExample: { connectionString: 'InstrumentationKey=00000000-0000-0000-0000-000000000000' },
  },
  openTelemetryConfiguration: {
    status: 'refused',
    does: 'any destination or signal refused: certgate exports no OpenTelemetry data',
    refuse: (value) => onlyMembers(value, {}, () => 'certgate exports no OpenTelemetry traces, logs or metrics'),
    refusedExample: { tracesConfiguration: { destinations: ['otlp'] } },
  },
  daprAIInstrumentationKey: { status: 'secret', does: 'secret, stored only: certgate runs no Dapr; never returned' },
  daprAIConnectionString: { status: 'secret', does: 'secret, stored only: certgate runs no Dapr; never returned' },
  kedaConfiguration: {
    status: 'refused',
    does: '`version` (read-only in ACA) stored only; anything else refused (certgate runs no KEDA scalers)',
    refuse: (value) => onlyMembers(value, { version: any }, () => 'certgate runs no KEDA scalers'),
    refusedExample: { scalers: ['http'] },
  },
  daprConfiguration: {
    status: 'refused',
    does: '`version` (read-only in ACA) stored only; anything else refused (certgate runs no Dapr)',
    refuse: (value) => onlyMembers(value, { version: any }, () => 'certgate runs no Dapr sidecars'),
    refusedExample: { enabled: true },
  },
  infrastructureResourceGroup: { status: 'stored only', does: 'stored only: certgate creates no Azure resources' },
  environmentMode: { status: 'stored only', does: 'stored only: no effect on the ingress' },
  ingressConfiguration: { status: 'enforced', does: 'per member, see `## Ingress settings` in docs/ingress.md' },
  certgate: { status: 'enforced', does: 'certgate extension: `stripHeaders` removed from every request to the apps (see Environment extensions)' },
  provisioningState: { status: 'read-only', does: 'always `Succeeded`' },
  deploymentErrors: { status: 'read-only', does: 'not stored' },
  defaultDomain: { status: 'read-only', does: 'computed once at creation: `<env>.<base domain>`' },
  staticIp: { status: 'read-only', does: 'always `127.0.0.1`' },
  eventStreamEndpoint: { status: 'read-only', does: 'not stored' },
};

/** The first value of an environment's `properties` that certgate refuses, as the 400 to answer. */
export function refusedEnvironmentMember(properties: Readonly<Json> | undefined): ArmError | undefined {
  for (const [name, value] of Object.entries(properties ?? {})) {
    const refusal = ENVIRONMENT_MEMBERS[name]?.refuse?.(value);
    if (refusal) {
      const target = `properties.${name}${refusal.at}`;
      return errors.invalidParameter(`${target}: ${refusal.reason}; the value is refused rather than stored and not enforced.`, target);
    }
  }
  return undefined;
}

/** The environment's properties without its secrets: what GET and LIST return. */
export function withoutEnvironmentSecrets(properties: Readonly<Json>): Json {
  const out: Json = {};
  for (const [name, value] of Object.entries(properties)) if (ENVIRONMENT_MEMBERS[name]?.status !== 'secret') out[name] = value;
  const logs = out['appLogsConfiguration'];
  if (isObject(logs) && isObject(logs['logAnalyticsConfiguration'])) {
    const { sharedKey: _secret, ...analytics } = logs['logAnalyticsConfiguration'];
    out['appLogsConfiguration'] = { ...logs, logAnalyticsConfiguration: analytics };
  }
  return out;
}
