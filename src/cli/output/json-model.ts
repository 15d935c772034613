// The JSON data model the formats print (what a service would have sent), and the Python
// orderings and str() forms knack's formatters rely on.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The JSON data model of a value: what a service would have sent (Dates become strings, undefined goes). */
export function toJson(value: unknown): Json {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as Json);
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Python's ordering of str keys: by code point (JavaScript's < compares UTF-16 units). */
export function compareKeys(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  }
  return x.length - y.length;
}

export function sortedKeys(object: JsonObject): string[] {
  return Object.keys(object).sort(compareKeys);
}

/** Python's str() of a JSON scalar. */
export function pythonStr(value: Json): string {
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  return String(value);
}
