// Per-path rules of an app's verification (pure): how rules and request paths are normalised
// and matched. The gate (gate.ts) applies them per request.

/** The app's path rules, normalised as request paths are (normalizeRequestPath). */
export interface PathRules {
  /** Paths that need no certificate (health checks, `/.well-known/`): forwarded whatever the verdict, with it. */
  readonly exempt: readonly string[];
  /** Paths that need a verified certificate (verdict OK), also under AllowInsecureFallback or with no certificate. */
  readonly verified: readonly string[];
}

/**
 * The path as rules compare it: no query, `%XX` of unreserved characters decoded (`/%61dmin` is
 * `/admin`), dot segments resolved, repeated slashes collapsed. Undefined for a path the app might
 * read differently (`%2F`, `%5C`, `\`, an invalid escape): treated as matching every verified rule
 * and no exempt one.
 */
export function normalizeRequestPath(target: string): string | undefined {
  const end = target.search(/[?#]/);
  let path = end < 0 ? target : target.slice(0, end);
  if (/%2f|%5c|\\/i.test(path) || /%(?![0-9a-f]{2})/i.test(path)) return undefined;
  path = path.replace(/%([0-9a-f]{2})/gi, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : escape.toUpperCase();
  });
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}${path.endsWith('/') && out.length > 0 ? '/' : ''}`;
}

export function matchesAny(rules: readonly string[], path: string): boolean {
  for (const rule of rules) {
    if (path === rule || path.startsWith(rule.endsWith('/') ? rule : `${rule}/`)) return true;
  }
  return false;
}
