// The login profile later commands use: endpoint, CA, service principal, default subscription.
// Kept in $CERTGATE_CONFIG_DIR (default ~/.certgate) as profile.json, mode 0600, since it holds
// the principal's secret (as az keeps its service principal entries).
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './errors.ts';

export interface Profile {
  readonly endpoint: string;
  /** PEM of the CA that issued the management endpoint's certificate. */
  readonly caPem: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly tenantId: string;
  readonly subscriptionId: string;
}

export function configDir(): string {
  return process.env['CERTGATE_CONFIG_DIR'] ?? join(homedir(), '.certgate');
}

export function profilePath(): string {
  return join(configDir(), 'profile.json');
}

export async function saveProfile(profile: Profile): Promise<string> {
  const dir = configDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = profilePath();
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
  return path;
}

export async function loadProfile(): Promise<Profile> {
  let text: string;
  try {
    text = await readFile(profilePath(), 'utf8');
  } catch {
    throw new CliError("Please run 'certgate login' to set up the endpoint and credentials.", { code: 'NotLoggedIn' });
  }
  try {
    const profile = JSON.parse(text) as Profile;
    if (!profile.endpoint || !profile.clientId || !profile.clientSecret) throw new Error('incomplete');
    return profile;
  } catch {
    throw new CliError(`The profile ${profilePath()} is damaged; run 'certgate login' again.`, { code: 'BadProfile' });
  }
}

export async function removeProfile(): Promise<boolean> {
  try {
    await rm(profilePath());
    return true;
  } catch {
    return false;
  }
}
