// node:http: a request listener wrapper, and a connect-style (req, res, next) middleware.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createClientCertificateAuth } from './auth.ts';
import type { ClientCertificateAuth, ClientCertificateAuthOptions } from './auth.ts';
import { attachIdentity, clientIdentity as clientIdentityOf, sendRejection } from './request-identity.ts';
import type { ClientIdentity } from './verifier.ts';

export type AuthenticatedHandler = (request: IncomingMessage, response: ServerResponse, identity: ClientIdentity | undefined) => void;

/** Accepts a built auth (shared by several servers) or its options. */
export function toAuth(auth: ClientCertificateAuth | ClientCertificateAuthOptions): ClientCertificateAuth {
  return typeof (auth as ClientCertificateAuth).authenticate === 'function'
    ? (auth as ClientCertificateAuth)
    : createClientCertificateAuth(auth as ClientCertificateAuthOptions);
}

/**
 * `http.createServer(withClientCertificate(auth, (req, res, identity) => ...))`: the handler runs
 * only for admitted requests; refusals are answered with 401/403 and a JSON body.
 */
export function withClientCertificate(auth: ClientCertificateAuth | ClientCertificateAuthOptions, handler: AuthenticatedHandler): RequestListener {
  const middleware = clientCertificateMiddleware(auth);
  return (request, response) => middleware(request, response, () => handler(request, response, clientIdentityOf(request)));
}

/** `(req, res, next)` middleware for node:http routers (and Express, see express.ts). */
export function clientCertificateMiddleware(
  auth: ClientCertificateAuth | ClientCertificateAuthOptions,
): (request: IncomingMessage, response: ServerResponse, next: () => void) => void {
  const core = toAuth(auth);
  return (request, response, next) => {
    const decision = core.authenticate(request);
    if (decision.action === 'reject') {
      sendRejection(response, decision);
      return;
    }
    if (decision.action === 'allow') attachIdentity(request, decision.identity);
    next();
  };
}
