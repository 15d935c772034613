// Every failure code is documented in docs/app-library.md with the status the middleware answers
// with, and the documentation lists no code that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../src/app-auth/index.ts';

const docs = readFileSync(join(import.meta.dirname, '..', 'docs', 'app-library.md'), 'utf8');
const codesSection = docs.slice(docs.indexOf('\n## Codes\n'), docs.indexOf('\n## ', docs.indexOf('\n## Codes\n') + 1));
const rows = new Map(
  [...codesSection.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (.+) \|$/gm)].map((match) => [match[1]!, { status: Number(match[2]), meaning: match[3]! }]),
);

test('every code is documented with its status and a meaning', () => {
  for (const [code, status] of Object.entries(ERROR_CODES)) {
    const row = rows.get(code);
    assert.ok(row, `${code} is missing from the Codes table of docs/app-library.md`);
    assert.equal(row.status, status, `${code}: documented status`);
    assert.ok(row.meaning.trim().length > 10, `${code}: documented meaning`);
  }
});

test('the documentation lists only codes that exist', () => {
  assert.deepEqual([...rows.keys()].filter((code) => !(code in ERROR_CODES)), []);
  assert.equal(rows.size, Object.keys(ERROR_CODES).length);
});
