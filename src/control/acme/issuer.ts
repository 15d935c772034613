// Obtains and renews managed certificates (managedEnvironments/managedCertificates) from an ACME
// directory (RFC 8555) with acme-client, in the background of the process that runs the management
// API. HTTP-01 only: the challenge is written into the certificate's document, the ingress compiles
// it into the snapshot (every worker answers it on the plain-HTTP port), and only once the ingress
// serves it is the directory told to validate. A certificate is renewed when a third of its
// lifetime is left; the new one reaches new connections by the ordinary snapshot swap, and open
// connections keep theirs. Everything is bounded: one order at a time, a timeout on every call to
// the directory, one timer.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import acme from 'acme-client';
import type { Logger } from 'pino';
import { encodeManagedCertificateSecret } from '../../model/documents.ts';
import { ACME_CHALLENGE_MEMBER, MANAGED_CERTIFICATE_TYPE, type StoredResource } from '../../model/resources.ts';
import type { RevisionOutcome } from '../../model/outcome.ts';
import type { Store } from '../../store/store.ts';
import { sha1Thumbprint } from '../../pki/facts.ts';

export interface AcmeOptions {
  /** The ACME directory URL (`certgate serve --acme-directory`). */
  readonly directoryUrl: string;
  /** PEM trust roots for the directory's own TLS (`--acme-ca-file`); undefined: the system's. */
  readonly caPem?: string;
  /** Contact for the ACME account (`--acme-email`). */
  readonly email?: string;
  /** Renew when less than this share of the lifetime is left (default a third, as Let's Encrypt advises). */
  readonly renewFraction?: number;
  /** After a failed renewal, the next try (default 10 minutes). */
  readonly retryMs?: number;
}

export interface IssuerDeps {
  readonly store: Store;
  readonly dataDir: string;
  /** Resolves once the ingress serves the store at `revision`. */
  readonly applied: (revision: number) => Promise<RevisionOutcome>;
  readonly log: Logger;
}

/** Every call to the directory: a directory that hangs must not hold an order forever. */
const DIRECTORY_TIMEOUT_MS = 30_000;
const DEFAULT_RETRY_MS = 10 * 60_000;
const MAX_DIRECTORY_ANSWER_BYTES = 1024 * 1024;
/** Node's timers hold at most 2^31-1 ms (24.8 days): a later renewal is re-checked then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type Properties = Record<string, unknown>;

export class ManagedCertificateIssuer {
  readonly #deps: IssuerDeps;
  readonly #options: AcmeOptions;
  #client: acme.Client | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #unsubscribe: (() => void) | undefined;
  /** Renewals that failed, by id: not tried again before this time. */
  readonly #retryAt = new Map<string, number>();

  constructor(deps: IssuerDeps, options: AcmeOptions) {
    this.#deps = deps;
    this.#options = options;
    // acme-client talks through its own axios instance: the directory's trust root and a timeout.
    acme.axios.defaults.timeout = DIRECTORY_TIMEOUT_MS;
    // A directory's answers are small JSON documents and one certificate chain; a larger one is refused, not buffered.
    acme.axios.defaults.maxContentLength = MAX_DIRECTORY_ANSWER_BYTES;
    if (options.caPem) acme.axios.defaults.httpsAgent = new https.Agent({ ca: options.caPem });
  }

  start(): void {
    this.#unsubscribe = this.#deps.store.subscribe(() => this.poke());
    this.poke();
  }

  /** Looks for work now (after a write, or when a renewal is due); runs are never concurrent. */
  poke(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.poke();
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    clearTimeout(this.#timer);
    await this.#running;
  }

  async #run(): Promise<void> {
    const now = Date.now();
    let next = Infinity;
    for (const doc of await this.#deps.store.list({ type: MANAGED_CERTIFICATE_TYPE })) {
      if (this.#closed) return;
      const state = doc.properties['provisioningState'];
      if (state === 'Pending') {
        await this.#issue(doc, false);
        continue;
      }
      if (state !== 'Succeeded') continue;
      const due = Math.max(this.#renewAt(doc), this.#retryAt.get(doc.id) ?? 0);
      if (due <= now) await this.#issue(doc, true);
      else next = Math.min(next, due);
    }
    clearTimeout(this.#timer);
    if (next !== Infinity && !this.#closed) {
      this.#timer = setTimeout(() => this.poke(), Math.min(Math.max(next - Date.now(), 0), MAX_TIMER_MS));
      this.#timer.unref();
    }
  }

  /** When `doc`'s certificate is due for renewal (ms since the epoch). */
  #renewAt(doc: StoredResource): number {
    const notAfter = Date.parse(String(doc.properties['expirationDate']));
    const notBefore = Date.parse(String(doc.properties['issueDate'] ?? doc.properties['expirationDate']));
    if (Number.isNaN(notAfter)) return 0;
    const lifetime = Math.max(notAfter - (Number.isNaN(notBefore) ? notAfter : notBefore), 0);
    return notAfter - lifetime * (this.#options.renewFraction ?? 1 / 3);
  }

  async #account(): Promise<acme.Client> {
    if (this.#client) return this.#client;
    const dir = join(this.#deps.dataDir, 'acme');
    const file = join(dir, 'account.key');
    let accountKey: Buffer;
    try {
      accountKey = await readFile(file);
    } catch {
      // One account per data dir: a new key per start would open a new account each time (and
      // directories limit how many an address may open).
      accountKey = await acme.crypto.createPrivateEcdsaKey();
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFile(file, accountKey, { mode: 0o600 });
    }
    const client = new acme.Client({ directoryUrl: this.#options.directoryUrl, accountKey });
    await client.createAccount({ termsOfServiceAgreed: true, ...(this.#options.email ? { contact: [`mailto:${this.#options.email}`] } : {}) });
    this.#client = client;
    return client;
  }

  /** One order for `doc`'s subjectName, the outcome written back to the document. */
  async #issue(doc: StoredResource, renewal: boolean): Promise<void> {
    const subjectName = String(doc.properties['subjectName']);
    const log = this.#deps.log.child({ certificate: doc.id, subjectName });
    log.info({ renewal }, renewal ? 'renewing a managed certificate' : 'issuing a managed certificate');
    try {
      const client = await this.#account();
      const [keyPem, csr] = await acme.crypto.createCsr({ commonName: subjectName, altNames: [subjectName] }, await acme.crypto.createPrivateEcdsaKey());
      const chainPem = await client.auto({
        csr,
        challengePriority: ['http-01'],
        termsOfServiceAgreed: true,
        // The directory checks; certgate cannot fetch its own public name from inside.
        skipChallengeVerification: true,
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          if (challenge.type !== 'http-01') throw new Error(`the directory offered no http-01 challenge (only ${challenge.type})`);
          await this.#write(doc.id, subjectName, (properties) => ({ ...properties, [ACME_CHALLENGE_MEMBER]: { token: challenge.token, keyAuthorization } }));
        },
        challengeRemoveFn: async () => {
          await this.#write(doc.id, subjectName, ({ [ACME_CHALLENGE_MEMBER]: _done, ...properties }) => properties);
        },
      });
      const leaf = new X509Certificate(chainPem);
      await this.#write(
        doc.id,
        subjectName,
        ({ [ACME_CHALLENGE_MEMBER]: _done, error: _error, ...properties }) => ({
          ...properties,
          provisioningState: 'Succeeded',
          thumbprint: sha1Thumbprint(leaf),
          issueDate: new Date(leaf.validFrom).toISOString(),
          expirationDate: new Date(leaf.validTo).toISOString(),
        }),
        encodeManagedCertificateSecret({ certPem: chainPem.toString(), keyPem: keyPem.toString() }),
      );
      this.#retryAt.delete(doc.id);
      log.info({ expirationDate: new Date(leaf.validTo).toISOString(), renewal }, 'managed certificate issued');
    } catch (error) {
      const message = describeAcmeError(error);
      log.warn({ reason: 'acme_order_failed', cause: message, renewal }, 'managed certificate not issued');
      // A failed first issue is Failed; a failed renewal keeps serving the certificate it has, says why, and is tried again later.
      this.#retryAt.set(doc.id, Date.now() + (this.#options.retryMs ?? DEFAULT_RETRY_MS));
      await this.#write(doc.id, subjectName, ({ [ACME_CHALLENGE_MEMBER]: _done, ...properties }) => ({
        ...properties,
        provisioningState: renewal ? 'Succeeded' : 'Failed',
        error: renewal ? `renewal failed (the current certificate is still served): ${message}` : message,
      })).catch((writeError: unknown) => log.warn({ cause: (writeError as Error).message }, 'managed certificate outcome not written'));
    }
  }

  /**
   * Changes the document (and its secret), if it is still for `subjectName`, and waits until the
   * ingress serves the result (a challenge must be answered before the directory is asked to check).
   */
  async #write(id: string, subjectName: string, change: (properties: Properties) => Properties, secret?: Uint8Array): Promise<void> {
    const result = await this.#deps.store.update(id, (current) => {
      if (!current || current.properties['subjectName'] !== subjectName) throw new Error('the managed certificate was deleted or changed meanwhile');
      const doc = { ...current, properties: change({ ...current.properties }) };
      return secret ? { doc, secret } : { doc };
    });
    await this.#deps.applied(result.revision);
  }
}

/** acme-client's errors carry the directory's problem detail; keep it short and free of key material. */
function describeAcmeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 500 ? `${message.slice(0, 500)}…` : message;
}
