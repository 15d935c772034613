// Express: the node:http middleware with Express's types. Uses the TCP peer address, never
// req.ip, which Express derives from X-Forwarded-For when 'trust proxy' is set.

import type { RequestHandler } from 'express';
import type { ClientCertificateAuth, ClientCertificateAuthOptions } from './auth.ts';
import { clientCertificateMiddleware } from './node.ts';

/** `app.use(expressClientCertificate(auth))`; then `clientIdentity(req)` in handlers. */
export function expressClientCertificate(auth: ClientCertificateAuth | ClientCertificateAuthOptions): RequestHandler {
  const middleware = clientCertificateMiddleware(auth);
  return (request, response, next) => middleware(request, response, () => next());
}
