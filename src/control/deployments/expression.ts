// ARM template expressions ("[concat('a', parameters('b'))]"): a parser and an evaluator, pure (no
// I/O: what needs the outside world, such as reference(), is a function of the scope). The subset
// real Container Apps templates use; any other function is an error that names it. No library
// implements this language for JavaScript; it is small (string, integer, call, .member, [index]).
import { uniqueString } from './unique-string.ts';

export type Expression =
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Expression[]; readonly at: number }
  | { readonly kind: 'member'; readonly target: Expression; readonly name: string; readonly at: number }
  | { readonly kind: 'index'; readonly target: Expression; readonly index: Expression; readonly at: number };

/** A parse or evaluation failure; `at` is the character offset in the expression text. */
export class ExpressionError extends Error {
  readonly at: number;
  constructor(message: string, at: number) {
    super(message);
    this.name = 'ExpressionError';
    this.at = at;
  }
}

/** Bounds against a template that makes the server work without end (ARM's own limit is 24,576 characters). */
export const EXPRESSION_LIMITS = { chars: 24_576, depth: 64, resultChars: 1_048_576 } as const;

/** Whether a JSON string is an expression: "[...]" but not "[[...": the escape for a literal "[". */
export function isExpression(text: string): boolean {
  return text.length >= 2 && text.startsWith('[') && text.endsWith(']') && !text.startsWith('[[');
}

/** The literal a "[[..." string stands for (one "[" dropped); other strings unchanged. */
export function unescapeLiteral(text: string): string {
  return text.startsWith('[[') ? text.slice(1) : text;
}

/** Parses the text of an expression string, brackets included. */
export function parseExpression(text: string): Expression {
  if (!isExpression(text)) throw new ExpressionError('An expression is written "[...]".', 0);
  if (text.length > EXPRESSION_LIMITS.chars) throw new ExpressionError(`The expression is longer than ${EXPRESSION_LIMITS.chars} characters.`, 0);
  const parser = new Parser(text, 1, text.length - 1);
  const expression = parser.expression(0);
  parser.skipSpace();
  if (parser.position !== parser.end) throw new ExpressionError(`Unexpected '${text[parser.position]}' at character ${parser.position + 1}.`, parser.position);
  return expression;
}

class Parser {
  position: number;
  readonly text: string;
  readonly end: number;
  constructor(text: string, start: number, end: number) {
    this.text = text;
    this.position = start;
    this.end = end;
  }

  skipSpace(): void {
    while (this.position < this.end && /\s/.test(this.text[this.position]!)) this.position++;
  }

  private fail(what: string): never {
    const found = this.position < this.end ? `'${this.text[this.position]}'` : 'the end of the expression';
    throw new ExpressionError(`Expected ${what} at character ${this.position + 1}, found ${found}.`, this.position);
  }

  private take(char: string): boolean {
    this.skipSpace();
    if (this.text[this.position] === char && this.position < this.end) {
      this.position++;
      return true;
    }
    return false;
  }

  expression(depth: number): Expression {
    if (depth > EXPRESSION_LIMITS.depth) throw new ExpressionError(`The expression nests deeper than ${EXPRESSION_LIMITS.depth} levels.`, this.position);
    let value = this.primary(depth);
    for (;;) {
      const at = this.position;
      if (this.take('.')) {
        this.skipSpace();
        const name = this.identifier();
        if (name === undefined) this.fail('a property name after "."');
        value = { kind: 'member', target: value, name, at };
      } else if (this.take('[')) {
        const index = this.expression(depth + 1);
        if (!this.take(']')) this.fail("']'");
        value = { kind: 'index', target: value, index, at };
      } else {
        return value;
      }
    }
  }

  private identifier(): string | undefined {
    const match = /^[A-Za-z_$][\w$]*/.exec(this.text.slice(this.position, this.end));
    if (!match) return undefined;
    this.position += match[0].length;
    return match[0];
  }

  private primary(depth: number): Expression {
    this.skipSpace();
    const at = this.position;
    const char = this.text[this.position];
    if (this.position >= this.end) this.fail('a value');
    if (char === "'") return this.string();
    if (char === '-' || /\d/.test(char!)) {
      const match = /^-?\d+/.exec(this.text.slice(this.position, this.end));
      if (!match) this.fail('a number');
      this.position += match[0].length;
      const value = Number(match[0]);
      if (!Number.isSafeInteger(value)) throw new ExpressionError(`The number ${match[0]} is out of range.`, at);
      return { kind: 'number', value };
    }
    const name = this.identifier();
    if (name === undefined) this.fail('a function call, a string or a number');
    if (this.text.slice(this.position, this.end).match(/^\s*\./) && /^\w+$/.test(name) && this.peekNamespaced()) {
      throw new ExpressionError(`User-defined functions ('${name}.…') are not supported by certgate.`, at);
    }
    if (!this.take('(')) this.fail(`'(' after the function name '${name}'`);
    const args: Expression[] = [];
    if (!this.take(')')) {
      do args.push(this.expression(depth + 1));
      while (this.take(','));
      if (!this.take(')')) this.fail("',' or ')'");
    }
    return { kind: 'call', name, args, at };
  }

  /** `ns.fn(` : a user-defined function's namespaced name. */
  private peekNamespaced(): boolean {
    return /^\s*\.\s*[A-Za-z_]\w*\s*\(/.test(this.text.slice(this.position, this.end));
  }

  private string(): Expression {
    let value = '';
    this.position++;
    for (;;) {
      if (this.position >= this.end) throw new ExpressionError('A string is not closed (missing "\'").', this.position);
      const char = this.text[this.position++]!;
      if (char === "'") {
        if (this.text[this.position] === "'" && this.position < this.end) {
          value += "'";
          this.position++;
          continue;
        }
        return { kind: 'string', value };
      }
      value += char;
    }
  }
}

/** What an expression can see besides its arguments. Absent members are not allowed where it is evaluated. */
export interface EvaluationScope {
  parameter(name: string): unknown;
  variable?(name: string): unknown;
  /** The current copy loop's index (of the named loop when given); undefined outside any loop. */
  copyIndex?(loop: string | undefined): number | undefined;
  resourceGroup(): Record<string, unknown>;
  subscription(): Record<string, unknown>;
  /** reference(): the resource's properties (`full`: the whole resource). */
  reference?(id: string, apiVersion: string | undefined, full: boolean): unknown;
  /** The section being evaluated, for messages ("variables", "resources"). */
  readonly section: string;
}

type Fn = (args: readonly Expression[], scope: EvaluationScope, at: number) => unknown;

const kindOf = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value === 'number' ? 'int' : typeof value === 'boolean' ? 'bool' : typeof value;

function evaluated(fn: (values: unknown[], at: number, scope: EvaluationScope) => unknown, arity: [number, number], name: string): Fn {
  return (args, scope, at) => {
    if (args.length < arity[0] || args.length > arity[1]) {
      const expected = arity[0] === arity[1] ? `${arity[0]}` : arity[1] === Infinity ? `at least ${arity[0]}` : `${arity[0]} to ${arity[1]}`;
      throw new ExpressionError(`The function '${name}' takes ${expected} argument(s); it was given ${args.length}.`, at);
    }
    return fn(args.map((arg) => evaluate(arg, scope)), at, scope);
  };
}

function needString(value: unknown, name: string, at: number): string {
  if (typeof value !== 'string') throw new ExpressionError(`The function '${name}' expects a string argument, not ${kindOf(value)}.`, at);
  return value;
}

function bounded(text: string, at: number): string {
  if (text.length > EXPRESSION_LIMITS.resultChars) throw new ExpressionError(`The result is longer than ${EXPRESSION_LIMITS.resultChars} characters.`, at);
  return text;
}

/** resourceId([subscriptionId], [resourceGroupName], type, name1, [name2…]). */
function resourceIdOf(values: unknown[], at: number, scope: EvaluationScope): string {
  const strings = values.map((value) => needString(value, 'resourceId', at));
  const typeAt = strings.findIndex((value) => /^[^/\s]+\.[^/\s]+\/[^/\s]+/.test(value));
  if (typeAt < 0 || typeAt > 2) throw new ExpressionError("The function 'resourceId' needs a resource type such as 'Microsoft.App/containerApps'.", at);
  const [namespace, ...types] = strings[typeAt]!.split('/');
  const names = strings.slice(typeAt + 1);
  if (names.length !== types.length) {
    throw new ExpressionError(`The function 'resourceId' needs ${types.length} name(s) for the type '${strings[typeAt]}'; it was given ${names.length}.`, at);
  }
  const subscription = typeAt === 2 ? strings[0]! : String(scope.subscription()['subscriptionId']);
  const group = typeAt >= 1 ? strings[typeAt - 1]! : String(scope.resourceGroup()['name']);
  const path = types.map((type, i) => `${type}/${names[i]}`).join('/');
  return `/subscriptions/${subscription}/resourceGroups/${group}/providers/${namespace}/${path}`;
}

/** .NET composite format as format() takes it: {0}, {1}…, "{{" and "}}"; format specifiers are refused. */
function formatText(values: unknown[], at: number): string {
  const [pattern, ...args] = values;
  const text = needString(pattern, 'format', at);
  return bounded(
    text.replace(/\{\{|\}\}|\{(\d+)(:[^}]*)?\}|[{}]/g, (token, index: string | undefined, spec: string | undefined) => {
      if (token === '{{') return '{';
      if (token === '}}') return '}';
      if (index === undefined) throw new ExpressionError(`The format string '${text}' has an unmatched '${token}'.`, at);
      if (spec !== undefined) throw new ExpressionError(`The format specifier '${spec.slice(1)}' in '${text}' is not supported by certgate (only {0}, {1}…).`, at);
      const arg = args[Number(index)];
      if (Number(index) >= args.length) throw new ExpressionError(`The format string '${text}' refers to argument {${index}}, but only ${args.length} were given.`, at);
      return typeof arg === 'string' ? arg : typeof arg === 'object' ? JSON.stringify(arg) : String(arg);
    }),
    at,
  );
}

function toText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const FUNCTIONS: Record<string, Fn> = {
  parameters: evaluated((values, at, scope) => scope.parameter(needString(values[0], 'parameters', at)), [1, 1], 'parameters'),
  variables: evaluated((values, at, scope) => {
    if (!scope.variable) throw new ExpressionError(`The function 'variables' cannot be used in ${scope.section}.`, at);
    return scope.variable(needString(values[0], 'variables', at));
  }, [1, 1], 'variables'),
  resourcegroup: evaluated((_values, _at, scope) => scope.resourceGroup(), [0, 0], 'resourceGroup'),
  subscription: evaluated((_values, _at, scope) => scope.subscription(), [0, 0], 'subscription'),
  resourceid: evaluated(resourceIdOf, [2, Infinity], 'resourceId'),
  concat: evaluated((values, at) => {
    if (values.length > 0 && values.every(Array.isArray)) return (values as unknown[][]).flat(1);
    return bounded(values.map((value) => (typeof value === 'string' ? value : value === null ? '' : toText(value))).join(''), at);
  }, [1, Infinity], 'concat'),
  format: evaluated(formatText, [1, Infinity], 'format'),
  tolower: evaluated((values, at) => needString(values[0], 'toLower', at).toLowerCase(), [1, 1], 'toLower'),
  toupper: evaluated((values, at) => needString(values[0], 'toUpper', at).toUpperCase(), [1, 1], 'toUpper'),
  uniquestring: evaluated((values, at) => uniqueString(values.map((value) => needString(value, 'uniqueString', at))), [1, Infinity], 'uniqueString'),
  reference: evaluated((values, at, scope) => {
    if (!scope.reference) throw new ExpressionError(`The function 'reference' cannot be used in ${scope.section}.`, at);
    const id = needString(values[0], 'reference', at);
    const apiVersion = values[1] === undefined ? undefined : needString(values[1], 'reference', at);
    const full = values[2] !== undefined && needString(values[2], 'reference', at).toLowerCase() === 'full';
    return scope.reference(id, apiVersion, full);
  }, [1, 3], 'reference'),
  copyindex: evaluated((values, at, scope) => {
    const loop = typeof values[0] === 'string' ? values[0] : undefined;
    const offset = typeof values[0] === 'number' ? values[0] : values[1] === undefined ? 0 : values[1];
    if (typeof offset !== 'number') throw new ExpressionError("The function 'copyIndex' takes an integer offset.", at);
    const index = scope.copyIndex?.(loop);
    if (index === undefined) throw new ExpressionError(`The function 'copyIndex' is used outside of a copy loop${loop === undefined ? '' : ` named '${loop}'`}.`, at);
    return index + offset;
  }, [0, 2], 'copyIndex'),
  equals: evaluated((values) => JSON.stringify(values[0]) === JSON.stringify(values[1]), [2, 2], 'equals'),
  not: evaluated((values, at) => !needBool(values[0], 'not', at), [1, 1], 'not'),
  and: evaluated((values, at) => values.every((value) => needBool(value, 'and', at)), [2, Infinity], 'and'),
  or: evaluated((values, at) => values.some((value) => needBool(value, 'or', at)), [2, Infinity], 'or'),
  true: evaluated(() => true, [0, 0], 'true'),
  false: evaluated(() => false, [0, 0], 'false'),
  string: evaluated((values) => toText(values[0]), [1, 1], 'string'),
  int: evaluated((values, at) => {
    const value = typeof values[0] === 'string' && /^-?\d+$/.test(values[0].trim()) ? Number(values[0]) : values[0];
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new ExpressionError(`The function 'int' cannot convert ${toText(values[0])} to an integer.`, at);
    return value;
  }, [1, 1], 'int'),
  bool: evaluated((values, at) => {
    const value = values[0];
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
    if (typeof value === 'number') return value !== 0;
    throw new ExpressionError(`The function 'bool' cannot convert ${toText(value)} to a boolean.`, at);
  }, [1, 1], 'bool'),
  length: evaluated((values, at) => {
    const value = values[0];
    if (typeof value === 'string' || Array.isArray(value)) return value.length;
    if (typeof value === 'object' && value !== null) return Object.keys(value).length;
    throw new ExpressionError(`The function 'length' expects a string, an array or an object, not ${kindOf(value)}.`, at);
  }, [1, 1], 'length'),
  empty: evaluated((values) => {
    const value = values[0];
    return value === null || value === '' || (Array.isArray(value) ? value.length === 0 : typeof value === 'object' && Object.keys(value as object).length === 0);
  }, [1, 1], 'empty'),
  // Lazy, as ARM's: the branch not taken is not evaluated (it may call reference() on a resource that is not deployed).
  if: (args, scope, at) => {
    if (args.length !== 3) throw new ExpressionError(`The function 'if' takes 3 arguments; it was given ${args.length}.`, at);
    return needBool(evaluate(args[0]!, scope), 'if', at) ? evaluate(args[1]!, scope) : evaluate(args[2]!, scope);
  },
};

/** The functions certgate evaluates, as templates spell them (docs/azure-clients.md lists them). */
export const SUPPORTED_FUNCTIONS: readonly string[] = [
  'parameters', 'variables', 'resourceId', 'resourceGroup', 'subscription', 'concat', 'format', 'toLower', 'toUpper',
  'uniqueString', 'reference', 'copyIndex', 'equals', 'not', 'and', 'or', 'if', 'true', 'false', 'string', 'int', 'bool',
  'length', 'empty',
];

function needBool(value: unknown, name: string, at: number): boolean {
  if (typeof value !== 'boolean') throw new ExpressionError(`The function '${name}' expects a boolean, not ${kindOf(value)}.`, at);
  return value;
}

export function evaluate(expression: Expression, scope: EvaluationScope): unknown {
  switch (expression.kind) {
    case 'string':
    case 'number':
      return expression.value;
    case 'call': {
      const fn = Object.hasOwn(FUNCTIONS, expression.name.toLowerCase()) ? FUNCTIONS[expression.name.toLowerCase()] : undefined;
      if (!fn) {
        throw new ExpressionError(`The template function '${expression.name}' is not supported by certgate. Supported: ${SUPPORTED_FUNCTIONS.join(', ')}.`, expression.at);
      }
      return fn(expression.args, scope, expression.at);
    }
    case 'member':
      return memberOf(evaluate(expression.target, scope), expression.name, expression.at);
    case 'index': {
      const target = evaluate(expression.target, scope);
      const index = evaluate(expression.index, scope);
      if (Array.isArray(target) && typeof index === 'number') {
        if (index < 0 || index >= target.length) throw new ExpressionError(`The index ${index} is out of range (the array has ${target.length} items).`, expression.at);
        return target[index];
      }
      if (typeof target === 'object' && target !== null && !Array.isArray(target) && typeof index === 'string') {
        return memberOf(target, index, expression.at);
      }
      throw new ExpressionError(`${kindOf(target)} cannot be indexed by ${kindOf(index)}.`, expression.at);
    }
  }
}

function memberOf(target: unknown, name: string, at: number): unknown {
  if (typeof target !== 'object' || target === null || Array.isArray(target)) {
    throw new ExpressionError(`The property '${name}' cannot be read from ${kindOf(target)}.`, at);
  }
  // ARM member names are case-insensitive.
  const key = Object.keys(target).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  if (key === undefined) throw new ExpressionError(`The object has no property '${name}'; it has: ${Object.keys(target).join(', ') || 'none'}.`, at);
  return (target as Record<string, unknown>)[key];
}

/** The `reference()` calls of an expression whose first argument is known without reference() (for implicit dependencies). */
export function referencedTargets(expression: Expression, scope: EvaluationScope): string[] {
  const found: string[] = [];
  const walk = (node: Expression): void => {
    if (node.kind === 'call') {
      if (node.name.toLowerCase() === 'reference' && node.args[0]) {
        try {
          const target = evaluate(node.args[0], { ...scope, reference: undefined });
          if (typeof target === 'string') found.push(target);
        } catch {
          // Not known before deployment: no implicit dependency (dependsOn must say it).
        }
      }
      node.args.forEach(walk);
    } else if (node.kind === 'member') walk(node.target);
    else if (node.kind === 'index') {
      walk(node.target);
      walk(node.index);
    }
  };
  walk(expression);
  return found;
}
