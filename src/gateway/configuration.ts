// The ingress's copy of the documents it compiles (environments, apps, certificates) and each
// app's route spec, kept between revisions so a change re-reads only the keys the store's change
// log names (Store.changesSince) and rebuilds only the apps those documents touch: the app itself,
// the apps of a changed environment, the apps that named a changed certificate. Everything else
// keeps its spec object, which the snapshot compiler recognises and does not compile again. A
// full read (at start, when the log cannot tell, after a failed build) is the fallback.
import type { Logger } from 'pino';
import { decodeCertificateSecret, decodeManagedCertificateSecret, decodeServerCertificateSecret } from '../model/documents.ts';
import { decodeTrustMaterial, type TrustMaterial } from '../model/trust.ts';
import {
  ACME_CHALLENGE_MEMBER,
  APP_TYPE,
  CERTIFICATE_TYPE,
  ENVIRONMENT_TYPE,
  MANAGED_CERTIFICATE_TYPE,
  type AcmeChallengeRecord,
  type AppView,
  appView,
  type EnvironmentView,
  environmentView,
  resourceKey,
  type StoredResource,
} from '../model/resources.ts';
import type { AcmeChallenge, ServerCredentials } from '../ingress/snapshot.ts';
import type { Store } from '../store/store.ts';
import { assembleRouteSpecs, buildAppSpec, compareAppKeys, type AppSpec, type RouteSpecs } from './route-specs.ts';
import type { ServerCertificates } from './server-certificates.ts';

const TYPES = { environment: ENVIRONMENT_TYPE.toLowerCase(), app: APP_TYPE.toLowerCase(), certificate: CERTIFICATE_TYPE.toLowerCase(), managed: MANAGED_CERTIFICATE_TYPE.toLowerCase() };

/** What the last build did: whether it read everything, and how many app specs it built. */
export interface BuildCounts {
  readonly full: boolean;
  readonly appsBuilt: number;
}

export class IngressConfiguration {
  /** The store revision the documents are of (undefined before the first full read). */
  #revision: number | undefined;
  readonly #environments = new Map<string, EnvironmentView>();
  readonly #dnsSuffixCertificates = new Map<string, ServerCredentials>();
  readonly #apps = new Map<string, AppView>();
  readonly #uploaded = new Map<string, ServerCredentials>();
  readonly #trust = new Map<string, TrustMaterial>();
  /** Managed certificate key → the HTTP-01 challenge it answers. */
  readonly #challenges = new Map<string, AcmeChallenge & { readonly token: string }>();
  readonly #specs = new Map<string, AppSpec>();
  /** App keys in spec order (compareAppKeys). */
  #order: string[] = [];
  /** Resource key → the apps whose spec read it. */
  readonly #readers = new Map<string, Set<string>>();
  /** Apps whose spec must be built again. */
  readonly #dirty = new Set<string>();
  #full = true;
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Brings the documents up to the store's revision: the changed keys only when the log covers
   * the way there, else everything. Returns the revision they are of.
   */
  async update(store: Store, options: { full?: boolean } = {}): Promise<number> {
    const changes = options.full || this.#revision === undefined ? undefined : await store.changesSince(this.#revision);
    if (!changes) return this.#readAll(store);
    for (const key of changes.keys) {
      const doc = await store.get(key);
      await this.#load(store, key, doc);
    }
    this.#revision = changes.revision;
    return changes.revision;
  }

  /** The route specs of the documents, building only the apps marked since the last build. */
  async build(certificates: ServerCertificates): Promise<{ specs: RouteSpecs; acmeChallenges: Map<string, AcmeChallenge>; counts: BuildCounts }> {
    const environments = [...this.#environments.keys()].sort().map((key) => this.#environments.get(key)!);
    const environmentCertificates = await certificates.forEnvironments(environments);
    const context = { environments: this.#environments, environmentCertificates, dnsSuffixCertificates: this.#dnsSuffixCertificates, uploadedCertificates: this.#uploaded, trustMaterial: this.#trust };
    let appsBuilt = 0;
    for (const key of this.#dirty) {
      const previous = this.#specs.get(key);
      for (const read of previous?.reads ?? []) this.#readers.get(read)?.delete(key);
      const app = this.#apps.get(key);
      if (!app) {
        if (previous) {
          this.#specs.delete(key);
          this.#order.splice(this.#position(key), 1);
        }
      } else {
        const spec = buildAppSpec(app, context);
        appsBuilt++;
        if (!previous && !this.#full) this.#order.splice(this.#position(key), 0, key);
        this.#specs.set(key, spec);
        for (const read of spec.reads) {
          let readers = this.#readers.get(read);
          if (!readers) this.#readers.set(read, (readers = new Set()));
          readers.add(key);
        }
      }
      this.#dirty.delete(key);
    }
    // After a full read every app is new: one sort instead of an insertion each.
    if (this.#full) this.#order = [...this.#specs.keys()].sort(compareAppKeys);
    const specs = assembleRouteSpecs(this.#order.map((key) => this.#specs.get(key)!), { environments, environmentCertificates, dnsSuffixCertificates: this.#dnsSuffixCertificates });
    const acmeChallenges = new Map<string, AcmeChallenge>();
    for (const key of [...this.#challenges.keys()].sort()) {
      const { token, host, keyAuthorization } = this.#challenges.get(key)!;
      acmeChallenges.set(token, Object.freeze({ host, keyAuthorization }));
    }
    const counts = { full: this.#full, appsBuilt };
    this.#full = false;
    return { specs, acmeChallenges, counts };
  }

  async #readAll(store: Store): Promise<number> {
    const revision = await store.revision();
    const documents = (await Promise.all([ENVIRONMENT_TYPE, APP_TYPE, CERTIFICATE_TYPE, MANAGED_CERTIFICATE_TYPE].map((type) => store.list({ type })))).flat();
    for (const map of [this.#environments, this.#dnsSuffixCertificates, this.#apps, this.#uploaded, this.#trust, this.#challenges, this.#specs, this.#readers]) map.clear();
    this.#order = [];
    for (const doc of documents) await this.#load(store, resourceKey(doc.id), doc);
    this.#revision = revision;
    this.#full = true;
    return revision;
  }

  /** Replaces what `key` held with `doc` (absent: deleted), and marks the apps it touches. */
  async #load(store: Store, key: string, doc: StoredResource | undefined): Promise<void> {
    if (this.#apps.has(key)) this.#dirty.add(key);
    for (const map of [this.#environments, this.#dnsSuffixCertificates, this.#apps, this.#uploaded, this.#trust, this.#challenges]) map.delete(key);
    for (const reader of this.#readers.get(key) ?? []) this.#dirty.add(reader);
    if (!doc) return;
    const type = doc.type.toLowerCase();
    if (type === TYPES.app) {
      this.#apps.set(key, appView(doc));
      this.#dirty.add(key);
    } else if (type === TYPES.environment) {
      const environment = environmentView(doc);
      this.#environments.set(key, environment);
      // An environment's DNS suffix wildcard (customDomainConfiguration) is its secret, kept as an upload's is.
      if (environment.dnsSuffix !== undefined) {
        const secret = await store.getSecret(key);
        try {
          if (!secret || secret.length === 0) throw new Error('no secret');
          // A PKCS12 upload, or a PEM one (az sends .pem files as they are).
          this.#dnsSuffixCertificates.set(key, decodeServerCertificateSecret(secret));
        } catch {
          this.#log.error({ environment: doc.id, reason: 'certificate_secret_unreadable' }, 'DNS suffix certificate secret cannot be read');
        }
      }
    } else if (type === TYPES.certificate) {
      const secret = await store.getSecret(key);
      if (!secret) return;
      try {
        const trust = decodeTrustMaterial(secret);
        if (trust !== undefined) {
          this.#trust.set(key, trust);
          return;
        }
        const { pfx, password } = decodeCertificateSecret(secret);
        this.#uploaded.set(key, { kind: 'pkcs12', pfx, password });
      } catch {
        // One unreadable secret must not stop every other change: the domains bound to it are left
        // out, and their writers hear so.
        this.#log.error({ certificate: doc.id, reason: 'certificate_secret_unreadable' }, 'certificate secret cannot be read');
      }
    } else if (type === TYPES.managed) {
      // Managed (ACME) certificates: the last one issued is served (while a renewal runs too); the
      // challenge being answered goes to the plain-HTTP port.
      const challenge = doc.properties[ACME_CHALLENGE_MEMBER] as AcmeChallengeRecord | undefined;
      if (challenge) this.#challenges.set(key, Object.freeze({ token: challenge.token, host: String(doc.properties['subjectName']), keyAuthorization: challenge.keyAuthorization }));
      const secret = await store.getSecret(key);
      if (!secret || secret.length === 0) return;
      try {
        const { certPem, keyPem } = decodeManagedCertificateSecret(secret);
        this.#uploaded.set(key, { kind: 'pem', certPem, keyPem });
      } catch {
        this.#log.error({ certificate: doc.id, reason: 'certificate_secret_unreadable' }, 'managed certificate secret cannot be read');
      }
    }
  }

  /** Where `key` is, or goes, in #order (binary search). */
  #position(key: string): number {
    let low = 0;
    let high = this.#order.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareAppKeys(this.#order[middle]!, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
