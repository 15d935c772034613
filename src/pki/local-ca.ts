import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chmod, mkdir, mkdtemp, open, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { createCa, issueCertificate } from './issue.ts';
import { describeCertificate, isSelfSigned, issuedBy } from './facts.ts';
import type { IssuedCertificate } from './issue.ts';
import { PkiError } from './codes.ts';

const CA_COMMON_NAME = 'certgate local CA';
const RENEW_WITHIN_MS = 30 * 24 * 60 * 60 * 1000;

/** `<dataDir>/ca/ca.pem`: the certificate clients trust to reach the gateway's default domains. */
export function caCertificatePath(dataDir: string): string {
  return join(dataDir, 'ca', 'ca.pem');
}

function caKeyPath(dataDir: string): string {
  return join(dataDir, 'ca', 'ca.key');
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Writes to a temporary file beside `path`, flushes it and renames it over `path`. */
async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    const handle = await open(temporary, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function loadCa(dataDir: string): Promise<IssuedCertificate | undefined> {
  const certPath = caCertificatePath(dataDir);
  const keyPath = caKeyPath(dataDir);
  const [certPem, keyPem] = await Promise.all([readIfPresent(certPath), readIfPresent(keyPath)]);
  if (certPem === undefined && keyPem === undefined) return undefined;
  // Half a CA is never replaced: clients may already trust the certificate.
  if (certPem === undefined || keyPem === undefined) {
    const [missing, present] = certPem === undefined ? [certPath, keyPath] : [keyPath, certPath];
    throw new PkiError('LocalCaIncomplete', `${missing} is missing but ${present} exists: restore it, or remove both to create a new local CA`);
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch (error) {
    throw new PkiError('LocalCaCertificateInvalid', `${certPath}: not a PEM certificate (${errorMessage(error)})`, { cause: error });
  }
  if (!certificate.ca) throw new PkiError('LocalCaCertificateInvalid', `${certPath}: not a CA certificate`);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new PkiError('LocalCaKeyInvalid', `${keyPath}: not a PEM private key (${errorMessage(error)})`, { cause: error });
  }
  if (!certificate.checkPrivateKey(key)) throw new PkiError('LocalCaKeyMismatch', `${keyPath} does not match ${certPath}`);
  return {
    certPem,
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    chainPem: '',
    certificate,
  };
}

/**
 * The gateway's own CA in `<dataDir>/ca/` (ca.pem, ca.key), created on first use. A damaged or
 * incomplete CA is an error naming the file, never silently replaced.
 */
export async function loadOrCreateLocalCa(dataDir: string): Promise<IssuedCertificate> {
  const existing = await loadCa(dataDir);
  if (existing) return existing;
  const ca = await createCa({ commonName: CA_COMMON_NAME });
  await mkdir(dataDir, { recursive: true });
  // Both files appear at once by renaming a complete directory into place; a concurrent creator
  // loses the rename (the target is no longer empty) and uses the winner's CA.
  const staging = await mkdtemp(join(dataDir, '.ca-'));
  try {
    await chmod(staging, 0o700);
    await writeFileAtomic(join(staging, 'ca.key'), ca.keyPem, 0o600);
    await writeFileAtomic(join(staging, 'ca.pem'), ca.certPem, 0o644);
    await rename(staging, dirname(caCertificatePath(dataDir)));
    return ca;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') {
      const winner = await loadCa(dataDir);
      if (winner) return winner;
    }
    throw new PkiError('LocalCaNotCreated', `cannot create the local CA in ${dirname(caCertificatePath(dataDir))}: ${errorMessage(error)}`, { cause: error });
  }
}

function canonicalName(name: string): string {
  // The URL parser prints IPv6 addresses in their compressed form, whatever form they came in.
  return isIP(name) === 6 ? new URL(`http://[${name}]/`).hostname.slice(1, -1) : name.toLowerCase();
}

function sameNames(certificate: X509Certificate, wanted: string[]): boolean {
  const info = describeCertificate(certificate);
  if (typeof info === 'string') return false;
  const present = new Set([...info.san.dns, ...info.san.ip].map(canonicalName));
  return present.size === wanted.length && wanted.every((name) => present.has(name));
}

function fileNameFor(hostname: string): string {
  return hostname.replace(/^\*\./, 'wildcard.').replace(/[^a-z0-9.-]/g, '_');
}

/** The stored certificate if it is still what `hostnames` needs from `ca`; undefined means reissue. */
async function loadServerCertificate(
  certPath: string,
  keyPath: string,
  ca: IssuedCertificate,
  hostnames: string[],
): Promise<IssuedCertificate | undefined> {
  const [certPem, keyPem] = await Promise.all([readIfPresent(certPath), readIfPresent(keyPath)]);
  if (certPem === undefined || keyPem === undefined) return undefined;
  // Unlike the CA, a server certificate is derived data: anything unreadable is simply reissued.
  try {
    const certificate = new X509Certificate(certPem);
    const key = createPrivateKey(keyPem);
    const usable =
      certificate.checkPrivateKey(key) &&
      issuedBy(certificate, ca.certificate) &&
      certificate.validToDate.getTime() - Date.now() > RENEW_WITHIN_MS &&
      sameNames(certificate, hostnames);
    if (!usable) return undefined;
    return { certPem, keyPem, chainPem: chainAbove(ca), certificate };
  } catch {
    return undefined;
  }
}

function chainAbove(ca: IssuedCertificate): string {
  return isSelfSigned(ca.certificate) ? '' : ca.certPem + ca.chainPem;
}

function serverCertificatePaths(dataDir: string, hostnames: string[]) {
  const names = [...new Set(hostnames.map(canonicalName))];
  const primary = names[0];
  if (primary === undefined) throw new PkiError('HostnameRequired', 'a server certificate needs at least one hostname');
  const directory = join(dataDir, 'server-certs');
  const base = join(directory, fileNameFor(primary));
  return { names, primary, directory, certPath: `${base}.pem`, keyPath: `${base}.key` };
}

/**
 * The stored server certificate for `hostnames`, if there is a valid one (issued by `ca` for these
 * names, not expiring within 30 days); never issues one. For processes that only read the data dir.
 */
export async function loadStoredServerCertificate(dataDir: string, ca: IssuedCertificate, hostnames: string[]): Promise<IssuedCertificate | undefined> {
  const { names, certPath, keyPath } = serverCertificatePaths(dataDir, hostnames);
  return loadServerCertificate(certPath, keyPath, ca, names);
}

/**
 * An ECDSA P-256 server certificate for `hostnames` (DNS names, wildcards or IP addresses) issued
 * by `ca`, stored as `<dataDir>/server-certs/<first hostname>.pem` and `.key`. It is reissued when
 * missing, unreadable, expiring within 30 days, issued for other names or by another CA.
 */
export async function loadOrCreateServerCertificate(
  dataDir: string,
  ca: IssuedCertificate,
  hostnames: string[],
): Promise<IssuedCertificate> {
  const { names, primary, directory, certPath, keyPath } = serverCertificatePaths(dataDir, hostnames);
  const stored = await loadServerCertificate(certPath, keyPath, ca, names);
  if (stored) return stored;

  const issued = await issueCertificate({
    issuer: ca,
    commonName: primary,
    kind: 'server',
    dnsNames: names.filter((name) => isIP(name) === 0),
    ipAddresses: names.filter((name) => isIP(name) !== 0),
  });
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await writeFileAtomic(keyPath, issued.keyPem, 0o600);
  await writeFileAtomic(certPath, issued.certPem, 0o644);
  return issued;
}

/**
 * Puts `ca` in `<dataDir>/ca/` (a replica taking the CA its peers share from the database). A
 * different CA already there is kept aside as `ca.replaced-<time>/`, never deleted.
 */
export async function installLocalCa(dataDir: string, ca: { certPem: string; keyPem: string }): Promise<void> {
  const existing = await loadCa(dataDir).catch(() => undefined);
  if (existing && new X509Certificate(existing.certPem).fingerprint256 === new X509Certificate(ca.certPem).fingerprint256) return;
  await mkdir(dataDir, { recursive: true });
  const directory = dirname(caCertificatePath(dataDir));
  const staging = await mkdtemp(join(dataDir, '.ca-'));
  try {
    await chmod(staging, 0o700);
    await writeFileAtomic(join(staging, 'ca.key'), ca.keyPem, 0o600);
    await writeFileAtomic(join(staging, 'ca.pem'), ca.certPem, 0o644);
    await rename(directory, `${directory}.replaced-${Date.now()}`).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await rename(staging, directory);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw new PkiError('LocalCaNotCreated', `cannot put the shared local CA in ${directory}: ${errorMessage(error)}`, { cause: error });
  }
}

/** Puts a server certificate issued elsewhere (a peer replica) where loadStoredServerCertificate finds it. */
export async function installServerCertificate(dataDir: string, hostnames: string[], issued: { certPem: string; keyPem: string }): Promise<void> {
  const { directory, certPath, keyPath } = serverCertificatePaths(dataDir, hostnames);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await writeFileAtomic(keyPath, issued.keyPem, 0o600);
  await writeFileAtomic(certPath, issued.certPem, 0o644);
}
