// Client-certificate trust material: certgate's own `certificateType`s of environment
// certificates (Microsoft.App/managedEnvironments/certificates). ACA has `ServerSSLCertificate`
// and `ImagePullTrustedCA`; these three are certgate extensions (docs/management-api.md). The
// public bytes (DER) are kept as the resource's secret, as a PKCS12 is, so reads stay ARM-shaped.

export const TRUST_ANCHOR_TYPE = 'ClientCertificateTrustAnchor';
export const INTERMEDIATE_TYPE = 'ClientCertificateIntermediate';
export const CRL_TYPE = 'ClientCertificateRevocationList';
export const TRUST_MATERIAL_TYPES = [TRUST_ANCHOR_TYPE, INTERMEDIATE_TYPE, CRL_TYPE] as const;
export type TrustMaterialType = (typeof TRUST_MATERIAL_TYPES)[number];

/** ARM's certificateType is an open string: any casing names the type. */
export function trustMaterialType(value: unknown): TrustMaterialType | undefined {
  if (typeof value !== 'string') return undefined;
  return TRUST_MATERIAL_TYPES.find((type) => type.toLowerCase() === value.toLowerCase());
}

export interface TrustMaterial {
  readonly type: TrustMaterialType;
  readonly der: Uint8Array;
}

export function encodeTrustMaterial(material: TrustMaterial): Uint8Array {
  return Buffer.from(JSON.stringify({ trust: material.type, der: Buffer.from(material.der).toString('base64') }));
}

/** Undefined when the secret is not trust material (a PKCS12 secret). */
export function decodeTrustMaterial(bytes: Uint8Array): TrustMaterial | undefined {
  const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { trust?: unknown; der?: unknown };
  const type = trustMaterialType(parsed.trust);
  if (type === undefined || typeof parsed.der !== 'string') return undefined;
  return { type, der: Buffer.from(parsed.der, 'base64') };
}

/** Most anchors (and most intermediates, and CRLs) one app may reference: each is a candidate on every path search. */
export const MAX_TRUST_REFERENCES = 16;
