// Body validation: canonical member casing, nulls dropped (PUT), then the JSON Schema (Ajv), with
// errors that name the JSON path and, for an unknown member, the nearest known name.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { errors } from '../arm/errors.ts';
import { isPlainObject } from '../arm/merge-patch.ts';
import { checkDocumentLimits } from './limits.ts';
import { nearestName } from './nearest-name.ts';

type Schema = Record<string, unknown>;

const ajv = new Ajv({ allErrors: false, verbose: true, strict: false });
const compiled = new WeakMap<Schema, ValidateFunction>();

/**
 * Returns the body with member names in their canonical casing (ARM matches them
 * case-insensitively) and lower-cased values where the schema says so; throws a 400 ArmError naming
 * the first problem.
 */
export function validateBody<T>(body: unknown, schema: Schema): T {
  const canonical = canonicalize(body, schema, '');
  // After canonical casing (`Tags` is `tags`) and, for a PATCH, after the merge: what would be stored.
  checkDocumentLimits(canonical);
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (!validate(canonical)) throw toArmError(validate.errors?.[0]);
  return canonical as T;
}

/** Removes null members (in a PUT, null means absent). */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) if (member !== null) out[key] = dropNulls(member);
  return out;
}

function canonicalize(value: unknown, schema: Schema, path: string): unknown {
  if (schema['x-lowercase'] === true && typeof value === 'string') return value.toLowerCase();
  if (Array.isArray(value)) {
    const items = schema['items'] as Schema | undefined;
    return items ? value.map((item, index) => canonicalize(item, items, `${path}[${index}]`)) : value;
  }
  const properties = schema['properties'] as Record<string, Schema> | undefined;
  if (!isPlainObject(value) || !properties) return value;
  const byLowerName = new Map(Object.keys(properties).map((name) => [name.toLowerCase(), name]));
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    const name = byLowerName.get(key.toLowerCase()) ?? key;
    if (name in out) throw errors.invalidContent(`The property '${join(path, name)}' is given twice (member names are case-insensitive).`, join(path, name));
    out[name] = properties[name] ? canonicalize(member, properties[name], join(path, name)) : member;
  }
  return out;
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function toArmError(error: ErrorObject | undefined) {
  if (!error) return errors.invalidContent('The request body is not valid.');
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((out, segment) => (/^\d+$/.test(segment) ? `${out}[${segment}]` : join(out, segment)), '');
  const at = path === '' ? 'the request body' : `'${path}'`;
  const parent = error.parentSchema as Schema | undefined;
  switch (error.keyword) {
    case 'additionalProperties': {
      const unknown = (error.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((parent?.['properties'] as Record<string, unknown>) ?? {});
      const suggestion = nearestName(unknown, known);
      const target = join(path, unknown);
      return errors.invalidContent(
        `The property '${target}' is not known.${suggestion ? ` Did you mean '${join(path, suggestion)}'?` : ''} Known properties${path === '' ? '' : ` of '${path}'`}: ${known.join(', ')}.`,
        target,
      );
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      return errors.invalidContent(`The value of ${at} is not allowed. Allowed values: ${allowed.map((v) => `'${String(v)}'`).join(', ')}.`, path);
    }
    case 'type':
      return errors.invalidContent(`${capitalize(at)} must be of type ${(error.params as { type: string }).type}.`, path);
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return errors.invalidContent(`The property '${join(path, missing)}' is required.`, join(path, missing));
    }
    case 'const': {
      const message = parent?.['x-message'];
      return errors.invalidContent(`${capitalize(at)} ${typeof message === 'string' ? message : 'is not valid'}.`, path);
    }
    case 'maxItems':
    case 'minimum':
    case 'maximum':
    case 'minLength':
    case 'maxLength':
    case 'pattern':
      return errors.invalidContent(`${capitalize(at)} ${error.message ?? 'is not valid'}.`, path);
    default:
      return errors.invalidContent(`${capitalize(at)} is not valid: ${error.message ?? error.keyword}.`, path);
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
