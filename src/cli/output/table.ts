// table: knack's _TableOutput, then tabulate's "simple" format with numparse disabled.
import { isObject, pythonStr, sortedKeys } from './json-model.ts';
import type { Json } from './json-model.ts';

const TABLE_SKIP_KEYS = new Set(['id', 'type', 'etag']);

function tableRow(item: Json, sortKeys: boolean): Map<string, Json> {
  const row = new Map<string, Json>();
  if (isObject(item)) {
    for (const key of sortKeys ? sortedKeys(item) : Object.keys(item)) {
      const value = item[key] ?? null;
      if (TABLE_SKIP_KEYS.has(key) || value === null || typeof value === 'object') continue;
      row.set(key.charAt(0).toUpperCase() + key.slice(1), value);
    }
  } else if (Array.isArray(item)) {
    item.forEach((value, index) => row.set(`Column${index + 1}`, value));
  } else {
    row.set('Result', item);
  }
  return row;
}

/** Python's repr() of a JSON value: how tabulate shows a list or dict inside a row of a list of lists. */
function pythonRepr(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (isObject(value)) return `{${Object.keys(value).map((key) => `${pythonRepr(key)}: ${pythonRepr(value[key] ?? null)}`).join(', ')}}`;
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    return `${quote}${value.replaceAll('\\', '\\\\').replaceAll(quote, `\\${quote}`).replaceAll('\n', '\\n').replaceAll('\t', '\\t')}${quote}`;
  }
  return pythonStr(value);
}

function cellText(value: Json | undefined): string {
  if (value === undefined || value === null) return '';
  // tabulate strips surrounding whitespace from every cell.
  return (typeof value === 'object' ? pythonRepr(value) : pythonStr(value)).trim();
}

function width(text: string): number {
  return Array.from(text).length;
}

export function tableText(result: Json, sortKeys: boolean): string {
  const rows = (Array.isArray(result) ? result : [result]).map((item) => tableRow(item, sortKeys));
  const headers: string[] = [];
  for (const row of rows) for (const key of row.keys()) if (!headers.includes(key)) headers.push(key);
  if (headers.length === 0) return '\n';
  const cells = rows.map((row) => headers.map((header) => cellText(row.get(header))));
  const multiline = cells.some((row) => row.some((cell) => /[\r\n]/.test(cell)));
  const lines = (cell: string) => cell.split(/\r\n|\r|\n/);
  // A column is as wide as its widest line, and at least its header plus 2.
  const widths = headers.map((header, column) =>
    Math.max(width(header) + 2, ...cells.map((row) => Math.max(...lines(row[column] ?? '').map(width)))),
  );
  const pad = (text: string, column: number) => text + ' '.repeat(Math.max(0, (widths[column] ?? 0) - width(text)));
  const joinRow = (parts: string[]) => parts.map(pad).join('  ').trimEnd();
  const out = [joinRow(headers), joinRow(widths.map((w) => '-'.repeat(w)))];
  for (const row of cells) {
    if (!multiline) {
      out.push(joinRow(row));
      continue;
    }
    // tabulate's multi-line rows: an empty cell has no lines, so a row of empty cells has none.
    const split = row.map((cell) => (cell === '' ? [] : lines(cell)));
    const height = Math.max(...split.map((cellLines) => cellLines.length));
    for (let line = 0; line < height; line++) out.push(joinRow(split.map((cellLines) => cellLines[line] ?? '')));
  }
  return `${out.join('\n')}\n`;
}
