// Host names: one rule for every place that reads or writes one (the control plane's custom
// domains, the ClientHello reader, the Host header, the CLI), and one list of the names an app is
// served at (the control plane's conflict check and the ingress's routes), so a name the control
// plane accepts is one a client can reach, and two apps never claim the same name in one and not
// the other.
import type { CustomDomain } from './ingress.ts';

/**
 * RFC 1123 §2.1 labels: 1-63 letters, digits and hyphens, never starting or ending with a hyphen
 * (`shop-.example.com` is refused). Underscores are allowed anywhere in a label: they are not in
 * RFC 1123's host names, but they are in real DNS names (`_acme-challenge`, Windows and internal
 * hosts), every client sends them in SNI, and certgate accepted them before in custom domains and
 * ClientHellos; a name with one is no more ambiguous than any other. One label at least.
 */
const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** The name lower-cased, one trailing dot dropped; undefined unless it is a valid host name (at most 253 characters). */
export function normalizeHostname(name: string): string | undefined {
  const host = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
  return host.length <= 253 && HOST_NAME.test(host) ? host : undefined;
}

/** The host part of a Host header or :authority value, normalised; undefined when malformed. An IPv6 literal keeps its brackets. */
export function hostFromAuthority(authority: string): string | undefined {
  let host = authority.trim();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return undefined;
    host = host.slice(0, end + 1).toLowerCase();
    return /^\[[0-9a-f:.]+\]$/.test(host) ? host : undefined;
  }
  const colon = host.indexOf(':');
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return undefined;
    host = host.slice(0, colon);
  }
  return normalizeHostname(host);
}

/** `<app>.<environment default domain>`, the name Azure Container Apps gives an app. */
export function appFqdn(appName: string, environmentDefaultDomain: string): string {
  return `${appName}.${environmentDefaultDomain}`.toLowerCase();
}

/** One host name an app is served at, and where it comes from. */
export type AppHostName =
  | { readonly name: string; readonly source: 'default' }
  | { readonly name: string; readonly source: 'dnsSuffix' }
  | { readonly name: string; readonly source: 'customDomain'; readonly index: number; readonly certificateId: string | undefined; readonly auto: boolean };

/**
 * The host names an app is served at: its default name, `<app>.<dnsSuffix>` when its environment
 * has a DNS suffix (customDomainConfiguration), then each custom domain that is bound
 * (any bindingType but `Disabled`). A `Disabled` domain is recorded, not served, and claims
 * nothing: it needs no certificate, so letting it hold a name would let any app squat on a name
 * (another environment's app name included) without proving anything. A custom domain that is not
 * a valid host name is skipped (the control plane refuses it; the ingress reports it).
 */
export function hostNamesOf(appName: string, environmentDefaultDomain: string | undefined, customDomains: readonly CustomDomain[] | undefined, dnsSuffix?: string): AppHostName[] {
  const names: AppHostName[] = environmentDefaultDomain === undefined ? [] : [{ name: appFqdn(appName, environmentDefaultDomain), source: 'default' }];
  if (dnsSuffix !== undefined) names.push({ name: appFqdn(appName, dnsSuffix), source: 'dnsSuffix' });
  for (const [index, domain] of (customDomains ?? []).entries()) {
    if (domain.bindingType === 'Disabled') continue;
    const name = normalizeHostname(domain.name);
    if (name) names.push({ name, source: 'customDomain', index, certificateId: domain.certificateId, auto: domain.bindingType === 'Auto' });
  }
  return names;
}
