// tsv: knack's _TsvOutput.
import { isObject, pythonStr, sortedKeys } from './json-model.ts';
import type { Json } from './json-model.ts';

/** Every object in `value`: objects a query returns that are not among them were built by the query. */
export function objectsIn(value: Json): Set<object> {
  const seen = new Set<object>();
  const walk = (node: Json) => {
    if (Array.isArray(node)) {
      seen.add(node);
      node.forEach(walk);
    } else if (isObject(node)) {
      seen.add(node);
      Object.values(node).forEach(walk);
    }
  };
  walk(value);
  return seen;
}


export function tsvText(result: Json, original: Set<object> | undefined): string {
  const rows = Array.isArray(result) ? result : [result];
  return rows.map((row) => `${tsvRow(row, original)}\n`).join('');
}

function tsvRow(row: Json, original: Set<object> | undefined): string {
  if (Array.isArray(row)) return row.map(tsvField).join('\t');
  if (isObject(row)) {
    // A dict from the service is written in sorted key order; one a multiselect hash built keeps
    // the query's order (knack: OrderedDict from jmespath Options(dict_cls=OrderedDict)).
    const builtByQuery = original !== undefined && !original.has(row);
    const keys = builtByQuery ? Object.keys(row) : sortedKeys(row);
    return keys.map((key) => tsvField(row[key] ?? null)).join('\t');
  }
  if (typeof row === 'boolean') return row ? 'true' : 'false';
  return tsvField(row);
}

function tsvField(value: Json): string {
  if (Array.isArray(value)) return String(value.length);
  // Something must be written, so rows keep the same number of columns.
  if (isObject(value)) return '';
  return pythonStr(value);
}
