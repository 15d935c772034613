// An ARM template (deploymentTemplate.json) turned into a plan: its parameters checked and resolved,
// its resources expanded (copy loops, conditions) and ordered (dependsOn and reference()), each
// resource's body and the outputs evaluated on demand. Pure: the deployment engine
// (../resources/deployments.ts) supplies reference() and applies the resources. Any construct or
// function certgate does not evaluate is a TemplateError naming it and its place in the template.
import { isPlainObject } from '../arm/merge-patch.ts';
import { EXPRESSION_LIMITS, ExpressionError, evaluate, isExpression, parseExpression, referencedTargets, unescapeLiteral, type EvaluationScope } from './expression.ts';

export class TemplateError extends Error {
  /** Where in the template ("resources[1].properties.configuration"). */
  readonly target: string;
  constructor(message: string, target: string) {
    super(`${target}: ${message}`);
    this.name = 'TemplateError';
    this.target = target;
  }
}

/** ARM's own bound is 800 resources per deployment; a copy loop counts each instance. */
export const TEMPLATE_LIMITS = { resources: 800, copyCount: 800 } as const;

export interface DeploymentScope {
  readonly subscriptionId: string;
  readonly tenantId: string;
  readonly group: { readonly id: string; readonly name: string; readonly location: string };
}

export interface PlannedResource {
  /** "resources[1]" or "resources[1] (copy index 2)". */
  readonly path: string;
  readonly type: string;
  readonly apiVersion: string;
  /** The full name ("env/cert" for a child). */
  readonly name: string;
  readonly id: string;
  /** Ids of the template resources deployed before this one. */
  readonly dependsOn: readonly string[];
}

export type Reference = (id: string, apiVersion: string | undefined, full: boolean) => unknown;

export interface DeploymentPlan {
  /** The resources to deploy (conditions true), in an order that respects dependsOn. */
  readonly resources: readonly PlannedResource[];
  /** Parameter values for the deployment record; secure ones have no value. */
  readonly parameters: Readonly<Record<string, { type: string; value?: unknown }>>;
  /** The request body of a resource (envelope members and properties), evaluated now. */
  body(resource: PlannedResource, reference: Reference): Record<string, unknown>;
  outputs(reference: Reference): Record<string, { type: string; value?: unknown }>;
  /** A reference() argument as a resource id (a template resource's name is accepted). */
  resolveId(nameOrId: string): string;
}

const TOP_LEVEL = ['$schema', 'contentVersion', 'metadata', 'parameters', 'variables', 'resources', 'outputs', 'apiProfile'];
const NOT_EVALUATED_TOP = ['functions', 'definitions', 'languageVersion', 'imports', 'extensions'];
/** Resource members that steer the deployment; the rest of BODY go to the resource provider. */
const RESOURCE_CONTROL = ['type', 'apiVersion', 'name', 'dependsOn', 'condition', 'copy', 'comments', 'metadata'];
const RESOURCE_BODY = ['location', 'tags', 'properties', 'kind', 'identity', 'sku', 'plan', 'zones', 'extendedLocation', 'managedBy'];
const PARAMETER_TYPES: Record<string, (value: unknown) => boolean> = {
  string: (value) => typeof value === 'string',
  securestring: (value) => typeof value === 'string',
  int: (value) => typeof value === 'number' && Number.isSafeInteger(value),
  bool: (value) => typeof value === 'boolean',
  object: isPlainObject,
  secureobject: isPlainObject,
  array: Array.isArray,
};

interface Instance extends PlannedResource {
  readonly index: number;
  readonly raw: Record<string, unknown>;
  readonly copy?: { readonly name: string; readonly index: number };
  readonly deploy: boolean;
  readonly explicit: readonly string[];
}

const lower = (text: string) => text.toLowerCase();

function objectAt(value: unknown, target: string, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw new TemplateError(`${what} must be a JSON object.`, target);
  return value;
}

/** Finds a member case-insensitively (ARM names are). */
function lookup(table: Record<string, unknown>, name: string): [string, unknown] | undefined {
  const key = Object.keys(table).find((candidate) => lower(candidate) === lower(name));
  return key === undefined ? undefined : [key, table[key]];
}

export function planDeployment(template: unknown, parameterValues: unknown, scope: DeploymentScope, supportedTypes: readonly string[]): DeploymentPlan {
  if (!isPlainObject(template)) throw new TemplateError('The template must be a JSON object.', 'template');
  for (const member of Object.keys(template)) {
    if (NOT_EVALUATED_TOP.includes(member)) throw new TemplateError(`'${member}' is not supported by certgate (user-defined functions, types, symbolic names and extensions are not evaluated).`, member);
    if (!TOP_LEVEL.includes(member)) throw new TemplateError(`'${member}' is not a template member; the members are ${TOP_LEVEL.join(', ')}.`, member);
  }
  const groupObject = { id: scope.group.id, name: scope.group.name, type: 'Microsoft.Resources/resourceGroups', location: scope.group.location, properties: { provisioningState: 'Succeeded' } };
  const subscriptionObject = { id: `/subscriptions/${scope.subscriptionId}`, subscriptionId: scope.subscriptionId, tenantId: scope.tenantId, displayName: 'certgate' };

  // Parameters: given values (ARM's {"name": {"value": …}}), else the default, checked against the definition.
  const definitions = objectAt(template['parameters'], 'parameters', 'parameters');
  const given = objectAt(parameterValues, 'properties.parameters', 'The parameters');
  for (const [name, entry] of Object.entries(given)) {
    if (!lookup(definitions, name)) throw new TemplateError(`The parameter '${name}' is given but the template does not declare it; it declares: ${Object.keys(definitions).join(', ') || 'none'}.`, `properties.parameters.${name}`);
    if (!isPlainObject(entry) || !('value' in entry)) {
      const reason = isPlainObject(entry) && 'reference' in entry ? 'Key Vault references are not supported by certgate' : 'give it as {"value": …}';
      throw new TemplateError(`The parameter '${name}' has no value (${reason}).`, `properties.parameters.${name}`);
    }
  }
  const parameterCache = new Map<string, unknown>();
  const resolving = new Set<string>();
  const parameter = (name: string): unknown => {
    const found = lookup(definitions, name);
    if (!found) throw new ExpressionError(`The template has no parameter '${name}'.`, 0);
    const [key, rawDefinition] = found;
    if (parameterCache.has(key)) return parameterCache.get(key);
    const target = `parameters.${key}`;
    const definition = objectAt(rawDefinition, target, `The parameter '${key}'`);
    if (resolving.has(key)) throw new TemplateError(`The default value of '${key}' depends on itself.`, target);
    resolving.add(key);
    const type = lower(String(definition['type'] ?? ''));
    const check = PARAMETER_TYPES[type];
    if (!check) throw new TemplateError(`The type '${String(definition['type'])}' is not a parameter type (${Object.keys(PARAMETER_TYPES).join(', ')}).`, `${target}.type`);
    const supplied = lookup(given, key);
    let value: unknown;
    if (supplied) value = (supplied[1] as { value: unknown }).value;
    else if (definition['defaultValue'] !== undefined) value = evaluateValue(definition['defaultValue'], { ...baseScope, section: 'parameters' }, `${target}.defaultValue`);
    else throw new TemplateError(`The value of the parameter '${key}' is not provided and it has no defaultValue.`, target);
    if (!check(value)) throw new TemplateError(`The value of '${key}' must be of type ${String(definition['type'])}.`, target);
    checkParameterBounds(key, definition, value, target);
    resolving.delete(key);
    parameterCache.set(key, value);
    return value;
  };
  const baseScope: Omit<EvaluationScope, 'section'> = { parameter, resourceGroup: () => groupObject, subscription: () => subscriptionObject };

  // Variables: evaluated when first used, a cycle is an error.
  const variables = objectAt(template['variables'], 'variables', 'variables');
  const variableCache = new Map<string, unknown>();
  const variable = (name: string): unknown => {
    const copied = [...variableCache.keys()].find((key) => lower(key) === lower(name));
    if (copied !== undefined && !lookup(variables, name)) return variableCache.get(copied);
    const found = lookup(variables, name);
    if (!found) throw new ExpressionError(`The template has no variable '${name}'.`, 0);
    const [key, raw] = found;
    if (variableCache.has(key)) return variableCache.get(key);
    if (resolving.has(`variables.${key}`)) throw new TemplateError(`The variable '${key}' depends on itself.`, `variables.${key}`);
    resolving.add(`variables.${key}`);
    const value = evaluateValue(raw, variableScope, `variables.${key}`);
    resolving.delete(`variables.${key}`);
    variableCache.set(key, value);
    return value;
  };
  const variableScope: EvaluationScope = { ...baseScope, variable, section: 'variables' };
  if (Array.isArray(variables['copy'])) {
    const expanded: Record<string, unknown> = {};
    expandCopy(variables['copy'], variableScope, 'variables', expanded);
    for (const [key, value] of Object.entries(expanded)) variableCache.set(key, value);
  }
  const resourceScope: EvaluationScope = { ...variableScope, section: 'resources' };

  // Resources: each instance of each copy loop, with its name, id and explicit dependencies.
  const rawResources = template['resources'] ?? [];
  if (!Array.isArray(rawResources)) throw new TemplateError('resources must be an array (symbolic names are not supported by certgate).', 'resources');
  const instances: Instance[] = [];
  const loops = new Map<string, Instance[]>();
  for (const [index, raw] of rawResources.entries()) {
    const path = `resources[${index}]`;
    if (!isPlainObject(raw)) throw new TemplateError('A resource must be a JSON object.', path);
    for (const member of Object.keys(raw)) {
      if (member === 'resources') throw new TemplateError('Nested resources are not supported by certgate: declare the child at the top level, with the parent\'s name in its name ("env/cert") and dependsOn.', `${path}.resources`);
      if (!RESOURCE_CONTROL.includes(member) && !RESOURCE_BODY.includes(member)) {
        throw new TemplateError(`'${member}' is not supported by certgate in a resource (scope, existing and cross-scope deployments are not).`, `${path}.${member}`);
      }
    }
    const type = literal(raw['type'], `${path}.type`, 'type');
    if (!supportedTypes.some((supported) => lower(supported) === lower(type))) {
      throw new TemplateError(`The resource type '${type}' is not deployed by certgate; it deploys ${supportedTypes.join(', ')}.`, `${path}.type`);
    }
    const apiVersion = literal(raw['apiVersion'], `${path}.apiVersion`, 'apiVersion');
    const copy = raw['copy'] === undefined ? undefined : objectAt(raw['copy'], `${path}.copy`, 'copy');
    const count = copy ? copyCount(copy, resourceScope, `${path}.copy`) : 1;
    const loopName = copy ? literal(copy['name'], `${path}.copy.name`, 'copy.name') : undefined;
    for (let i = 0; i < count; i++) {
      const here = copy ? `${path} (copy index ${i})` : path;
      const scopeHere: EvaluationScope = { ...resourceScope, copyIndex: (loop) => (loop === undefined || lower(loop) === lower(loopName!) ? (copy ? i : undefined) : undefined) };
      const name = evaluateValue(raw['name'], scopeHere, `${here}.name`);
      if (typeof name !== 'string' || name === '') throw new TemplateError('The resource name must be a non-empty string.', `${here}.name`);
      const condition = raw['condition'] === undefined ? true : evaluateValue(raw['condition'], scopeHere, `${here}.condition`);
      if (typeof condition !== 'boolean') throw new TemplateError('The condition must be a boolean.', `${here}.condition`);
      const dependsOnRaw = raw['dependsOn'] ?? [];
      if (!Array.isArray(dependsOnRaw)) throw new TemplateError('dependsOn must be an array.', `${here}.dependsOn`);
      const explicit = dependsOnRaw.map((entry, j) => {
        const value = evaluateValue(entry, scopeHere, `${here}.dependsOn[${j}]`);
        if (typeof value !== 'string') throw new TemplateError('A dependsOn entry must be a string.', `${here}.dependsOn[${j}]`);
        return value;
      });
      const instance: Instance = {
        path: here, index, raw, type, apiVersion, name, id: resourceIdFor(scope, type, name, `${here}.name`), dependsOn: [], explicit, deploy: condition,
        ...(copy ? { copy: { name: loopName!, index: i } } : {}),
      };
      instances.push(instance);
      if (loopName) loops.set(lower(loopName), [...(loops.get(lower(loopName)) ?? []), instance]);
      if (instances.length > TEMPLATE_LIMITS.resources) throw new TemplateError(`The template has more than ${TEMPLATE_LIMITS.resources} resources.`, here);
    }
  }

  const byKey = new Map<string, Instance[]>();
  for (const instance of instances) {
    for (const key of [instance.id, `${instance.type}/${instance.name}`, instance.name]) byKey.set(lower(key), [...(byKey.get(lower(key)) ?? []), instance]);
  }
  const find = (reference: string): Instance[] | undefined => byKey.get(lower(reference)) ?? loops.get(lower(reference));
  const resolveId = (nameOrId: string): string => (nameOrId.startsWith('/') ? nameOrId : (find(nameOrId)?.[0]?.id ?? nameOrId));

  // Order: explicit dependsOn and implicit reference() targets; a resource whose condition is false drops out.
  const edges = new Map<Instance, Set<Instance>>();
  for (const instance of instances) {
    const deps = new Set<Instance>();
    instance.explicit.forEach((reference, j) => {
      const targets = find(reference);
      if (!targets) throw new TemplateError(`'${reference}' is not a resource (or copy loop) of the template.`, `${instance.path}.dependsOn[${j}]`);
      targets.forEach((target) => deps.add(target));
    });
    for (const text of expressionStrings(instance.raw['properties'])) {
      let parsed;
      try {
        parsed = parseExpression(text);
      } catch {
        continue; // reported when the body is evaluated, with its place
      }
      for (const target of referencedTargets(parsed, instanceScope(instance))) find(target)?.forEach((dep) => dep !== instance && deps.add(dep));
    }
    edges.set(instance, deps);
  }
  const ordered: Instance[] = [];
  const state = new Map<Instance, 'visiting' | 'done'>();
  const visit = (instance: Instance, chain: Instance[]): void => {
    if (state.get(instance) === 'done') return;
    if (state.get(instance) === 'visiting') {
      throw new TemplateError(`Circular dependency: ${[...chain.slice(chain.indexOf(instance)), instance].map((item) => item.name).join(' -> ')}.`, instance.path);
    }
    state.set(instance, 'visiting');
    for (const dep of edges.get(instance)!) visit(dep, [...chain, instance]);
    state.set(instance, 'done');
    ordered.push(instance);
  };
  for (const instance of instances) visit(instance, []);
  const deployed = ordered.filter((instance) => instance.deploy);
  const planned = deployed.map((instance) => ({ ...instance, dependsOn: [...edges.get(instance)!].filter((dep) => dep.deploy).map((dep) => dep.id) }));

  function instanceScope(instance: Instance, reference?: Reference): EvaluationScope {
    return {
      ...resourceScope,
      copyIndex: (loop) => (instance.copy && (loop === undefined || lower(loop) === lower(instance.copy.name)) ? instance.copy.index : undefined),
      ...(reference ? { reference: (id: string, apiVersion: string | undefined, full: boolean) => reference(resolveId(id), apiVersion, full) } : {}),
    };
  }

  // Every parameter is resolved now, so a bad value fails the validation, not the deployment.
  for (const name of Object.keys(definitions)) parameter(name);
  const parameterRecord: Record<string, { type: string; value?: unknown }> = {};
  for (const [name, definition] of Object.entries(definitions)) {
    const type = String((definition as Record<string, unknown>)['type']);
    parameterRecord[name] = lower(type).startsWith('secure') ? { type } : { type, value: parameterCache.get(name) };
  }

  const outputs = objectAt(template['outputs'], 'outputs', 'outputs');
  return {
    resources: planned,
    parameters: parameterRecord,
    resolveId,
    body(resource, reference) {
      const instance = deployed.find((candidate) => candidate.path === resource.path)!;
      const body: Record<string, unknown> = {};
      for (const member of RESOURCE_BODY) {
        if (instance.raw[member] !== undefined) body[member] = evaluateValue(instance.raw[member], instanceScope(instance, reference), `${instance.path}.${member}`);
      }
      return body;
    },
    outputs(reference) {
      const result: Record<string, { type: string; value?: unknown }> = {};
      const scopeHere: EvaluationScope = { ...variableScope, section: 'outputs', reference: (id, apiVersion, full) => reference(resolveId(id), apiVersion, full) };
      for (const [name, raw] of Object.entries(outputs)) {
        const output = objectAt(raw, `outputs.${name}`, `The output '${name}'`);
        if (output['copy'] !== undefined) throw new TemplateError('Output copy loops are not supported by certgate.', `outputs.${name}.copy`);
        const type = String(output['type'] ?? '');
        if (output['condition'] !== undefined && evaluateValue(output['condition'], scopeHere, `outputs.${name}.condition`) !== true) continue;
        const value = evaluateValue(output['value'], scopeHere, `outputs.${name}.value`);
        result[name] = lower(type).startsWith('secure') ? { type } : { type, value };
      }
      return result;
    },
  };
}

function checkParameterBounds(name: string, definition: Record<string, unknown>, value: unknown, target: string): void {
  const allowed = definition['allowedValues'];
  if (Array.isArray(allowed) && !allowed.some((candidate) => JSON.stringify(candidate) === JSON.stringify(value))) {
    throw new TemplateError(`The value of '${name}' is not one of the allowedValues (${allowed.map((item) => JSON.stringify(item)).join(', ')}).`, target);
  }
  const size = typeof value === 'string' || Array.isArray(value) ? value.length : undefined;
  if (typeof definition['minLength'] === 'number' && size !== undefined && size < definition['minLength']) throw new TemplateError(`The value of '${name}' is shorter than minLength ${definition['minLength']}.`, target);
  if (typeof definition['maxLength'] === 'number' && size !== undefined && size > definition['maxLength']) throw new TemplateError(`The value of '${name}' is longer than maxLength ${definition['maxLength']}.`, target);
  if (typeof definition['minValue'] === 'number' && typeof value === 'number' && value < definition['minValue']) throw new TemplateError(`The value of '${name}' is below minValue ${definition['minValue']}.`, target);
  if (typeof definition['maxValue'] === 'number' && typeof value === 'number' && value > definition['maxValue']) throw new TemplateError(`The value of '${name}' is above maxValue ${definition['maxValue']}.`, target);
}

function literal(value: unknown, target: string, what: string): string {
  if (typeof value !== 'string' || value === '') throw new TemplateError(`The resource's ${what} must be a non-empty string.`, target);
  if (isExpression(value)) throw new TemplateError(`The resource's ${what} must be a literal, not an expression.`, target);
  return value;
}

function copyCount(copy: Record<string, unknown>, scope: EvaluationScope, target: string): number {
  const count = evaluateValue(copy['count'], scope, `${target}.count`);
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0 || count > TEMPLATE_LIMITS.copyCount) {
    throw new TemplateError(`The copy count must be an integer from 0 to ${TEMPLATE_LIMITS.copyCount}.`, `${target}.count`);
  }
  return count;
}

/** `/subscriptions/…/providers/Microsoft.App/managedEnvironments/env/certificates/cert` from a type and a full name. */
function resourceIdFor(scope: DeploymentScope, type: string, name: string, target: string): string {
  const [namespace, ...types] = type.split('/');
  const names = name.split('/');
  if (names.length !== types.length || names.some((part) => part === '')) {
    throw new TemplateError(`The name '${name}' must have ${types.length} segment(s) for the type '${type}' ("parent/child" for a child resource).`, target);
  }
  return `${scope.group.id}/providers/${namespace}/${types.map((part, i) => `${part}/${names[i]}`).join('/')}`;
}

/** Property copy loops ({"copy": [{"name", "count", "input"}]}), also in variables. */
function expandCopy(loops: unknown[], scope: EvaluationScope, target: string, out: Record<string, unknown>): void {
  loops.forEach((loop, j) => {
    const path = `${target}.copy[${j}]`;
    const spec = objectAt(loop, path, 'A property copy loop');
    const name = literal(spec['name'], `${path}.name`, 'copy name');
    const count = copyCount(spec, scope, path);
    out[name] = Array.from({ length: count }, (_, i) =>
      evaluateValue(spec['input'], { ...scope, copyIndex: (loopName) => (loopName === undefined || lower(loopName) === lower(name) ? i : scope.copyIndex?.(loopName)) }, `${path}.input`),
    );
  });
}

/** A template value with its expressions evaluated. */
export function evaluateValue(value: unknown, scope: EvaluationScope, target: string): unknown {
  if (typeof value === 'string') {
    if (!isExpression(value)) return unescapeLiteral(value);
    try {
      return evaluate(parseExpression(value), scope);
    } catch (error) {
      if (error instanceof ExpressionError) {
        const shown = value.length > 200 ? `${value.slice(0, 200)}…` : value;
        throw new TemplateError(`${error.message} (in the expression '${shown}', at character ${error.at + 1}).`, target);
      }
      throw error;
    }
  }
  if (Array.isArray(value)) return value.map((item, i) => evaluateValue(item, scope, `${target}[${i}]`));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) {
      if (key === 'copy' && Array.isArray(member)) expandCopy(member, scope, target, out);
      else out[key] = evaluateValue(member, scope, `${target}.${key}`);
    }
    return out;
  }
  return value;
}

function* expressionStrings(value: unknown): Generator<string> {
  if (typeof value === 'string') {
    if (isExpression(value) && value.length <= EXPRESSION_LIMITS.chars) yield value;
  } else if (Array.isArray(value)) {
    for (const item of value) yield* expressionStrings(item);
  } else if (isPlainObject(value)) {
    for (const member of Object.values(value)) yield* expressionStrings(member);
  }
}
