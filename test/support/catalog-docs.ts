// Reads an error catalog's table from its doc page and checks it against the catalog both ways:
// every code documented with its status and a meaning, and no documented code that does not exist.
// Tables have the shape `| `code` | status | meaning |` (status `—` when nothing is answered).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CatalogEntry } from '../../src/model/error-catalog.ts';

export interface DocumentedCode {
  readonly status: number | undefined;
  readonly meaning: string;
}

/** The rows of the first table under `heading` (a `## ` or `### ` line) in docs/`page`. */
export function documentedCodes(page: string, heading: string): Map<string, DocumentedCode> {
  const text = readFileSync(join(import.meta.dirname, '..', '..', 'docs', page), 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `docs/${page} has no section '${heading}'`);
  // The section ends at the next heading of the same level or above.
  const depth = heading.indexOf(' ');
  const after = text.slice(start + heading.length + 2);
  const next = after.search(new RegExp(`^#{1,${depth}} `, 'm'));
  const section = next < 0 ? after : after.slice(0, next);
  const rows = new Map<string, DocumentedCode>();
  for (const match of section.matchAll(/^\| `([A-Za-z0-9_.]+)` \| (\d+|—) \| (.+) \|$/gm)) {
    assert.ok(!rows.has(match[1]!), `docs/${page} '${heading}' lists ${match[1]} twice`);
    rows.set(match[1]!, { status: match[2] === '—' ? undefined : Number(match[2]), meaning: match[3]! });
  }
  return rows;
}

/** Both directions: the catalog is documented, and the documentation lists only the catalog. */
export function assertDocumented(catalog: Readonly<Record<string, CatalogEntry>>, page: string, heading: string): void {
  const rows = documentedCodes(page, heading);
  for (const [code, entry] of Object.entries(catalog)) {
    const row = rows.get(code);
    assert.ok(row, `${code} is missing from '${heading}' in docs/${page}`);
    assert.equal(row.status, entry.status, `${code}: documented status`);
    assert.ok(row.meaning.trim().length > 10, `${code}: documented meaning`);
    assert.ok(entry.meaning.trim().length > 10, `${code}: meaning in the catalog`);
  }
  assert.deepEqual([...rows.keys()].filter((code) => !Object.hasOwn(catalog, code)), [], `codes in docs/${page} '${heading}' that do not exist`);
}
