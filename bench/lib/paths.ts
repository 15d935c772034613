// Results JSON files are committed and compared across machines: a path in them is written
// relative to the repository (`bench/results/`), never as the absolute path of the machine that ran.
import { isAbsolute, relative, sep } from 'node:path';

export const REPO_ROOT = new URL('../../', import.meta.url).pathname;

/** `value` with every absolute path inside `root` made relative to it (a trailing slash kept); other values as they are. */
export function repoRelativePaths<T>(value: T, root: string = REPO_ROOT): T {
  if (typeof value === 'string') {
    if (!isAbsolute(value)) return value;
    const rel = relative(root, value);
    if (rel.startsWith('..') || isAbsolute(rel)) return value;
    const trailing = value.endsWith(sep) && rel !== '' ? sep : '';
    return `${rel === '' ? '.' : rel}${trailing}` as T;
  }
  if (Array.isArray(value)) return value.map((item) => repoRelativePaths(item, root)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, repoRelativePaths(item, root)])) as T;
  }
  return value;
}
