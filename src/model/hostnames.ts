// Host names as the ingress compares them: lower-case, no trailing dot, no port.

/** The host part of a Host header or :authority value, normalised; undefined when malformed. */
export function hostFromAuthority(authority: string): string | undefined {
  let host = authority.trim();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return undefined;
    host = host.slice(0, end + 1);
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) {
      if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return undefined;
      host = host.slice(0, colon);
    }
  }
  return normalizeHostname(host);
}

export function normalizeHostname(name: string): string | undefined {
  const host = name.toLowerCase().replace(/\.$/, '');
  if (host.length === 0 || host.length > 253) return undefined;
  if (host.startsWith('[')) return /^\[[0-9a-f:.]+\]$/.test(host) ? host : undefined;
  return /^[a-z0-9*]([a-z0-9_-]{0,62})?(\.[a-z0-9_]([a-z0-9_-]{0,62})?)*$/.test(host) ? host : undefined;
}

/** `<app>.<environment default domain>`, the name Azure Container Apps gives an app. */
export function appFqdn(appName: string, environmentDefaultDomain: string): string {
  return `${appName}.${environmentDefaultDomain}`.toLowerCase();
}
