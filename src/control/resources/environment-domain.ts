// A managed environment's own domain: ACA's `customDomainConfiguration` (`dnsSuffix`, and the
// wildcard certificate for it as `certificateValue`, a base64 PKCS12, with `certificatePassword`).
// Its apps are then also served at `<app>.<dnsSuffix>` with that certificate. The PKCS12 and its
// password are the environment's secret: never stored in the document, returned or logged. The
// document keeps the suffix and the certificate's read-only facts (`subjectName`, `thumbprint`,
// `expirationDate`), which only the server writes.
import { normalizeHostname } from '../../model/hostnames.ts';
import type { StoredResource } from '../../model/resources.ts';
import { errors } from '../arm/errors.ts';
import { certificateFacts, openServerPkcs12 } from './certificates.ts';

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
  const opened = await openServerPkcs12(configuration['certificateValue'], configuration['certificatePassword'] ?? '', { value: `${AT}.certificateValue`, password: `${AT}.certificatePassword` });
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
