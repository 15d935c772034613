// Uploads of client-certificate trust material (certificateType ClientCertificateTrustAnchor,
// ClientCertificateIntermediate, ClientCertificateRevocationList: certgate extensions). The value
// is the base64 of a PEM or DER file holding one certificate or one CRL, without a private key.
// Everything is checked before the write with the app library's own readers (pki/facts.ts,
// app-auth/crl.ts), so what is stored is what the ingress's verifier loads; a bad upload is a 400
// naming the member and changes nothing.
import { X509Certificate } from 'node:crypto';
import { describeCertificate, hasKeyUsage, KEY_USAGE } from '../../pki/facts.ts';
import { certificateFacts } from './certificates.ts';
import type { CertificateInfo } from '../../pki/facts.ts';
import { pemBlocks } from '../../pki/pem.ts';
import { compileCrl } from '../../app-auth/crl.ts';
import { CERTIFICATE_TYPE, resourceKey, type StoredResource } from '../../model/resources.ts';
import { CRL_TYPE, decodeTrustMaterial, encodeTrustMaterial, INTERMEDIATE_TYPE, TRUST_ANCHOR_TYPE, type TrustMaterial, type TrustMaterialType } from '../../model/trust.ts';
import { errors, type ArmError } from '../arm/errors.ts';

export interface TrustMaterialStore {
  list(filter: { type: string; scope: string }): Promise<StoredResource[]>;
  getSecret(id: string): Promise<Uint8Array | undefined>;
}

const bad = (message: string, target = 'properties.value'): ArmError => errors.invalidCertificate('InvalidCertificateValue', message, target);

/** The facts to store and the secret (the DER), or a 400. `environmentId` scopes a CRL's issuer to the environment's own anchors and intermediates. */
export async function readTrustMaterial(
  type: TrustMaterialType,
  properties: Record<string, unknown>,
  store: TrustMaterialStore,
  environmentId: string,
  now = Date.now(),
): Promise<{ properties: Record<string, unknown>; secret: Uint8Array }> {
  const value = properties['value'] ?? properties['Value'];
  if (properties['password'] !== undefined && properties['password'] !== '') {
    throw errors.invalidParameter(`A ${type} has no password: it is public material (a certificate or a CRL), never a private key.`, 'properties.password');
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw errors.invalidContent(`The property 'properties.value' (the base64 of the PEM or DER file) is required.`, 'properties.value');
  }
  if (!/^[A-Za-z0-9+/=\s]+$/.test(value)) throw bad("The property 'properties.value' is not base64.");
  const bytes = Buffer.from(value, 'base64');
  const der = toDer(bytes, type === CRL_TYPE ? ['X509 CRL', 'CRL'] : ['CERTIFICATE'], type);
  if (type === CRL_TYPE) return { properties: crlFacts(der, await environmentIssuers(store, environmentId), now), secret: encodeTrustMaterial({ type, der }) };
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(der);
  } catch (error) {
    throw bad(`properties.value is not an X.509 certificate: ${(error as Error).message}`);
  }
  const info = describeCertificate(certificate);
  if (typeof info === 'string') throw bad(`properties.value: ${info}`);
  // An anchor that cannot issue would verify nobody; a leaf uploaded here is a mistake (pin it with clientCertificateAllow instead).
  const v1Root = type === TRUST_ANCHOR_TYPE && info.version === 1 && info.selfIssued;
  if (!v1Root && (info.basicConstraints?.ca !== true || !hasKeyUsage(info, KEY_USAGE.keyCertSign))) {
    throw bad(`properties.value: "${info.subject}" is not a CA certificate (basicConstraints cA and keyUsage keyCertSign); pin device certificates with the app's clientCertificateAllow.thumbprints instead.`);
  }
  if (info.unsupportedCritical.length > 0) throw bad(`properties.value: unsupported critical extension ${info.unsupportedCritical.join(', ')}`);
  if (now > info.notAfter) throw bad(`properties.value: "${info.subject}" expired at ${new Date(info.notAfter).toISOString()}; an expired ${type} verifies no client.`);
  return { properties: certificateFacts(certificate, 'properties.value', type), secret: encodeTrustMaterial({ type, der }) };
}

/** One PEM block of the expected label, or DER; a private key anywhere is refused (it must never be uploaded here). */
function toDer(bytes: Buffer, labels: readonly string[], type: TrustMaterialType): Buffer {
  const text = bytes.toString('latin1');
  if (!text.includes('-----BEGIN ')) {
    if (bytes[0] !== 0x30) throw bad(`properties.value is neither PEM nor DER (expected ${labels[0]}).`);
    return bytes;
  }
  const blocks = pemBlocks(text);
  if (blocks.some((block) => block.label.includes('PRIVATE KEY'))) {
    throw bad(`properties.value holds a private key: a ${type} is public material. Nothing was stored; treat that key as exposed if it was sent over a network.`);
  }
  const matching = blocks.filter((block) => labels.includes(block.label));
  if (matching.length !== 1 || blocks.length !== 1) {
    throw bad(`properties.value must hold exactly one "BEGIN ${labels[0]}" PEM block (found ${blocks.map((block) => block.label).join(', ') || 'none'}).`);
  }
  const body = matching[0]!.text.replace(/-----(BEGIN|END) [A-Z0-9 ]+-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}

/** A CRL must be current and signed by an anchor or intermediate already uploaded to the same environment. */
function crlFacts(der: Buffer, environmentCas: readonly CertificateInfo[], now: number): Record<string, unknown> {
  let crl;
  try {
    crl = compileCrl(der, 0);
  } catch (error) {
    throw bad(`properties.value is not a usable CRL: ${(error as Error).message.replace(/^crls\[0\]: /, '')}`);
  }
  if (crl.nextUpdate !== undefined && now > crl.nextUpdate) {
    throw bad(`properties.value: the CRL is past its nextUpdate (${new Date(crl.nextUpdate).toISOString()}); upload a current one.`);
  }
  const issuers = environmentCas.filter((info) => info.subjectDer === crl.issuerDer);
  const signer = issuers.find((info) => crl.signedBy(info));
  if (signer === undefined) {
    throw bad(
      issuers.length === 0
        ? "properties.value: the CRL's issuer is none of the environment's uploaded trust anchors or intermediates; upload its CA first."
        : `properties.value: the CRL names "${issuers[0]!.subject}" as issuer but is not signed by its key (or that CA may not sign CRLs).`,
    );
  }
  return {
    subjectName: signer.subject,
    issuer: signer.subject,
    issueDate: new Date(crl.thisUpdate).toISOString(),
    ...(crl.nextUpdate === undefined ? {} : { expirationDate: new Date(crl.nextUpdate).toISOString() }),
    thumbprintSha256: signer.fingerprint,
    revokedCertificates: crl.revoked.size,
    certificateType: CRL_TYPE,
  };
}

/** The environment's trust material, by certificate resource key. */
async function environmentMaterial(store: TrustMaterialStore, environmentId: string): Promise<Map<string, TrustMaterial>> {
  const out = new Map<string, TrustMaterial>();
  for (const doc of await store.list({ type: CERTIFICATE_TYPE, scope: environmentId })) {
    const secret = await store.getSecret(doc.id);
    const material = secret ? safeDecode(secret) : undefined;
    if (material) out.set(resourceKey(doc.id), material);
  }
  return out;
}

/** The environment's uploaded anchors and intermediates, described. */
async function environmentIssuers(store: TrustMaterialStore, environmentId: string): Promise<CertificateInfo[]> {
  const out: CertificateInfo[] = [];
  for (const material of (await environmentMaterial(store, environmentId)).values()) {
    if (material.type !== TRUST_ANCHOR_TYPE && material.type !== INTERMEDIATE_TYPE) continue;
    const info = describeCertificate(new X509Certificate(material.der));
    if (typeof info !== 'string') out.push(info);
  }
  return out;
}

function safeDecode(secret: Uint8Array) {
  try {
    return decodeTrustMaterial(secret);
  } catch {
    return undefined;
  }
}

/** Looks trust material up by id as an app references it: only the app's own environment's (read once, before the check). */
export async function environmentTrustMaterial(store: TrustMaterialStore, environmentId: string): Promise<(id: string) => TrustMaterial | undefined> {
  const material = await environmentMaterial(store, environmentId);
  const scope = `${resourceKey(environmentId)}/certificates/`;
  return (id) => (resourceKey(id).startsWith(scope) ? material.get(resourceKey(id)) : undefined);
}
