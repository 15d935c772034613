// Where adapters keep the verified identity of a request, and how they answer a refusal: one
// place, so node:http, Express and Fastify behave the same.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthDecision } from './auth.ts';
import type { ClientIdentity } from './verifier.ts';

// Keyed by Node's request object, which Express's req is and Fastify's request.raw holds. Not a
// property on the request: nothing a client sends, and no other middleware, can set it.
const identities = new WeakMap<object, ClientIdentity>();

export function attachIdentity(request: IncomingMessage, identity: ClientIdentity): void {
  identities.set(request, identity);
}

/**
 * The verified client identity of a request (node:http or Express request, or Fastify request),
 * or undefined when the middleware did not run or the request was let through anonymously.
 */
export function clientIdentity(request: IncomingMessage | { raw: IncomingMessage }): ClientIdentity | undefined {
  return identities.get(request) ?? ('raw' in request ? identities.get(request.raw) : undefined);
}

export type Rejection = Extract<AuthDecision, { action: 'reject' }>;

/** The JSON body of a 401/403: the stable code and its explanation. */
export function rejectionBody(decision: Rejection): string {
  return JSON.stringify({ error: decision.code, message: decision.message });
}

export function sendRejection(response: ServerResponse, decision: Rejection): void {
  const body = rejectionBody(decision);
  response.writeHead(decision.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  response.end(body);
}
