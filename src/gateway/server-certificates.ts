// The server certificates certgate issues itself from its local CA: a wildcard for each
// environment's default domain, and the fallback served without (or with an unknown) SNI. Issued
// once, kept in the data dir, and held in memory after the first read.
import { loadOrCreateServerCertificate } from '../pki/local-ca.ts';
import type { IssuedCertificate } from '../pki/issue.ts';
import { resourceKey, type EnvironmentView } from '../model/resources.ts';
import type { ServerCredentials } from '../ingress/snapshot.ts';

/** The names the fallback certificate is made for (served when SNI is absent or unknown). */
const FALLBACK_HOSTNAMES = ['localhost'];

export class ServerCertificates {
  readonly #dataDir: string;
  readonly #ca: IssuedCertificate;
  readonly #cache = new Map<string, Promise<ServerCredentials>>();

  constructor(dataDir: string, ca: IssuedCertificate) {
    this.#dataDir = dataDir;
    this.#ca = ca;
  }

  fallback(): Promise<ServerCredentials> {
    return this.#get(FALLBACK_HOSTNAMES);
  }

  /** Each environment's wildcard certificate, by environment resource key. */
  async forEnvironments(environments: readonly EnvironmentView[]): Promise<Map<string, ServerCredentials>> {
    const out = new Map<string, ServerCredentials>();
    for (const environment of environments) {
      if (!environment.defaultDomain) continue;
      const domain = environment.defaultDomain.toLowerCase();
      out.set(resourceKey(environment.id), await this.#get([`*.${domain}`, domain]));
    }
    return out;
  }

  #get(hostnames: string[]): Promise<ServerCredentials> {
    const key = hostnames.join(',');
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const credentials = loadOrCreateServerCertificate(this.#dataDir, this.#ca, hostnames).then(
      (issued): ServerCredentials => ({ kind: 'pem', certPem: issued.certPem, keyPem: issued.keyPem }),
    );
    credentials.catch(() => this.#cache.delete(key));
    this.#cache.set(key, credentials);
    return credentials;
  }
}
