// json / jsonc: Python's json.dumps with indent=2, sort_keys=True, ensure_ascii=False.
import { ANSI, paint } from './color.ts';
import { isObject, sortedKeys } from './json-model.ts';
import type { Json } from './json-model.ts';

export function jsonText(value: Json, indent: string, color: boolean): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const inner = `${indent}  `;
    return `[\n${value.map((item) => inner + jsonText(item, inner, color)).join(',\n')}\n${indent}]`;
  }
  if (isObject(value)) {
    const keys = sortedKeys(value);
    if (keys.length === 0) return '{}';
    const inner = `${indent}  `;
    const members = keys.map(
      (key) => `${inner}${paint(JSON.stringify(key), color && ANSI.key)}: ${jsonText(value[key] ?? null, inner, color)}`,
    );
    return `{\n${members.join(',\n')}\n${indent}}`;
  }
  return paint(JSON.stringify(value), color && (typeof value === 'string' ? ANSI.string : ANSI.literal));
}
