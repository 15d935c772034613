// The one catalog of PKI failure codes (PKCS#12 files, certificate issuing, the local CA). The
// boundaries that surface them keep the code: the CLI prints it as `ERROR: (Code) ...` (exit 1),
// the management API maps the PKCS#12 ones to its own (InvalidCertificateValue, ...), `serve`
// names it in its start-up failure. docs/cli.md "PKI codes" lists each one (a test checks both ways).
import { defineCatalog } from '../model/error-catalog.ts';

export const PKI_ERRORS = defineCatalog({
  CertificateMalformed: { status: undefined, meaning: 'a certificate extension does not parse (the certificate is refused)' },
  Pkcs12Malformed: { status: undefined, meaning: 'the file is not a PKCS#12 (PFX) file, or its structure is damaged' },
  Pkcs12WrongPassword: { status: undefined, meaning: "the password does not open the PKCS#12 file (its MAC does not verify)" },
  Pkcs12NoKey: { status: undefined, meaning: 'the PKCS#12 file holds no private key' },
  Pkcs12NoCertificate: { status: undefined, meaning: 'the PKCS#12 file holds no certificate' },
  Pkcs12KeyMismatch: { status: undefined, meaning: 'no certificate in the PKCS#12 file matches its private key (or, when writing one, the key is not the certificate\'s)' },
  Pkcs12Unsupported: { status: undefined, meaning: 'a valid file using an algorithm certgate cannot run, even with OpenSSL\'s legacy provider in a child process, or a mode certgate does not read; the message gives the openssl conversion' },
  IssuerKeyUnsupported: { status: undefined, meaning: "the issuer's key type cannot sign certificates here (only RSA and EC P-256, P-384, P-521)" },
  IssuerNotCa: { status: undefined, meaning: 'the issuer certificate is not a CA certificate' },
  ValidityInvalid: { status: undefined, meaning: 'notAfter is not after notBefore' },
  IpAddressInvalid: { status: undefined, meaning: 'an IP subject alternative name is not an IP address' },
  ExtendedKeyUsageUnknown: { status: undefined, meaning: 'an extended key usage name certgate does not know' },
  HostnameRequired: { status: undefined, meaning: 'a server certificate was asked for without any host name' },
  LocalCaIncomplete: { status: undefined, meaning: "one of the local CA's two files (ca.pem, ca.key) is missing" },
  LocalCaCertificateInvalid: { status: undefined, meaning: "the local CA's ca.pem is not a PEM CA certificate" },
  LocalCaKeyInvalid: { status: undefined, meaning: "the local CA's ca.key is not a PEM private key" },
  LocalCaKeyMismatch: { status: undefined, meaning: "the local CA's ca.key does not belong to its ca.pem" },
  LocalCaNotCreated: { status: undefined, meaning: 'the local CA could not be written to the data directory (the system error is the cause)' },
});

export type PkiErrorCode = keyof typeof PKI_ERRORS;

/** A PKI failure with its stable code; `cause` keeps the underlying error. */
export class PkiError extends Error {
  readonly code: PkiErrorCode;
  constructor(code: PkiErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PkiError';
    this.code = code;
  }
}
