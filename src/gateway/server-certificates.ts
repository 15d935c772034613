// The server certificates certgate issues itself from its local CA: a wildcard for each
// environment's default domain, the fallback served without (or with an unknown) SNI, and the
// management API's. Issued
// once, kept in the data dir, and held in memory after the first read.
import { setTimeout as sleep } from 'node:timers/promises';
import { loadOrCreateServerCertificate, loadStoredServerCertificate } from '../pki/local-ca.ts';
import type { IssuedCertificate } from '../pki/issue.ts';
import { resourceKey, type EnvironmentView } from '../model/resources.ts';
import type { ServerCredentials } from '../ingress/snapshot.ts';
import type { Store } from '../store/store.ts';
import { sharedServerCertificate } from './shared-pki.ts';

/** The names the fallback certificate is made for (served when SNI is absent or unknown). */
const FALLBACK_HOSTNAMES = ['localhost'];

/** The management API's names: it listens on loopback by default (--management-bind). */
const MANAGEMENT_HOSTNAMES = ['localhost', '127.0.0.1', '::1'];

/** How long a reading process waits for the issuing process to write a certificate. */
const WAIT_FOR_ISSUER_MS = 10_000;

export class ServerCertificates {
  readonly #dataDir: string;
  readonly #ca: IssuedCertificate;
  readonly #issue: boolean;
  readonly #cache = new Map<string, Promise<ServerCredentials>>();

  /**
   * @param issue whether this process issues missing certificates. With several processes exactly
   *   one does (the primary): were each to issue its own, they would serve different certificates
   *   and could not resume each other's TLS sessions. The others wait for its files.
   */
  readonly #shared: Store | undefined;

  /** @param options.shared a store replicas share: certificates are issued once for all of them (shared-pki.ts). */
  constructor(dataDir: string, ca: IssuedCertificate, options: { issue: boolean; shared?: Store } = { issue: true }) {
    this.#dataDir = dataDir;
    this.#ca = ca;
    this.#issue = options.issue;
    this.#shared = options.shared;
  }

  fallback(): Promise<ServerCredentials> {
    return this.#get(FALLBACK_HOSTNAMES);
  }

  /** The management API's certificate; on replicas the one they all serve, so a client that pinned it reaches any. */
  management(): Promise<ServerCredentials> {
    return this.#get(MANAGEMENT_HOSTNAMES);
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
    const issue = () => (this.#shared ? sharedServerCertificate(this.#shared, this.#dataDir, this.#ca, hostnames) : loadOrCreateServerCertificate(this.#dataDir, this.#ca, hostnames));
    const credentials = (this.#issue ? issue() : this.#waitForIssuer(hostnames)).then(
      (issued): ServerCredentials => ({ kind: 'pem', certPem: issued.certPem, keyPem: issued.keyPem }),
    );
    credentials.catch(() => this.#cache.delete(key));
    this.#cache.set(key, credentials);
    return credentials;
  }

  async #waitForIssuer(hostnames: string[]): Promise<IssuedCertificate> {
    const deadline = Date.now() + WAIT_FOR_ISSUER_MS;
    for (;;) {
      const stored = await loadStoredServerCertificate(this.#dataDir, this.#ca, hostnames);
      if (stored) return stored;
      if (Date.now() > deadline) throw new Error(`no server certificate for ${hostnames.join(', ')} was issued in the data dir`);
      await sleep(50);
    }
  }
}
