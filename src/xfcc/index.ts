export { percentDecode, percentEncode } from './percent.ts';
export { derToPem, formatXfcc } from './format.ts';
export { DEFAULT_XFCC_MAX_LENGTH, parseXfcc } from './parse.ts';
export type { XfccElement, XfccErrorCode, XfccParseOptions, XfccParseResult } from './parse.ts';
export { decodeCertificates, sha256Hex, splitPemBundle } from './certificates.ts';
export type { DecodeCertificatesResult } from './certificates.ts';
export { createClientCertificateReader, readClientCertificate } from './sources.ts';
export type {
  CertificateFormat,
  ClientCertificateReader,
  CollectResult,
  ForwardedCertificate,
  FormatSpec,
  HeaderBag,
  ReadErrorCode,
  ReaderOptions,
  ReadResult,
} from './sources.ts';
