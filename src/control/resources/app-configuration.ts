// An app's `properties.configuration` outside the ingress: the values certgate cannot honour are
// refused (red team, MEDIUM), and secret values are write-only, as in ACA (a GET or LIST never
// returns them: only ACA's listSecrets action does, which certgate does not implement).
import { errors } from '../arm/errors.ts';

const AT = 'properties.configuration';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

interface Secret {
  readonly name?: string;
  readonly value?: string;
  readonly keyVaultUrl?: string;
  readonly identity?: string;
}

/** Throws a 400 for a configuration value certgate would store and not apply. */
export function checkAppConfiguration(configuration: Readonly<Json>): void {
  const mode = configuration['activeRevisionsMode'];
  if (typeof mode === 'string' && mode.toLowerCase() !== 'single') {
    throw errors.invalidParameter(`${AT}.activeRevisionsMode: '${mode}' is not supported: certgate runs one revision per app ('Single'); the value is refused rather than stored and not enforced.`, `${AT}.activeRevisionsMode`);
  }
  const dapr = configuration['dapr'];
  if (isObject(dapr) && dapr['enabled'] === true) {
    throw errors.invalidParameter(`${AT}.dapr.enabled: certgate runs no Dapr sidecar; the value is refused rather than stored and not enforced.`, `${AT}.dapr.enabled`);
  }
}

/**
 * The secrets to store: one sent back without a value (as a GET returns it) keeps the value stored
 * under its name, so a GET-modify-PUT does not erase it.
 */
export function keepSecretValues(configuration: Json, current: Readonly<Json> | undefined): void {
  const secrets = configuration['secrets'];
  if (!Array.isArray(secrets)) return;
  const stored = new Map<string, Secret>();
  for (const secret of (current?.['secrets'] as Secret[] | undefined) ?? []) if (isObject(secret) && typeof secret.name === 'string') stored.set(secret.name, secret);
  configuration['secrets'] = secrets.map((secret: unknown) => {
    if (!isObject(secret) || secret['value'] !== undefined || secret['keyVaultUrl'] !== undefined || typeof secret['name'] !== 'string') return secret;
    const value = stored.get(secret['name'])?.value;
    return value === undefined ? secret : { ...secret, value };
  });
}

/** The configuration as GET and LIST return it: secrets by name, key vault URL and identity, never their values. */
export function withoutSecretValues(configuration: Readonly<Json>): Json {
  const secrets = configuration['secrets'];
  if (!Array.isArray(secrets)) return { ...configuration };
  return { ...configuration, secrets: secrets.map((secret: unknown) => {
    if (!isObject(secret)) return secret;
    const { value: _secret, ...rest } = secret;
    return rest;
  }) };
}
