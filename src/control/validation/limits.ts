// Size and count bounds of management-API documents (docs/management-api.md, "Limits"). Without
// them one client could store 100,000 tags or a 5 MB app, or send a body nested 100,000 deep that
// blows the stack of every recursive step after the parser (canonical casing, merge patch).
// The walk here is iterative, so the check itself cannot be the thing that overflows.
import { errors } from '../arm/errors.ts';

export const LIMITS = {
  /** Request bodies (ARM allows 4 MB; certgate's largest body, a PKCS12 upload, is far smaller). */
  bodyBytes: 1024 * 1024,
  /** A stored document, serialized (a PATCH merges into what is stored, so it is checked after the merge). */
  documentBytes: 1024 * 1024,
  /** Nesting of objects and arrays (the deepest ACA member, a probe's header name, is at depth 8). */
  depth: 32,
  /** Any string; `properties.value` (a base64 PKCS12 upload) is bounded by the body size alone. */
  stringLength: 32 * 1024,
  /** Members of any one object, and items of any one array, where no closer bound is given below. */
  members: 1000,
  items: 1000,
  /** ARM: at most 50 tags, names up to 512 characters, values up to 256. */
  tags: 50,
  tagNameLength: 512,
  tagValueLength: 256,
  /** Any resource name (ARM's longest); apps (32), environments (60) and groups (90) have their own, stricter rules. */
  nameLength: 260,
} as const;

/** Per-array bounds, by canonical JSON path (`[]` is any index): ACA's where it documents one, else certgate's. */
export const ARRAY_LIMITS: Readonly<Record<string, number>> = {
  'properties.configuration.ingress.customDomains': 100,
  'properties.configuration.ingress.ipSecurityRestrictions': 100,
  // ACA keeps at most 100 revisions, so no traffic split names more.
  'properties.configuration.ingress.traffic': 100,
  'properties.configuration.ingress.additionalPortMappings': 25,
  'properties.configuration.ingress.corsPolicy.allowedOrigins': 100,
  'properties.configuration.ingress.corsPolicy.allowedMethods': 100,
  'properties.configuration.ingress.corsPolicy.allowedHeaders': 100,
  'properties.configuration.ingress.corsPolicy.exposeHeaders': 100,
  'properties.configuration.secrets': 100,
  'properties.template.containers': 100,
  'properties.template.initContainers': 100,
  'properties.template.containers[].env': 500,
};

const LONG_STRINGS = new Set(['properties.value']);

/**
 * Checks a parsed JSON value against the generic bounds (depth, string length, members, items),
 * without recursion. Throws a 400 InvalidRequestContent naming the first JSON path over a bound.
 */
export function checkJsonShape(value: unknown): void {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    if (typeof current === 'string') {
      if (current.length > LIMITS.stringLength && !LONG_STRINGS.has(path)) {
        throw tooLarge(path, `is ${current.length} characters long; at most ${LIMITS.stringLength} are allowed`);
      }
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= LIMITS.depth) throw tooLarge(path, `is nested deeper than ${LIMITS.depth} levels`);
    if (Array.isArray(current)) {
      const bound = ARRAY_LIMITS[path.replace(/\[\d+\]/g, '[]')] ?? LIMITS.items;
      if (current.length > bound) throw tooLarge(path, `has ${current.length} items; at most ${bound} are allowed`);
      for (let index = 0; index < current.length; index++) stack.push({ value: current[index], path: `${path}[${index}]`, depth: depth + 1 });
      continue;
    }
    const keys = Object.keys(current);
    const bound = path === 'tags' ? LIMITS.tags : LIMITS.members;
    if (keys.length > bound) throw tooLarge(path, `has ${keys.length} ${path === 'tags' ? 'tags' : 'members'}; at most ${bound} are allowed`);
    for (const key of keys) {
      const child = path === '' ? key : `${path}.${key}`;
      if (key.length > LIMITS.stringLength) throw tooLarge(path, `has a member name ${key.length} characters long`);
      if (path === 'tags') checkTag(key, (current as Record<string, unknown>)[key]);
      stack.push({ value: (current as Record<string, unknown>)[key], path: child, depth: depth + 1 });
    }
  }
}

/** A stored document's bounds: the generic ones (member names in canonical casing), then its serialized size. */
export function checkDocumentLimits(document: unknown): void {
  checkJsonShape(document);
  const bytes = Buffer.byteLength(JSON.stringify(document) ?? '');
  if (bytes > LIMITS.documentBytes) throw tooLarge('', `would be ${bytes} bytes stored; at most ${LIMITS.documentBytes} are allowed`);
}

/** A resource name from the URL, checked when the resource is created or replaced. */
export function checkResourceName(name: string): void {
  if (name.length > LIMITS.nameLength) throw errors.invalidParameter(`The resource name is ${name.length} characters long; at most ${LIMITS.nameLength} are allowed.`, 'name');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f<>%&\\?/#*]/.test(name)) throw errors.invalidParameter(`The resource name '${name}' contains a character ARM does not allow in names.`, 'name');
}

function checkTag(name: string, value: unknown): void {
  if (name.length > LIMITS.tagNameLength) throw tooLarge(`tags.${name.slice(0, 40)}...`, `is a tag name ${name.length} characters long; at most ${LIMITS.tagNameLength} are allowed`);
  if (typeof value === 'string' && value.length > LIMITS.tagValueLength) {
    throw tooLarge(`tags.${name}`, `is a tag value ${value.length} characters long; at most ${LIMITS.tagValueLength} are allowed`);
  }
}

function tooLarge(path: string, what: string) {
  return errors.invalidContent(`${path === '' ? 'The request body' : `The property '${path}'`} ${what} (see "Limits" in docs/management-api.md).`, path === '' ? undefined : path);
}
