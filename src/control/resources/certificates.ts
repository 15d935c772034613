// Microsoft.App/managedEnvironments/certificates: a PKCS12 and its password go in; the certificate's
// public facts come out. The PKCS12 and password are kept only as the resource's secret (for the
// ingress to serve custom domains) and are never returned.
import type { X509Certificate } from 'node:crypto';
import { describeCertificate, sha1Thumbprint } from '../../pki/facts.ts';
import { CERTIFICATE_TYPE, type StoredResource } from '../../model/resources.ts';
import { encodeCertificateSecret } from '../../model/documents.ts';
import { readPkcs12 } from '../../pki/pkcs12.ts';
import { checkServerCredentials } from '../../ingress/snapshot.ts';
import { errors, type ArmError } from '../arm/errors.ts';
import { CERTIFICATE_SCHEMA } from '../validation/schemas.ts';
import { renderTracked } from './render.ts';
import type { ResourceKind } from './tracked.ts';
import { APP_TYPE, appView, resourceKey } from '../../model/resources.ts';

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
    const users = (await context.store.list({ type: APP_TYPE })).filter((app) =>
      (appView(app).ingress?.customDomains ?? []).some((domain) => domain.certificateId !== undefined && resourceKey(domain.certificateId) === resourceKey(doc.id)),
    );
    if (users.length > 0) {
      throw errors.conflict('CertificateInUse', `The certificate '${doc.name}' is bound to custom domains of: ${users.map((app) => app.name).join(', ')}. Remove the bindings first.`);
    }
  },
};

/**
 * What an operator runs to turn a legacy PKCS12 (RC2/RC4, as `openssl pkcs12 -export -legacy` or
 * old Windows exports make) into one the server loads. Two steps: `-export` reads its input twice,
 * so it cannot read a pipe.
 */
export const PKCS12_CONVERSION =
  'openssl pkcs12 -legacy -in old.p12 -nodes -out old.pem && openssl pkcs12 -export -in old.pem -out new.p12 && rm old.pem';

/**
 * Reads an upload's `properties.value` (base64 PKCS12) and `properties.password` before the write:
 * the facts to store, and the secret. A bad PKCS12 and a wrong password are distinct 400s; so is a
 * file the server's ingress cannot load (checked with the ingress's own TLS options, in this server
 * process), whose message says how to convert it.
 */
export async function readUploadedCertificate(body: unknown): Promise<{ properties: Record<string, unknown>; secret: Uint8Array }> {
  const properties = (body as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  const value = properties['value'] ?? properties['Value'];
  const password = properties['password'] ?? properties['Password'] ?? '';
  if (properties['certificateKeyVaultProperties'] !== undefined) {
    throw errors.invalidParameter('Certificates from Key Vault are not supported by certgate; upload the PKCS12 in properties.value.', 'properties.certificateKeyVaultProperties');
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw errors.invalidContent("The property 'properties.value' (the base64 PKCS12 file) is required.", 'properties.value');
  }
  if (typeof password !== 'string') throw errors.invalidContent("The property 'properties.password' must be a string.", 'properties.password');
  if (!/^[A-Za-z0-9+/=\s]+$/.test(value)) throw errors.invalidCertificate('InvalidCertificateValue', "The property 'properties.value' is not base64.", 'properties.value');
  const pfx = Buffer.from(value, 'base64');
  const read = await readPkcs12(pfx, password);
  if (!read.ok && read.code === 'Pkcs12Unsupported') throw notLoadable(read.message);
  if (!read.ok) {
    const code = read.code === 'Pkcs12WrongPassword' ? 'InvalidCertificatePassword' : 'InvalidCertificateValue';
    const target = read.code === 'Pkcs12WrongPassword' ? 'properties.password' : 'properties.value';
    const message =
      read.code === 'Pkcs12WrongPassword'
        ? 'The password does not open the PKCS12 file in properties.value (wrong password).'
        : `properties.value is not a usable PKCS12 file: ${read.message}`;
    throw errors.invalidCertificate(code, message, target, read.code);
  }
  try {
    checkServerCredentials({ kind: 'pkcs12', pfx, password });
  } catch (error) {
    throw notLoadable((error as Error).message);
  }
  return { properties: certificateFacts(read.certificate), secret: encodeCertificateSecret({ pfx, password }) };
}

function notLoadable(reason: string): ArmError {
  // The reason from the PKCS12 reader speaks of "this Node.js process" (right for the CLI); here it is the server.
  const cause = reason.replace(/,? ?which this Node\.js process cannot run/, ', which the server cannot decrypt').replace(/; start Node\.js with .*$/, '');
  return errors.certificateNotLoadable(
    `The certgate server's ingress cannot load the PKCS12 file in properties.value (${cause}). ` +
      `Legacy files (RC2 or RC4 encryption, from 'openssl pkcs12 -export -legacy' or old Windows exports) must be converted; run: ${PKCS12_CONVERSION} and upload new.p12.`,
  );
}

function certificateFacts(certificate: X509Certificate): Record<string, unknown> {
  const info = describeCertificate(certificate);
  if (typeof info === 'string') throw errors.invalidCertificate('InvalidCertificateValue', `properties.value is not a usable PKCS12 file: ${info}`, 'properties.value');
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
    certificateType: 'ServerSSLCertificate',
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
