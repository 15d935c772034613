// Microsoft.App/managedEnvironments/certificates: a PKCS12 and its password go in; the certificate's
// public facts come out. The PKCS12 and password are kept only as the resource's secret (for the
// ingress to serve custom domains) and are never returned.
import type { X509Certificate } from 'node:crypto';
import { describeCertificate, sha1Thumbprint } from '../../pki/facts.ts';
import { CERTIFICATE_TYPE, type StoredResource } from '../../model/resources.ts';
import { encodeCertificateSecret } from '../../model/documents.ts';
import { exportPkcs12, PKCS12_CONVERSION, readPkcs12 } from '../../pki/pkcs12.ts';
import { checkServerCredentials } from '../../ingress/snapshot.ts';
import { errors, type ArmError } from '../arm/errors.ts';
import { CERTIFICATE_SCHEMA } from '../validation/schemas.ts';
import { renderTracked } from './render.ts';
import type { ResourceKind } from './tracked.ts';
import { APP_TYPE, appView, resourceKey } from '../../model/resources.ts';
import { VERIFICATION_REFERENCE_MEMBERS } from '../../ingress/verify/policy.ts';

export const certificateKind: ResourceKind = {
  type: CERTIFICATE_TYPE,
  schema: CERTIFICATE_SCHEMA,
  readOnlyProperties: [
    'provisioningState', 'deploymentErrors', 'subjectName', 'subjectAlternativeNames', 'issuer', 'issueDate',
    'expirationDate', 'thumbprint', 'thumbprintSha256', 'valid', 'publicKeyHash', 'certificateType', 'password', 'value',
  ],
  patchable: ['tags'],
  prepare(_context, id, name, body, current) {
    const properties = body.properties ?? {};
    return { doc: { ...body, id: current?.id ?? id, name: current?.name ?? name, type: CERTIFICATE_TYPE, properties: { ...current?.properties, ...properties } } };
  },
  render(_context, doc) {
    return renderTracked(doc, { ...doc.properties, provisioningState: 'Succeeded', valid: Date.parse(String(doc.properties['expirationDate'])) > Date.now() });
  },
  async checkDelete(context, doc) {
    const apps = await context.store.list({ type: APP_TYPE });
    const users = apps.filter((app) =>
      (appView(app).ingress?.customDomains ?? []).some((domain) => domain.certificateId !== undefined && resourceKey(domain.certificateId) === resourceKey(doc.id)),
    );
    const trustUsers = apps.filter((app) => {
      const ingress = (appView(app).ingress ?? {}) as Record<string, unknown>;
      return VERIFICATION_REFERENCE_MEMBERS.some((member) => ((ingress[member] as string[] | undefined) ?? []).some((id) => resourceKey(id) === resourceKey(doc.id)));
    });
    if (trustUsers.length > 0) {
      throw errors.conflict('CertificateInUse', `The certificate '${doc.name}' is trust material of: ${trustUsers.map((app) => app.name).join(', ')}. Remove the references first.`);
    }
    if (users.length > 0) {
      throw errors.conflict('CertificateInUse', `The certificate '${doc.name}' is bound to custom domains of: ${users.map((app) => app.name).join(', ')}. Remove the bindings first.`);
    }
  },
};

/**
 * Reads an upload's `properties.value` (base64 PKCS12) and `properties.password` before the write:
 * the facts to store, and the secret. A bad PKCS12 and a wrong password are distinct 400s. A legacy
 * file (RC2 or RC4, from `openssl pkcs12 -export -legacy` or older Windows exports), which TLS cannot
 * load, is converted to AES-256 with a SHA-256 MAC (same password) and that is stored; a file the
 * ingress still cannot load (checked with the ingress's own TLS options) is a 400 that says how to
 * convert it.
 */
export async function readUploadedCertificate(body: unknown): Promise<{ properties: Record<string, unknown>; secret: Uint8Array }> {
  const properties = (body as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  const value = properties['value'] ?? properties['Value'];
  const password = properties['password'] ?? properties['Password'] ?? '';
  if (properties['certificateKeyVaultProperties'] !== undefined) {
    throw errors.invalidParameter('Certificates from Key Vault are not supported by certgate; upload the PKCS12 in properties.value.', 'properties.certificateKeyVaultProperties');
  }
  const opened = await openServerPkcs12(value, password, { value: 'properties.value', password: 'properties.password' });
  return { properties: certificateFacts(opened.certificate, 'properties.value'), secret: opened.secret };
}

/** The JSON paths a PKCS12 upload's two members are named by in errors. */
export interface Pkcs12Paths {
  readonly value: string;
  readonly password: string;
}

/**
 * Opens a base64 PKCS12 and its password as a server certificate (the environment certificates'
 * `value` and the environments' `customDomainConfiguration.certificateValue`): its leaf, and the
 * secret to keep. Bad base64 or PKCS12, a wrong password and a file the ingress cannot load are
 * distinct 400s naming their JSON path.
 */
export async function openServerPkcs12(value: unknown, password: unknown, at: Pkcs12Paths): Promise<{ certificate: X509Certificate; secret: Uint8Array }> {
  if (typeof value !== 'string' || value.length === 0) {
    throw errors.invalidContent(`The property '${at.value}' (the base64 PKCS12 file) is required.`, at.value);
  }
  if (typeof password !== 'string') throw errors.invalidContent(`The property '${at.password}' must be a string.`, at.password);
  if (!/^[A-Za-z0-9+/=\s]+$/.test(value)) throw errors.invalidCertificate('InvalidCertificateValue', `The property '${at.value}' is not base64.`, at.value);
  const pfx = Buffer.from(value, 'base64');
  const read = await readPkcs12(pfx, password);
  if (!read.ok && read.code === 'Pkcs12Unsupported') throw notLoadable(read.message, at.value);
  if (!read.ok) {
    const code = read.code === 'Pkcs12WrongPassword' ? 'InvalidCertificatePassword' : 'InvalidCertificateValue';
    const target = read.code === 'Pkcs12WrongPassword' ? at.password : at.value;
    const message =
      read.code === 'Pkcs12WrongPassword'
        ? `The password does not open the PKCS12 file in ${at.value} (wrong password).`
        : `${at.value} is not a usable PKCS12 file: ${read.message}`;
    throw errors.invalidCertificate(code, message, target, read.code);
  }
  // Converted once here, so the ingress never needs OpenSSL's legacy provider.
  const stored = read.legacyCiphers.length === 0 ? pfx : await exportPkcs12({ certPem: read.certPem, keyPem: read.keyPem, chainPem: read.chainPem, password });
  try {
    checkServerCredentials({ kind: 'pkcs12', pfx: stored, password });
  } catch (error) {
    throw notLoadable((error as Error).message, at.value);
  }
  return { certificate: read.certificate, secret: encodeCertificateSecret({ pfx: stored, password }) };
}

function notLoadable(reason: string, at: string): ArmError {
  // The PKI reader's reason already ends with the conversion command; the server adds it otherwise.
  const convert = reason.includes(PKCS12_CONVERSION) ? '' : ` Convert the file to AES-256 with: ${PKCS12_CONVERSION} and upload new.p12.`;
  return errors.certificateNotLoadable(`The certgate server cannot load the PKCS12 file in ${at} (${reason}).${convert}`, at);
}

/** The facts an environment certificate shows, of any certificateType; `at` names the member a bad one is refused at. */
export function certificateFacts(certificate: X509Certificate, at: string, certificateType = 'ServerSSLCertificate'): Record<string, unknown> {
  const info = describeCertificate(certificate);
  if (typeof info === 'string') throw errors.invalidCertificate('InvalidCertificateValue', `${at} is not a usable PKCS12 file: ${info}`, at);
  return {
    subjectName: info.subject,
    issuer: info.issuer,
    issueDate: new Date(info.notBefore).toISOString(),
    expirationDate: new Date(info.notAfter).toISOString(),
    // Azure's thumbprint is SHA-1, upper-case hex; certgate adds SHA-256 (equal to the XFCC Hash form).
    thumbprint: sha1Thumbprint(certificate),
    thumbprintSha256: info.fingerprint,
    subjectAlternativeNames: [...info.san.dns],
    publicKeyHash: Buffer.from(info.spkiSha256, 'hex').toString('base64'),
    certificateType,
  };
}

/** Whether a certificate stored with these facts covers `hostname` (exact or one-label wildcard). */
export function certificateCovers(doc: StoredResource, hostname: string): boolean {
  const names = (doc.properties['subjectAlternativeNames'] as string[] | undefined) ?? [];
  const host = hostname.toLowerCase();
  return names.some((name) => {
    const pattern = name.toLowerCase();
    if (pattern === host) return true;
    return pattern.startsWith('*.') && host.endsWith(pattern.slice(1)) && !host.slice(0, -pattern.length + 1).includes('.');
  });
}
