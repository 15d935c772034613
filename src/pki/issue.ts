import { createHash, createPrivateKey, KeyObject, X509Certificate } from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
// @peculiar/x509 (through tsyringe) needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { PkiError } from './codes.ts';
import { isSelfSigned } from './facts.ts';

x509.cryptoProvider.set(globalThis.crypto);

export type KeyType = 'ec-p256' | 'rsa-2048' | 'rsa-3072';

/**
 * A certificate with its private key.
 * `chainPem` holds the issuing intermediates above this certificate, nearest first, without the
 * self-signed root (which the peer must already trust); it is '' for roots, self-signed
 * certificates and certificates issued directly by a root. So the TLS `cert` option is
 * `certPem + chainPem` (see tlsOptions) and `key` is `keyPem`.
 */
export type IssuedCertificate = {
  certPem: string;
  /** PKCS#8 PEM */
  keyPem: string;
  chainPem: string;
  certificate: X509Certificate;
};

type ValidityOptions = {
  validityDays?: number;
  notBefore?: Date;
  notAfter?: Date;
};

type SubjectAltNameOptions = {
  dnsNames?: string[];
  ipAddresses?: string[];
  uris?: string[];
  emails?: string[];
};

export type CreateCaOptions = ValidityOptions & {
  commonName: string;
  keyType?: KeyType;
  pathLength?: number;
};

export type IssueCertificateOptions = ValidityOptions &
  SubjectAltNameOptions & {
    issuer: IssuedCertificate;
    commonName: string;
    kind: 'server' | 'client' | 'intermediate';
    keyType?: KeyType;
    /** For intermediates; defaults to 0 (it may issue leaves only). */
    pathLength?: number;
    /**
     * Replaces the kind's EKU: names such as 'serverAuth' or dotted OIDs; [] omits the extension.
     */
    extendedKeyUsages?: string[];
  };

export type CreateSelfSignedOptions = ValidityOptions &
  SubjectAltNameOptions & {
    commonName: string;
    kind: 'server' | 'client';
    keyType?: KeyType;
    extendedKeyUsages?: string[];
  };

const DAY_MS = 24 * 60 * 60 * 1000;
const LEAF_VALIDITY_DAYS = 397;
const CA_VALIDITY_DAYS = 3650;
// Backdating absorbs clock skew between this host and the peers that check the certificate.
const BACKDATE_MS = 5 * 60 * 1000;

type KeyProfile = {
  generate: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams;
  signing: webcrypto.Algorithm | webcrypto.EcdsaParams;
};

const RSA_EXPONENT = new Uint8Array([1, 0, 1]);

const KEY_PROFILES: Record<KeyType, KeyProfile> = {
  'ec-p256': {
    generate: { name: 'ECDSA', namedCurve: 'P-256' },
    signing: { name: 'ECDSA', hash: 'SHA-256' },
  },
  'rsa-2048': {
    generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: RSA_EXPONENT, hash: 'SHA-256' },
    signing: { name: 'RSASSA-PKCS1-v1_5' },
  },
  'rsa-3072': {
    generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: RSA_EXPONENT, hash: 'SHA-256' },
    signing: { name: 'RSASSA-PKCS1-v1_5' },
  },
};

// Issuers loaded from PEM may use curves other than the P-256 we generate.
const EC_CURVES: Record<string, { namedCurve: string; hash: string }> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
  secp521r1: { namedCurve: 'P-521', hash: 'SHA-512' },
};

type SigningKey = { key: webcrypto.CryptoKey; algorithm: webcrypto.Algorithm | webcrypto.EcdsaParams };

async function generateKeyPair(keyType: KeyType): Promise<webcrypto.CryptoKeyPair> {
  const profile = KEY_PROFILES[keyType];
  return (await crypto.subtle.generateKey(profile.generate, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

function importSigningKey(keyPem: string): SigningKey {
  const keyObject = createPrivateKey(keyPem);
  const type = keyObject.asymmetricKeyType;
  if (type === 'rsa') {
    return {
      key: keyObject.toCryptoKey({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']),
      algorithm: { name: 'RSASSA-PKCS1-v1_5' },
    };
  }
  const curve = type === 'ec' ? EC_CURVES[keyObject.asymmetricKeyDetails?.namedCurve ?? ''] : undefined;
  if (!curve) {
    throw new PkiError('IssuerKeyUnsupported', `unsupported issuer key type: ${type} ${keyObject.asymmetricKeyDetails?.namedCurve ?? ''}`.trim());
  }
  return {
    key: keyObject.toCryptoKey({ name: 'ECDSA', namedCurve: curve.namedCurve }, false, ['sign']),
    algorithm: { name: 'ECDSA', hash: curve.hash },
  };
}

/** Random positive 16-byte serial whose first byte is non-zero, so DER keeps all 16 bytes. */
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

function validity(opts: ValidityOptions, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const notBefore = opts.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + (opts.validityDays ?? defaultDays) * DAY_MS);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new PkiError('ValidityInvalid', `notAfter (${notAfter.toISOString()}) must be after notBefore (${notBefore.toISOString()})`);
  }
  return { notBefore, notAfter };
}

function subjectAltNames(opts: SubjectAltNameOptions): x509.Extension[] {
  for (const ip of opts.ipAddresses ?? []) {
    if (isIP(ip) === 0) throw new PkiError('IpAddressInvalid', `not an IP address: ${ip}`);
  }
  const names: x509.JsonGeneralNames = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(opts.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(opts.emails ?? []).map((value) => ({ type: 'email' as const, value })),
  ];
  return names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [];
}

function extendedKeyUsage(usages: string[]): x509.Extension[] {
  if (usages.length === 0) return [];
  const oids = usages.map((usage) => {
    if (/^\d+(\.\d+)+$/.test(usage)) return usage;
    const oid = (x509.ExtendedKeyUsage as Record<string, string | undefined>)[usage];
    if (!oid) throw new PkiError('ExtendedKeyUsageUnknown', `unknown extended key usage: ${usage}`);
    return oid;
  });
  return [new x509.ExtendedKeyUsageExtension(oids)];
}

function leafExtensions(
  kind: 'server' | 'client',
  keyType: KeyType,
  opts: SubjectAltNameOptions & { extendedKeyUsages?: string[] },
): x509.Extension[] {
  const usage =
    kind === 'server' && keyType !== 'ec-p256'
      ? // RSA key exchange (TLS 1.2 without ECDHE) encrypts the premaster secret to the server key.
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  const defaultEku = kind === 'server' ? ['serverAuth'] : ['clientAuth'];
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    ...extendedKeyUsage(opts.extendedKeyUsages ?? defaultEku),
    ...subjectAltNames(opts),
  ];
}

function toIssued(cert: x509.X509Certificate, keyPem: string, chainPem: string): IssuedCertificate {
  const certificate = new X509Certificate(Buffer.from(cert.rawData));
  return { certPem: pemWithNewline(certificate.toString()), keyPem, chainPem, certificate };
}

function pemWithNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

function privateKeyPem(key: webcrypto.CryptoKey): string {
  return pemWithNewline(KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string);
}



async function selfSigned(
  commonName: string,
  keyType: KeyType,
  dates: { notBefore: Date; notAfter: Date },
  extensions: x509.Extension[],
): Promise<IssuedCertificate> {
  const keys = await generateKeyPair(keyType);
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [commonName] }],
    ...dates,
    keys,
    signingAlgorithm: KEY_PROFILES[keyType].signing,
    extensions: [...extensions, ski, new x509.AuthorityKeyIdentifierExtension(ski.keyId)],
  });
  return toIssued(cert, privateKeyPem(keys.privateKey), '');
}

/** Self-signed root CA. */
export async function createCa(opts: CreateCaOptions): Promise<IssuedCertificate> {
  const keyType = opts.keyType ?? 'ec-p256';
  return selfSigned(opts.commonName, keyType, validity(opts, CA_VALIDITY_DAYS), [
    new x509.BasicConstraintsExtension(true, opts.pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ]);
}

/** Self-signed end-entity certificate (CA:FALSE), e.g. a client certificate nobody issued. */
export async function createSelfSigned(opts: CreateSelfSignedOptions): Promise<IssuedCertificate> {
  const keyType = opts.keyType ?? 'ec-p256';
  return selfSigned(
    opts.commonName,
    keyType,
    validity(opts, LEAF_VALIDITY_DAYS),
    leafExtensions(opts.kind, keyType, opts),
  );
}

/** Certificate signed by `issuer`, which must be a CA with its key. */
export async function issueCertificate(opts: IssueCertificateOptions): Promise<IssuedCertificate> {
  const { issuer } = opts;
  if (!issuer.certificate.ca) {
    throw new PkiError('IssuerNotCa', `issuer "${issuer.certificate.subject}" is not a CA certificate`);
  }
  const keyType = opts.keyType ?? 'ec-p256';
  const signer = importSigningKey(issuer.keyPem);
  const issuerCert = new x509.X509Certificate(issuer.certPem);
  const issuerSki = issuerCert.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = issuerSki
    ? new x509.AuthorityKeyIdentifierExtension(issuerSki.keyId)
    : await x509.AuthorityKeyIdentifierExtension.create(issuerCert.publicKey);

  const keys = await generateKeyPair(keyType);
  const kindExtensions =
    opts.kind === 'intermediate'
      ? [
          new x509.BasicConstraintsExtension(true, opts.pathLength ?? 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          ...extendedKeyUsage(opts.extendedKeyUsages ?? []),
          ...subjectAltNames(opts),
        ]
      : leafExtensions(opts.kind, keyType, opts);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [opts.commonName] }],
    issuer: issuerCert.subjectName,
    ...validity(opts, opts.kind === 'intermediate' ? CA_VALIDITY_DAYS : LEAF_VALIDITY_DAYS),
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    extensions: [...kindExtensions, await x509.SubjectKeyIdentifierExtension.create(keys.publicKey), aki],
  });
  const chainPem = isSelfSigned(issuer.certificate) ? '' : issuer.certPem + issuer.chainPem;
  return toIssued(cert, privateKeyPem(keys.privateKey), chainPem);
}

/** The `cert` (leaf followed by its intermediates) and `key` options of tls.createServer/connect. */
export function tlsOptions(issued: IssuedCertificate): { cert: string; key: string } {
  return { cert: issued.certPem + issued.chainPem, key: issued.keyPem };
}

/** Lower-case hex SHA-256 of the certificate's DER: the X-Forwarded-Client-Cert `Hash`. */
export function sha256Thumbprint(certPemOrDer: string | Uint8Array): string {
  const der = new X509Certificate(typeof certPemOrDer === 'string' ? certPemOrDer : Buffer.from(certPemOrDer)).raw;
  return createHash('sha256').update(der).digest('hex');
}
