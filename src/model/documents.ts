// Builders for the ARM documents of environments, apps and certificates, and the secret that an
// environment certificate keeps beside its document.
import { createHash } from 'node:crypto';
import type { IngressSettings } from './ingress.ts';
import {
  APP_TYPE,
  CERTIFICATE_TYPE,
  ENVIRONMENT_TYPE,
  appId,
  certificateId,
  environmentId,
  type ResourceDocument,
} from './resources.ts';

export const DEFAULT_LOCATION = 'local';

export function environmentDocument(input: {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  defaultDomain: string;
  location?: string;
  properties?: Record<string, unknown>;
}): ResourceDocument {
  return {
    id: environmentId(input.subscriptionId, input.resourceGroup, input.name),
    name: input.name,
    type: ENVIRONMENT_TYPE,
    location: input.location ?? DEFAULT_LOCATION,
    properties: { ...input.properties, defaultDomain: input.defaultDomain },
  };
}

export function appDocument(input: {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  environmentId: string;
  ingress?: IngressSettings;
  location?: string;
}): ResourceDocument {
  return {
    id: appId(input.subscriptionId, input.resourceGroup, input.name),
    name: input.name,
    type: APP_TYPE,
    location: input.location ?? DEFAULT_LOCATION,
    properties: {
      managedEnvironmentId: input.environmentId,
      environmentId: input.environmentId,
      configuration: input.ingress ? { ingress: input.ingress } : {},
      template: { containers: [] },
    },
  };
}

export function certificateDocument(input: {
  environmentId: string;
  name: string;
  location?: string;
  properties: Record<string, unknown>;
}): ResourceDocument {
  return {
    id: certificateId(input.environmentId, input.name),
    name: input.name,
    type: CERTIFICATE_TYPE,
    location: input.location ?? DEFAULT_LOCATION,
    properties: input.properties,
  };
}

/**
 * An environment's default domain: `<name>.<base domain>`, or, when another environment already
 * has that, `<name>-<4 hex digits of its id>.<base domain>`. Computed once at creation and stored.
 */
export function defaultDomainFor(environmentResourceId: string, name: string, baseDomain: string, taken: (domain: string) => boolean): string {
  const plain = `${name}.${baseDomain}`.toLowerCase();
  if (!taken(plain)) return plain;
  const suffix = createHash('sha256').update(environmentResourceId.toLowerCase()).digest('hex').slice(0, 4);
  return `${name}-${suffix}.${baseDomain}`.toLowerCase();
}

/** What an uploaded environment certificate keeps as its secret: the PKCS12 and its password. */
export interface CertificateSecret {
  readonly pfx: Uint8Array;
  readonly password: string;
}

export function encodeCertificateSecret(secret: CertificateSecret): Uint8Array {
  return Buffer.from(JSON.stringify({ pfx: Buffer.from(secret.pfx).toString('base64'), password: secret.password }));
}

export function decodeCertificateSecret(bytes: Uint8Array): CertificateSecret {
  const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { pfx: string; password: string };
  return { pfx: Buffer.from(parsed.pfx, 'base64'), password: parsed.password };
}

/** What a managed (ACME) certificate keeps as its secret: the key and the chain the directory issued, PEM (and a PEM upload). */
export interface ManagedCertificateSecret {
  readonly certPem: string;
  readonly keyPem: string;
}

export function encodeManagedCertificateSecret(secret: ManagedCertificateSecret): Uint8Array {
  return Buffer.from(JSON.stringify({ certPem: secret.certPem, keyPem: secret.keyPem }));
}

/** A PEM pair (a managed certificate, or a PEM upload) as a secret: the managed certificates' format. */
export const encodePemCertificateSecret = encodeManagedCertificateSecret;

/** A server certificate secret of either format: a PKCS12 with its password, or a PEM pair. */
export function decodeServerCertificateSecret(bytes: Uint8Array): ({ kind: 'pkcs12' } & CertificateSecret) | ({ kind: 'pem' } & ManagedCertificateSecret) {
  const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { pfx?: unknown };
  return typeof parsed.pfx === 'string' ? { kind: 'pkcs12', ...decodeCertificateSecret(bytes) } : { kind: 'pem', ...decodeManagedCertificateSecret(bytes) };
}

export function decodeManagedCertificateSecret(bytes: Uint8Array): ManagedCertificateSecret {
  const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { certPem?: unknown; keyPem?: unknown };
  if (typeof parsed.certPem !== 'string' || typeof parsed.keyPem !== 'string') throw new Error('not a managed certificate secret');
  return { certPem: parsed.certPem, keyPem: parsed.keyPem };
}
