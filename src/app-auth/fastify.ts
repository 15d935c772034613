// Fastify: a plugin adding an onRequest hook, the earliest stage, so a refused request reaches
// no body parsing or handler. It is not encapsulated (Symbol.for('skip-override'), what
// fastify-plugin sets), so registering it protects the routes of the context it is registered in.

import type { FastifyPluginCallback } from 'fastify';
import type { ClientCertificateAuth, ClientCertificateAuthOptions } from './auth.ts';
import { toAuth } from './node.ts';
import { attachIdentity, rejectionBody } from './request-identity.ts';

/** `app.register(fastifyClientCertificate(auth))`; then `clientIdentity(request)` in handlers. */
export function fastifyClientCertificate(auth: ClientCertificateAuth | ClientCertificateAuthOptions): FastifyPluginCallback {
  const core = toAuth(auth);
  const plugin: FastifyPluginCallback = (instance, _options, done) => {
    instance.addHook('onRequest', (request, reply, next) => {
      // request.raw.socket: the TCP peer; request.ip follows X-Forwarded-For under trustProxy.
      const decision = core.authenticate(request.raw);
      if (decision.action === 'reject') {
        reply.code(decision.status).header('content-type', 'application/json').header('cache-control', 'no-store').send(rejectionBody(decision));
        return;
      }
      if (decision.action === 'allow') attachIdentity(request.raw, decision.identity);
      next();
    });
    done();
  };
  Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'certgate-client-certificate' });
  return plugin;
}
