// certgate's app-side library: read the client certificate a trusted proxy forwarded, verify it
// against the app's own trust inputs, and admit or refuse the request (node:http, Express, Fastify).
// Pure except for the adapters, which only touch the request and response they are given.

export { createVerifier } from './verifier.ts';
export type { ClientIdentity, Verifier, VerifyResult } from './verifier.ts';
export type { AllowList, CertificateInput, VerifierOptions } from './options.ts';
export { ERROR_CODES } from './codes.ts';
export type { AuthErrorCode, VerifyErrorCode } from './codes.ts';
export type { CacheStats } from './cache.ts';
export type { SubjectAltNames } from '../pki/facts.ts';
export { compileAddresses, createClientCertificateAuth } from './auth.ts';
export type { AuthDecision, ClientCertificateAuth, ClientCertificateAuthOptions, PeerRequest } from './auth.ts';
export { clientIdentity, rejectionBody } from './request-identity.ts';
export { clientCertificateMiddleware, withClientCertificate } from './node.ts';
export type { AuthenticatedHandler } from './node.ts';
export { expressClientCertificate } from './express.ts';
export { fastifyClientCertificate } from './fastify.ts';
export { createClientCertificateReader, readClientCertificate } from '../xfcc/sources.ts';
export type {
  CertificateFormat,
  ClientCertificateReader,
  ForwardedCertificate,
  FormatSpec,
  HeaderBag,
  ReaderOptions,
  ReadResult,
} from '../xfcc/sources.ts';
