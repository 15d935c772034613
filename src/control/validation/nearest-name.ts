// "Did you mean ...?" for unknown property names (pure).

/**
 * The known name closest to `unknown`: by edit distance, or one that `unknown` abbreviates (its
 * letters appear in order, e.g. clientCertMode → clientCertificateMode). Undefined when nothing is
 * close enough to be a plausible typo.
 */
export function nearestName(unknown: string, known: readonly string[]): string | undefined {
  const target = unknown.toLowerCase();
  let best: { name: string; score: number } | undefined;
  for (const name of known) {
    const candidate = name.toLowerCase();
    const distance = editDistance(target, candidate);
    const abbreviates = isSubsequence(target, candidate) && target.length >= 3 && target[0] === candidate[0];
    const plausible = distance <= Math.max(2, Math.floor(candidate.length / 3)) || abbreviates;
    if (!plausible) continue;
    const score = abbreviates ? distance / 2 : distance;
    if (!best || score < best.score) best = { name, score };
  }
  return best?.name;
}

function isSubsequence(short: string, long: string): boolean {
  let i = 0;
  for (const char of long) if (char === short[i]) i++;
  return i === short.length;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
