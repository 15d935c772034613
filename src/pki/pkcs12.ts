import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import { PkiError, type PkiErrorCode } from './codes.ts';
import type { KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { isSelfSigned, issuedBy } from './facts.ts';
import { decryptWithLegacyProvider } from './legacy-cipher.ts';
import { certificatesInPem } from './pem.ts';

export type ExportPkcs12Options = {
  certPem: string;
  keyPem: string;
  /** Intermediates to include after the certificate (a root may be included too). */
  chainPem?: string;
  password: string;
  /**
   * false (default): PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for the key and the certificates,
   * SHA-256 MAC, as `openssl pkcs12 -export` in OpenSSL 3.
   * true: pbeWithSHAAnd3-KeyTripleDES-CBC for the key and the certificates, SHA-1 MAC, for
   * clients that predate PBES2 (older Windows, macOS, Java 8).
   */
  legacy?: boolean;
  friendlyName?: string;
};

/** The PKCS#12 codes of the PKI catalog (codes.ts). */
export type Pkcs12ErrorCode = Extract<PkiErrorCode, `Pkcs12${string}`>;

export type ReadPkcs12Result =
  | {
      ok: true;
      certPem: string;
      keyPem: string;
      /** The issuers above the certificate found in the file, nearest first, without the self-signed root. */
      chainPem: string;
      certificate: X509Certificate;
      /** chainPem's certificates. */
      chain: X509Certificate[];
      /**
       * The ciphers of OpenSSL's legacy provider the file needed (RC2, RC4), decrypted in a child
       * process (legacy-cipher.ts): TLS cannot load such a file, convert it (exportPkcs12).
       */
      legacyCiphers: string[];
    }
  | { ok: false; code: Pkcs12ErrorCode; message: string };

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  pbes2: '1.2.840.113549.1.5.13',
  pbeSha1TripleDes: '1.2.840.113549.1.12.1.3',
} as const;

const AES_CBC_OIDS = new Set(['2.16.840.1.101.3.4.1.2', '2.16.840.1.101.3.4.1.22', '2.16.840.1.101.3.4.1.42']);

// RFC 7292 appendix C: the SHA-1 based password-based encryption schemes, as Node cipher names.
// RC2 and RC4 are only in OpenSSL's legacy provider (legacy-cipher.ts runs them apart).
const PKCS12_PBE: Record<string, { cipher: string; keyLength: number; ivLength: number }> = {
  '1.2.840.113549.1.12.1.1': { cipher: 'rc4', keyLength: 16, ivLength: 0 },
  '1.2.840.113549.1.12.1.2': { cipher: 'rc4-40', keyLength: 5, ivLength: 0 },
  [OID.pbeSha1TripleDes]: { cipher: 'des-ede3-cbc', keyLength: 24, ivLength: 8 },
  '1.2.840.113549.1.12.1.4': { cipher: 'des-ede-cbc', keyLength: 16, ivLength: 8 },
  '1.2.840.113549.1.12.1.5': { cipher: 'rc2-cbc', keyLength: 16, ivLength: 8 },
  '1.2.840.113549.1.12.1.6': { cipher: 'rc2-40-cbc', keyLength: 5, ivLength: 8 },
};

// OpenSSL 3's default for both the encryption and the MAC.
const ITERATIONS = 2048;

const engine = new pkijs.CryptoEngine({ name: 'webcrypto', crypto: globalThis.crypto });

class Pkcs12Failure extends PkiError {
  declare readonly code: Pkcs12ErrorCode;
  constructor(code: Pkcs12ErrorCode, message: string) {
    super(code, message);
  }
}

function utf8(password: string): ArrayBuffer {
  return new TextEncoder().encode(password).buffer;
}

/** RFC 7292 appendix B.2 key derivation with SHA-1, as the pbeWithSHAAnd* schemes use. */
function pkcs12Kdf(password: string, salt: Uint8Array, iterations: number, id: 1 | 2, length: number): Buffer {
  const u = 20;
  const v = 64;
  // The password is a BMPString (UTF-16BE) including its two-byte NUL terminator.
  const bmp = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) bmp.writeUInt16BE(password.charCodeAt(i), i * 2);
  const repeatToBlocks = (src: Uint8Array): Buffer => {
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length] ?? 0;
    return out;
  };
  const input = Buffer.concat([repeatToBlocks(salt), repeatToBlocks(bmp)]);
  const diversifier = Buffer.alloc(v, id);
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let a = createHash('sha1').update(diversifier).update(input).digest();
    for (let r = 1; r < iterations; r++) a = createHash('sha1').update(a).digest();
    blocks.push(a);
    // Each v-byte block I_j of the input becomes (I_j + B + 1) mod 2^(8v), B being `a` repeated.
    for (let j = 0; j < input.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (input[j + k] ?? 0) + (a[k % u] ?? 0) + carry;
        input[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function pkcs12PbeParams(algorithm: pkijs.AlgorithmIdentifier): { salt: Uint8Array; iterations: number } {
  const names = { salt: 'salt', iterations: 'iterations' };
  const schema = new asn1js.Sequence({
    value: [new asn1js.OctetString({ name: names.salt }), new asn1js.Integer({ name: names.iterations })],
  });
  const parsed = asn1js.compareSchema(algorithm.algorithmParams, algorithm.algorithmParams, schema);
  if (!parsed.verified) throw new Pkcs12Failure('Pkcs12Malformed', 'malformed pkcs-12PbeParams');
  const salt = parsed.result[names.salt] as asn1js.OctetString;
  const iterations = parsed.result[names.iterations] as asn1js.Integer;
  return { salt: salt.valueBlock.valueHexView, iterations: iterations.valueBlock.valueDec };
}

async function encrypt(plain: ArrayBuffer, password: string, legacy: boolean): Promise<pkijs.EncryptedContentInfo> {
  if (!legacy) {
    return engine.encryptEncryptedContentInfo({
      password: utf8(password),
      // pkijs draws the IV itself.
      contentEncryptionAlgorithm: { name: 'AES-CBC', length: 256 } as pkijs.ContentEncryptionAlgorithm,
      hmacHashAlgorithm: 'SHA-256',
      iterationCount: ITERATIONS,
      contentToEncrypt: plain,
      contentType: OID.data,
    });
  }
  const salt = randomBytes(8);
  const key = pkcs12Kdf(password, salt, ITERATIONS, 1, 24);
  const iv = pkcs12Kdf(password, salt, ITERATIONS, 2, 8);
  const cipher = createCipheriv('des-ede3-cbc', key, iv);
  const encrypted = Buffer.concat([cipher.update(new Uint8Array(plain)), cipher.final()]);
  return new pkijs.EncryptedContentInfo({
    contentType: OID.data,
    contentEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({
      algorithmId: OID.pbeSha1TripleDes,
      algorithmParams: new asn1js.Sequence({
        value: [new asn1js.OctetString({ valueHex: salt }), new asn1js.Integer({ value: ITERATIONS })],
      }),
    }),
    encryptedContent: new asn1js.OctetString({ valueHex: encrypted }),
  });
}

/**
 * What an operator runs to turn a legacy PKCS12 (RC2/RC4, as `openssl pkcs12 -export -legacy` or
 * old Windows exports make) into a modern one, when certgate cannot (no legacy provider in its
 * Node). Two steps: `-export` reads its input twice, so it cannot read a pipe.
 */
export const PKCS12_CONVERSION =
  'openssl pkcs12 -legacy -in old.p12 -nodes -out old.pem && openssl pkcs12 -export -in old.pem -out new.p12 && rm old.pem';

/** How the reading goes: whether the MAC proved the password, and the legacy ciphers used. */
interface ReadState {
  readonly passwordVerified: boolean;
  readonly legacyCiphers: Set<string>;
}

/**
 * Decrypts a bag or a safe. When the MAC already proved the password, a failure means a damaged
 * file; without a MAC it most likely means a wrong password.
 */
async function decrypt(info: pkijs.EncryptedContentInfo, password: string, state: ReadState): Promise<Uint8Array> {
  const { passwordVerified } = state;
  const algorithm = info.contentEncryptionAlgorithm;
  const failed = (error: unknown) =>
    new Pkcs12Failure(
      passwordVerified ? 'Pkcs12Malformed' : 'Pkcs12WrongPassword',
      `cannot decrypt PKCS#12 content (${algorithm.algorithmId}): ${errorMessage(error)}`,
    );
  if (algorithm.algorithmId === OID.pbes2) {
    const scheme = new pkijs.PBES2Params({ schema: algorithm.algorithmParams }).encryptionScheme.algorithmId;
    if (!AES_CBC_OIDS.has(scheme)) {
      throw new Pkcs12Failure('Pkcs12Unsupported', `unsupported PBES2 encryption scheme ${scheme}`);
    }
    try {
      return new Uint8Array(await engine.decryptEncryptedContentInfo({ password: utf8(password), encryptedContentInfo: info }));
    } catch (error) {
      throw failed(error);
    }
  }
  const pbe = PKCS12_PBE[algorithm.algorithmId];
  if (!pbe) throw new Pkcs12Failure('Pkcs12Unsupported', `unsupported PKCS#12 encryption algorithm ${algorithm.algorithmId}`);
  const { salt, iterations } = pkcs12PbeParams(algorithm);
  const key = pkcs12Kdf(password, salt, iterations, 1, pbe.keyLength);
  const iv = pkcs12Kdf(password, salt, iterations, 2, pbe.ivLength);
  const encrypted = new Uint8Array(info.getEncryptedContent());
  let decipher;
  try {
    decipher = createDecipheriv(pbe.cipher, key, pbe.ivLength === 0 ? null : iv);
  } catch {
    // Not in OpenSSL's default provider (RC2, RC4): decrypted apart, in a child with the legacy provider.
    const legacy = await decryptWithLegacyProvider(pbe.cipher, key, pbe.ivLength === 0 ? undefined : iv, encrypted);
    if (legacy.ok) {
      state.legacyCiphers.add(pbe.cipher);
      return legacy.plain;
    }
    if (legacy.reason === 'decrypt') throw failed(new Error(legacy.message));
    throw new Pkcs12Failure(
      'Pkcs12Unsupported',
      `the file is encrypted with ${pbe.cipher}, a legacy cipher that certgate's Node.js cannot run even with OpenSSL's legacy provider (${legacy.message}); ` +
        `convert the file to AES-256 with: ${PKCS12_CONVERSION}`,
    );
  }
  try {
    return Buffer.concat([decipher.update(encrypted), decipher.final()]);
  } catch (error) {
    throw failed(error);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Writes a PKCS#12 (PFX) file holding the key, the certificate and `chainPem`, laid out as OpenSSL does. */
export async function exportPkcs12(opts: ExportPkcs12Options): Promise<Uint8Array> {
  const legacy = opts.legacy ?? false;
  const leaf = new X509Certificate(opts.certPem);
  const key = createPrivateKey(opts.keyPem);
  if (!leaf.checkPrivateKey(key)) throw new PkiError('Pkcs12KeyMismatch', 'the private key does not match the certificate');

  // localKeyId pairs the key bag with its certificate bag; OpenSSL uses the certificate's SHA-1.
  const attributes = [
    new pkijs.Attribute({
      type: OID.localKeyId,
      values: [new asn1js.OctetString({ valueHex: createHash('sha1').update(leaf.raw).digest() })],
    }),
    ...(opts.friendlyName === undefined
      ? []
      : [new pkijs.Attribute({ type: OID.friendlyName, values: [new asn1js.BmpString({ value: opts.friendlyName })] })]),
  ];

  const certBags = [leaf, ...certificatesInPem(opts.chainPem ?? '')].map(
    (cert, index) =>
      new pkijs.SafeBag({
        bagId: OID.certBag,
        bagValue: new pkijs.CertBag({
          certId: OID.x509Certificate,
          certValue: new asn1js.OctetString({ valueHex: cert.raw }),
        }),
        ...(index === 0 ? { bagAttributes: attributes } : {}),
      }),
  );
  const certSafe = await encrypt(new pkijs.SafeContents({ safeBags: certBags }).toSchema().toBER(), opts.password, legacy);

  const sealedKey = await encrypt(
    new Uint8Array(key.export({ type: 'pkcs8', format: 'der' })).buffer,
    opts.password,
    legacy,
  );
  const keySafe = new pkijs.SafeContents({
    safeBags: [
      new pkijs.SafeBag({
        bagId: OID.shroudedKeyBag,
        bagValue: new pkijs.PKCS8ShroudedKeyBag({
          encryptionAlgorithm: sealedKey.contentEncryptionAlgorithm,
          encryptedData: sealedKey.encryptedContent,
        }),
        bagAttributes: attributes,
      }),
    ],
  });

  const pfx = new pkijs.PFX({
    parsedValue: {
      integrityMode: 0,
      authenticatedSafe: new pkijs.AuthenticatedSafe({
        safeContents: [
          new pkijs.ContentInfo({
            contentType: OID.encryptedData,
            content: new pkijs.EncryptedData({ encryptedContentInfo: certSafe }).toSchema(),
          }),
          new pkijs.ContentInfo({
            contentType: OID.data,
            content: new asn1js.OctetString({ valueHex: keySafe.toSchema().toBER() }),
          }),
        ],
      }),
    },
  });
  await pfx.makeInternalValues(
    {
      password: utf8(opts.password),
      iterations: ITERATIONS,
      pbkdf2HashAlgorithm: { name: 'SHA-256' },
      hmacHashAlgorithm: legacy ? 'SHA-1' : 'SHA-256',
    },
    engine,
  );
  return new Uint8Array(pfx.toSchema().toBER());
}

type Contents = { keys: Uint8Array[]; certificates: X509Certificate[] };

async function collectBags(bags: pkijs.SafeBag[], password: string, state: ReadState, into: Contents): Promise<void> {
  for (const bag of bags) {
    if (bag.bagId === OID.keyBag) {
      into.keys.push(new Uint8Array((bag.bagValue as pkijs.PrivateKeyInfo).toSchema().toBER()));
    } else if (bag.bagId === OID.shroudedKeyBag) {
      const shrouded = bag.bagValue as pkijs.PKCS8ShroudedKeyBag;
      const info = new pkijs.EncryptedContentInfo({
        contentType: OID.data,
        contentEncryptionAlgorithm: shrouded.encryptionAlgorithm,
        encryptedContent: shrouded.encryptedData,
      });
      into.keys.push(await decrypt(info, password, state));
    } else if (bag.bagId === OID.certBag) {
      const certBag = bag.bagValue as pkijs.CertBag;
      if (certBag.certId === OID.x509Certificate && certBag.certValue instanceof asn1js.OctetString) {
        into.certificates.push(new X509Certificate(certBag.certValue.valueBlock.valueHexView));
      }
    } else if (bag.bagId === OID.safeContentsBag) {
      await collectBags((bag.bagValue as pkijs.SafeContents).safeBags, password, state, into);
    }
    // CRL and secret bags carry nothing a TLS identity needs.
  }
}

async function verifyMac(pfx: pkijs.PFX, content: ArrayBuffer, password: string): Promise<boolean> {
  const mac = pfx.macData;
  if (!mac) return false;
  const hash = engine.getAlgorithmByOID<{ name: string }>(mac.mac.digestAlgorithm.algorithmId);
  if (!('name' in hash)) {
    throw new Pkcs12Failure('Pkcs12Unsupported', `unsupported MAC algorithm ${mac.mac.digestAlgorithm.algorithmId}`);
  }
  const verified = await engine.verifyDataStampedWithPassword({
    password: utf8(password),
    hashAlgorithm: hash.name,
    salt: mac.macSalt.valueBlock.valueHexView.slice().buffer,
    iterationCount: mac.iterations ?? 1,
    contentToVerify: content,
    signatureToVerify: mac.mac.digest.valueBlock.valueHexView.slice().buffer,
  });
  if (!verified) {
    throw new Pkcs12Failure('Pkcs12WrongPassword', 'the PKCS#12 MAC does not verify: wrong password');
  }
  return true;
}

async function parsePkcs12(data: Uint8Array, password: string): Promise<ReadPkcs12Result> {
  let pfx: pkijs.PFX;
  try {
    pfx = pkijs.PFX.fromBER(data);
  } catch (error) {
    throw new Pkcs12Failure('Pkcs12Malformed', `not a PKCS#12 (PFX) file: ${errorMessage(error)}`);
  }
  if (pfx.authSafe.contentType !== OID.data) {
    throw new Pkcs12Failure(
      pfx.authSafe.contentType === OID.signedData ? 'Pkcs12Unsupported' : 'Pkcs12Malformed',
      `unsupported PKCS#12 integrity mode ${pfx.authSafe.contentType} (only password MAC is supported)`,
    );
  }
  if (!(pfx.authSafe.content instanceof asn1js.OctetString)) {
    throw new Pkcs12Failure('Pkcs12Malformed', 'the PKCS#12 authSafe is not an OCTET STRING');
  }
  const content = pfx.authSafe.content.getValue();
  const passwordVerified = await verifyMac(pfx, content, password);
  const state: ReadState = { passwordVerified, legacyCiphers: new Set() };

  const contents: Contents = { keys: [], certificates: [] };
  for (const info of pkijs.AuthenticatedSafe.fromBER(content).safeContents) {
    let safe: pkijs.SafeContents;
    if (info.contentType === OID.data) {
      safe = pkijs.SafeContents.fromBER((info.content as asn1js.OctetString).getValue());
    } else if (info.contentType === OID.encryptedData) {
      const encrypted = new pkijs.EncryptedData({ schema: info.content });
      safe = pkijs.SafeContents.fromBER(await decrypt(encrypted.encryptedContentInfo, password, state));
    } else {
      throw new Pkcs12Failure('Pkcs12Unsupported', `unsupported PKCS#12 safe type ${info.contentType} (public-key privacy mode)`);
    }
    await collectBags(safe.safeBags, password, state, contents);
  }

  const keys: KeyObject[] = contents.keys.map((der) => {
    try {
      return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    } catch (error) {
      throw new Pkcs12Failure(
        passwordVerified ? 'Pkcs12Malformed' : 'Pkcs12WrongPassword',
        `the PKCS#12 private key cannot be read: ${errorMessage(error)}`,
      );
    }
  });
  if (keys.length === 0) throw new Pkcs12Failure('Pkcs12NoKey', 'the PKCS#12 file holds no private key');
  if (contents.certificates.length === 0) {
    throw new Pkcs12Failure('Pkcs12NoCertificate', 'the PKCS#12 file holds no certificate');
  }

  let leaf: X509Certificate | undefined;
  let key: KeyObject | undefined;
  for (const candidate of keys) {
    leaf = contents.certificates.find((cert) => cert.checkPrivateKey(candidate));
    key = candidate;
    if (leaf) break;
  }
  if (!leaf || !key) {
    throw new Pkcs12Failure('Pkcs12KeyMismatch', 'no certificate in the PKCS#12 file matches its private key');
  }

  const chain: X509Certificate[] = [];
  const others = contents.certificates.filter((cert) => cert !== leaf);
  for (let current = leaf; ; ) {
    const issuerIndex = others.findIndex((cert) => issuedBy(current, cert));
    const issuer = others[issuerIndex];
    if (!issuer || isSelfSigned(issuer)) break;
    chain.push(issuer);
    others.splice(issuerIndex, 1);
    current = issuer;
  }

  return {
    ok: true,
    certPem: leaf.toString(),
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    chainPem: chain.map((cert) => cert.toString()).join(''),
    certificate: leaf,
    chain,
    legacyCiphers: [...state.legacyCiphers],
  };
}

/** Reads a PKCS#12 file; never throws. The certificate is the one matching the private key. */
export async function readPkcs12(data: Uint8Array, password: string): Promise<ReadPkcs12Result> {
  try {
    return await parsePkcs12(data, password);
  } catch (error) {
    if (error instanceof Pkcs12Failure) return { ok: false, code: error.code, message: error.message };
    return { ok: false, code: 'Pkcs12Malformed', message: `malformed PKCS#12 file: ${errorMessage(error)}` };
  }
}
