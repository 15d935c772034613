// Which app a request may reach (pure). The TLS policy was chosen by the SNI; the Host (HTTP/1.1) or
// :authority (HTTP/2) must name that same app, and the app's policy must still be the one the
// connection was made under. Anything else could carry a request past a stricter app's policy.
import { hostFromAuthority } from '../../model/hostnames.ts';
import type { IngressReason } from '../reasons.ts';
import { environmentDomainOf, routesFor, type CompiledApp, type ListenerKind, type Route, type RouteSnapshot } from '../snapshot.ts';

export type Admission =
  | { readonly admit: true; readonly app: CompiledApp; readonly host: string }
  | {
      readonly admit: false;
      readonly status: 400 | 403 | 404 | 421;
      /** Ends with `(reason)`, as plain-text bodies do. */
      readonly message: string;
      readonly reason: IngressReason;
      /** The connection can't serve any further request either (its policy is outdated). */
      readonly closeConnection: boolean;
    };

/**
 * @param connectionRoute the route the SNI chose at the handshake; undefined when the connection was
 *   made under no app's policy (no SNI, or an unknown name).
 * @param listener the listener the connection came in on: an internal app is unknown on an external one.
 * @param clientAddress checked against the app's IP restrictions as they are now (the accept path
 *   checked them as they were when the connection was made).
 */
export function admitRequest(
  snapshot: RouteSnapshot,
  connectionRoute: Route | undefined,
  authority: string | undefined,
  sniName: string | undefined,
  listener: ListenerKind = 'external',
  clientAddress?: string,
): Admission {
  const routes = routesFor(snapshot, listener);
  const host = authority === undefined ? sniName : hostFromAuthority(authority);
  if (host === undefined) {
    return { admit: false, status: 400, message: 'the request has no valid Host (bad_host)', reason: 'bad_host', closeConnection: false };
  }
  const target = routes.get(host);
  if (connectionRoute === undefined) {
    if (target) {
      return {
        admit: false,
        status: 421,
        message: `${host} is served only to TLS connections that name it (SNI) (sni_required)`,
        reason: 'sni_required',
        closeConnection: false,
      };
    }
    return { admit: false, status: 404, ...noAppAt(snapshot, host), closeConnection: false };
  }
  const current = routes.get(connectionRoute.hostname);
  // Only the certificate changed (a renewal): the connection's policy still holds.
  if (current === undefined || (current.tls !== connectionRoute.tls && current.tls.admissionKey !== connectionRoute.tls.admissionKey)) {
    return {
      admit: false,
      status: 421,
      message: `the TLS policy of ${connectionRoute.hostname} changed since this connection was made; reconnect (tls_policy_changed)`,
      reason: 'tls_policy_changed',
      closeConnection: true,
    };
  }
  if (target === undefined || target.app.key !== current.app.key) {
    return {
      admit: false,
      status: 421,
      message: `this connection was made for ${connectionRoute.hostname} and cannot serve ${host} (misdirected_connection)`,
      reason: 'misdirected_connection',
      closeConnection: false,
    };
  }
  const rules = current.app.ipRules;
  if (rules !== undefined && clientAddress !== undefined && !rules.allows(clientAddress)) {
    // The app's restrictions changed since this connection was made, and now exclude its client.
    return { admit: false, status: 403, message: `Forbidden: ${clientAddress} may not reach ${current.app.name} (ip_forbidden)`, reason: 'ip_forbidden', closeConnection: true };
  }
  return { admit: true, app: current.app, host };
}

/**
 * The 404 for a host no route claims: under an environment's domain, the app it names is missing
 * from that environment (`no_app_in_environment`); elsewhere, nothing is served there (`no_app`).
 */
export function noAppAt(snapshot: RouteSnapshot, host: string): { message: string; reason: 'no_app' | 'no_app_in_environment' } {
  const under = environmentDomainOf(snapshot, host);
  if (under) return { message: `no app named ${under.label} in environment ${under.domain.environmentName} (no_app_in_environment)`, reason: 'no_app_in_environment' };
  return { message: `no app is served at ${host} (no_app)`, reason: 'no_app' };
}
