// A managed environment's own domain: ACA's `customDomainConfiguration` (`dnsSuffix`, and the
// wildcard certificate for it as `certificateValue`, a base64 PKCS12, with `certificatePassword`).
// Its apps are then also served at `<app>.<dnsSuffix>` with that certificate. The PKCS12 and its
// password are the environment's secret: never stored in the document, returned or logged. The
// document keeps the suffix and the certificate's read-only facts (`subjectName`, `thumbprint`,
// `expirationDate`), which only the server writes.
import { normalizeHostname } from '../../model/hostnames.ts';
import type { StoredResource } from '../../model/resources.ts';
import { errors } from '../arm/errors.ts';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { encodePemCertificateSecret } from '../../model/documents.ts';
import { pemBlocks } from '../../pki/pem.ts';
import { checkServerCredentials } from '../../ingress/snapshot.ts';
import { certificateFacts, openServerPkcs12, type Pkcs12Paths } from './certificates.ts';

const AT = 'properties.customDomainConfiguration';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** What the server read from an uploaded wildcard certificate, before the write. */
export interface CustomDomainCertificate {
  /** The suffix the certificate was checked against (`*.<suffix>` is among its names). */
  readonly dnsSuffix: string;
  readonly facts: { readonly subjectName: string; readonly thumbprint: string; readonly expirationDate: string };
  readonly secret: Uint8Array;
}

/** The stored `customDomainConfiguration` of an environment document, when it has a DNS suffix. */
export function storedDnsSuffix(doc: { properties: Readonly<Json> } | undefined): string | undefined {
  const configuration = doc?.properties['customDomainConfiguration'];
  return isObject(configuration) && typeof configuration['dnsSuffix'] === 'string' && configuration['dnsSuffix'] !== '' ? configuration['dnsSuffix'] : undefined;
}

/**
 * Opens `certificateValue` with `certificatePassword` when the request sends one: `configuration` is
 * what the request says (a PUT's whole member, or a PATCH's), `current` the stored environment (a
 * PATCH may send a new certificate for the suffix it has). Slow and fallible, so it runs before the
 * write: a bad PKCS12, a wrong password or a certificate that does not cover `*.<suffix>` is a 400
 * naming its JSON path and nothing is written.
 */
export async function readCustomDomainCertificate(configuration: unknown, current: StoredResource | undefined): Promise<CustomDomainCertificate | undefined> {
  if (!isObject(configuration) || configuration['certificateValue'] === undefined || configuration['certificateValue'] === null) return undefined;
  const suffix = suffixOf(configuration['dnsSuffix'] ?? storedDnsSuffix(current));
  if (suffix === undefined) throw errors.invalidParameter(`${AT}.dnsSuffix: a certificate is uploaded for the environment's DNS suffix, and none is set.`, `${AT}.dnsSuffix`);
  const at = { value: `${AT}.certificateValue`, password: `${AT}.certificatePassword` };
  const opened = isBase64Pem(configuration['certificateValue'])
    ? openServerPem(String(configuration['certificateValue']), configuration['certificatePassword'] ?? '', at)
    : await openServerPkcs12(configuration['certificateValue'], configuration['certificatePassword'] ?? '', at);
  const facts = certificateFacts(opened.certificate, `${AT}.certificateValue`);
  const names = ((facts['subjectAlternativeNames'] as string[] | undefined) ?? []).map((name) => name.toLowerCase());
  if (!names.includes(`*.${suffix}`)) {
    throw errors.invalidParameter(
      `${AT}.certificateValue: the certificate does not cover *.${suffix} (its names: ${names.join(', ') || 'none'}); the environment's apps are served at <app>.${suffix}, so it must be a wildcard for that suffix.`,
      `${AT}.certificateValue`,
    );
  }
  return {
    dnsSuffix: suffix,
    facts: { subjectName: String(facts['subjectName']), thumbprint: String(facts['thumbprint']), expirationDate: String(facts['expirationDate']) },
    secret: opened.secret,
  };
}

/**
 * The `customDomainConfiguration` to store (undefined: none), from the merged request and what the
 * server read. A suffix needs its certificate: a new suffix without one is refused; the same suffix
 * keeps the stored certificate (a client sending back what GET returned). The read-only members a
 * client sends are dropped: only the server's reading of the certificate sets them.
 */
export function customDomainConfigurationToStore(configuration: unknown, current: StoredResource | undefined, uploaded: CustomDomainCertificate | undefined): Json | undefined {
  if (!isObject(configuration)) return undefined;
  const given = configuration['dnsSuffix'];
  if (given === undefined || given === null || given === '') {
    if (configuration['certificateValue'] !== undefined) throw errors.invalidParameter(`${AT}.dnsSuffix: a certificate is uploaded for the environment's DNS suffix, and none is set.`, `${AT}.dnsSuffix`);
    return undefined;
  }
  const suffix = suffixOf(given);
  if (suffix === undefined) {
    throw errors.invalidParameter(`${AT}.dnsSuffix: '${String(given)}' is not a DNS name of two labels or more (letters, digits, hyphens).`, `${AT}.dnsSuffix`);
  }
  if (uploaded) {
    // The certificate was checked against the suffix the request named when it was read; a
    // concurrent write that changed the stored suffix since would leave it unchecked.
    if (uploaded.dnsSuffix !== suffix) throw errors.conflict('DnsSuffixChanged', `${AT}.dnsSuffix changed while the certificate was read; send the request again.`, `${AT}.dnsSuffix`);
    return { dnsSuffix: suffix, ...uploaded.facts };
  }
  const stored = current?.properties['customDomainConfiguration'];
  if (isObject(stored) && storedDnsSuffix(current) === suffix) {
    return { dnsSuffix: suffix, subjectName: stored['subjectName'], thumbprint: stored['thumbprint'], expirationDate: stored['expirationDate'] };
  }
  throw errors.invalidParameter(
    `${AT}.certificateValue: the DNS suffix ${suffix} needs its wildcard certificate (*.${suffix}): send certificateValue (the base64 PKCS12) and certificatePassword.`,
    `${AT}.certificateValue`,
  );
}

/** A DNS suffix, normalised; undefined unless it is a host name of at least two labels. */
function suffixOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const suffix = normalizeHostname(value);
  return suffix !== undefined && suffix.includes('.') ? suffix : undefined;
}

/** az sends a `.pem` file as the base64 of its text (ACA takes PFX or PEM). */
function isBase64Pem(value: unknown): boolean {
  return typeof value === 'string' && Buffer.from(value.slice(0, 64), 'base64').toString('latin1').trimStart().startsWith('-----BEGIN');
}

/**
 * Opens a base64 PEM text with the certificate (leaf first, then its chain) and its private key
 * (encrypted with `certificatePassword`, or not): each failure a 400 naming its JSON path, and what
 * the ingress cannot load refused here rather than left out later.
 */
function openServerPem(value: string, password: unknown, at: Pkcs12Paths): { certificate: X509Certificate; secret: Uint8Array } {
  const text = Buffer.from(value, 'base64').toString('utf8');
  const blocks = pemBlocks(text);
  const certificates = blocks.filter((block) => block.label === 'CERTIFICATE');
  const keys = blocks.filter((block) => block.label.endsWith('PRIVATE KEY'));
  if (certificates.length === 0 || keys.length !== 1) {
    throw errors.invalidCertificate('InvalidCertificateValue', `${at.value} is PEM but not one private key with its certificate (found ${certificates.length} certificates and ${keys.length} keys).`, at.value);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keys[0]!.text, ...(typeof password === 'string' && password !== '' ? { passphrase: password } : {}) });
  } catch {
    throw errors.invalidCertificate('InvalidCertificatePassword', `The private key in ${at.value} cannot be read with the password in ${at.password} (wrong or missing password).`, at.password);
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificates[0]!.text);
  } catch (error) {
    throw errors.invalidCertificate('InvalidCertificateValue', `${at.value}: the first certificate does not parse (${(error as Error).message}).`, at.value);
  }
  if (!certificate.checkPrivateKey(key)) throw errors.invalidCertificate('InvalidCertificateValue', `${at.value}: the private key does not belong to the first certificate.`, at.value);
  const credentials = { certPem: certificates.map((block) => block.text).join('\n') + '\n', keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string };
  try {
    checkServerCredentials({ kind: 'pem', ...credentials });
  } catch (error) {
    throw errors.certificateNotLoadable(`The certgate server cannot load the certificate in ${at.value} (${(error as Error).message}).`, at.value);
  }
  // Kept decrypted, as the key of a managed certificate is: the secret store is where keys live.
  return { certificate, secret: encodePemCertificateSecret(credentials) };
}
