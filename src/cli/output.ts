// az-compatible command output: the global options (--output, --query, --subscription, --verbose,
// --debug, --only-show-errors) and the formats, which follow knack's formatters (knack/output.py,
// the output layer of azure-cli):
//   json   keys sorted, 2-space indent, non-ASCII kept, then a newline
//   jsonc  json coloured, only when stdout and stderr are terminals (else plain json)
//   yaml   keys sorted, sequences not indented under their key, single quotes (PyYAML safe_dump style)
//   yamlc  yaml coloured, on terminals only
//   tsv    one line per item of a list (a non-list is one item); an object's values tab-separated in
//          sorted key order (the key order of objects that --query built), a nested list as its
//          length, a nested object as an empty field, null as None, booleans True/False inside a
//          row but true/false as a whole row
//   table  one row per item, columns from scalar values with capitalised key headers and a
//          dashed separator; id, type and etag columns, nested values and nulls skipped
//   none   nothing
// --query (JMESPath) runs before formatting; a result of null prints nothing in any format.
import { Command, InvalidArgumentError, Option } from 'commander';
import jmespath from 'jmespath';
import { CST, Document, Parser, isScalar, visit } from 'yaml';
import type { Pair } from 'yaml';
import { CliError, reportError } from './errors.ts';

export const OUTPUT_FORMATS = ['json', 'jsonc', 'yaml', 'yamlc', 'table', 'tsv', 'none'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface RenderOptions {
  /** Default json. */
  output?: OutputFormat;
  /** JMESPath applied before formatting; '' or undefined means none. */
  query?: string;
  /** Colour jsonc and yamlc; default: colorEnabled(). */
  color?: boolean;
  /** Reshapes the value for table output when no --query is given (knack's table_transformer). */
  tableTransformer?: (value: unknown) => unknown;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const QUERY_HELP = "To learn more about --query, please visit: 'https://learn.microsoft.com/cli/azure/query-azure-cli'";

// The escape sequences of Pygments' TerminalFormatter, which az uses for jsonc and yamlc.
const ANSI = { key: '\x1b[94m', string: '\x1b[33m', literal: '\x1b[34m', reset: '\x1b[39;49;00m' } as const;

/**
 * Checks that `expression` is JMESPath, as az does while parsing arguments: a CliError of kind
 * 'usage' (exit code 2) with az's message otherwise.
 */
export function compileQuery(expression: string): void {
  try {
    (jmespath as unknown as { compile(expression: string): unknown }).compile(expression);
  } catch {
    throw new CliError(`argument --query: invalid jmespath_type value: '${expression}'`, {
      kind: 'usage',
      recommendation: QUERY_HELP,
    });
  }
}

/** Runs a JMESPath query; a failure while evaluating is a generic error (exit code 1), as in az. */
export function applyQuery(value: unknown, expression: string): unknown {
  return search(toJson(value), expression);
}

// Searches `input` itself, not a copy: tsv tells the objects a query built from those it returned.
function search(input: Json, expression: string): Json {
  compileQuery(expression);
  try {
    return jmespath.search(input, expression) as Json;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(`Invalid jmespath query supplied for \`--query\`: ${reason}`, { recommendation: QUERY_HELP });
  }
}

/** What the command prints for `value`: the whole of stdout, '' for none or a null result. */
export function renderOutput(value: unknown, options: RenderOptions = {}): string {
  const output = options.output ?? 'json';
  const input = toJson(value);
  const queryActive = options.query !== undefined && options.query !== '';
  const result = queryActive ? search(input, options.query as string) : input;
  if (result === null) return '';
  const color = options.color ?? colorEnabled();
  switch (output) {
    case 'json':
      return `${jsonText(result, '', false)}\n`;
    case 'jsonc':
      return `${jsonText(result, '', color)}\n`;
    case 'yaml':
      return yamlText(result, false);
    case 'yamlc':
      return yamlText(result, color);
    case 'tsv':
      return tsvText(result, queryActive ? objectsIn(input) : undefined);
    case 'table': {
      const transform = !queryActive ? options.tableTransformer : undefined;
      const rows = transform ? toJson(transform(result)) : result;
      // knack sorts the columns only when neither a query nor a transformer chose them.
      return tableText(rows, !queryActive && !transform);
    }
    case 'none':
      return '';
  }
}

/** knack's rule: colour only when stdout and stderr are both terminals; NO_COLOR or CERTGATE_CORE_NO_COLOR turn it off. */
export function colorEnabled(): boolean {
  if (process.env.NO_COLOR || isTrue(process.env.CERTGATE_CORE_NO_COLOR)) return false;
  return Boolean(process.stdout.isTTY && process.stderr.isTTY);
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
}

/** The JSON data model of a value: what a service would have sent (Dates become strings, undefined goes). */
function toJson(value: unknown): Json {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as Json);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Python's ordering of str keys: by code point (JavaScript's < compares UTF-16 units). */
function compareKeys(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  }
  return x.length - y.length;
}

function sortedKeys(object: JsonObject): string[] {
  return Object.keys(object).sort(compareKeys);
}

// ---- json / jsonc (Python's json.dumps with indent=2, sort_keys=True, ensure_ascii=False)

function paint(text: string, color: string | false): string {
  return color ? `${color}${text}${ANSI.reset}` : text;
}

function jsonText(value: Json, indent: string, color: boolean): string {
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

// ---- yaml / yamlc (PyYAML's safe_dump with default_flow_style=False, allow_unicode=True)

const YAML_OPTIONS = {
  // PyYAML writes YAML 1.1, so strings such as 'yes', 'on' and timestamps are quoted.
  version: '1.1',
  sortMapEntries: (a: Pair, b: Pair) => compareKeys(String(isScalar(a.key) ? a.key.value : a.key), String(isScalar(b.key) ? b.key.value : b.key)),
  indentSeq: false,
  singleQuote: true,
  // PyYAML writes multi-line strings as quoted scalars, never as | or > blocks.
  blockQuote: false,
  aliasDuplicateObjects: false,
} as const;

// Characters PyYAML does not print in plain or single-quoted scalars (tabs, controls, BOM), so it
// double-quotes the string and escapes them.
const YAML_NEEDS_ESCAPES = /[^\n\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFEFE\uFF00-\uFFFD\u{10000}-\u{10FFFF}]/u;

function yamlText(value: Json, color: boolean): string {
  const doc = new Document(value, YAML_OPTIONS);
  visit(doc, {
    Scalar(_, node) {
      if (typeof node.value === 'string' && YAML_NEEDS_ESCAPES.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  let text = doc.toString(YAML_OPTIONS);
  // PyYAML ends a document whose root is a plain (unquoted) scalar with '...'.
  if (!Array.isArray(value) && !isObject(value) && !/^['"]/.test(text)) {
    if (doc.directives) doc.directives.docEnd = true;
    text = doc.toString(YAML_OPTIONS);
  }
  return color ? colorYaml(text) : text;
}

/** Colours mapping keys and quoted strings, as Pygments' YAML lexer does for az's yamlc. */
function colorYaml(text: string): string {
  const spans: { start: number; end: number; color: string }[] = [];
  const add = (token: CST.Token | undefined, color: string, onlyQuoted: boolean) => {
    if (!token || !CST.isScalar(token)) return;
    if (onlyQuoted && token.type !== 'single-quoted-scalar' && token.type !== 'double-quoted-scalar') return;
    spans.push({ start: token.offset, end: token.offset + token.source.length, color });
  };
  for (const token of new Parser().parse(text)) {
    if (token.type !== 'document') continue;
    add(token.value, ANSI.string, true);
    CST.visit(token, (item) => {
      add(item.key ?? undefined, ANSI.key, false);
      add(item.value, ANSI.string, true);
    });
  }
  spans.sort((a, b) => a.start - b.start);
  let out = '';
  let position = 0;
  for (const span of spans) {
    out += text.slice(position, span.start);
    // Colour each line of a multi-line scalar separately, so no escape sequence spans a newline.
    out += text
      .slice(span.start, span.end)
      .split('\n')
      .map((line) => (line ? paint(line, span.color) : line))
      .join('\n');
    position = span.end;
  }
  return out + text.slice(position);
}

// ---- tsv (knack's _TsvOutput)

/** Every object in `value`: objects a query returns that are not among them were built by the query. */
function objectsIn(value: Json): Set<object> {
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

/** Python's str() of a JSON scalar. */
function pythonStr(value: Json): string {
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  return String(value);
}

function tsvText(result: Json, original: Set<object> | undefined): string {
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

// ---- table (knack's _TableOutput, then tabulate's "simple" format with numparse disabled)

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

function tableText(result: Json, sortKeys: boolean): string {
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

// ---- global options and the action runner

export interface GlobalOptions {
  output: OutputFormat;
  query?: string;
  subscription?: string;
  verbose: boolean;
  debug: boolean;
  onlyShowErrors: boolean;
}

function parseOutputFormat(value: string): OutputFormat {
  const format = value.toLowerCase();
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new InvalidArgumentError(`Allowed choices are ${OUTPUT_FORMATS.join(', ')}.`);
  }
  return format as OutputFormat;
}

/**
 * Adds az's global arguments to `command`, under "Global Arguments:" in its help. --subscription
 * is left out with `{ subscription: false }` (az adds it only to commands that use a subscription).
 * The default output format comes from CERTGATE_CORE_OUTPUT (az: AZURE_CORE_OUTPUT), else json.
 */
export function addGlobalOptions(command: Command, options: { subscription?: boolean } = {}): Command {
  const group = 'Global Arguments:';
  const globals = [
    new Option('--debug', 'Increase logging verbosity to show all debug logs.'),
    new Option('--only-show-errors', 'Only show errors, suppressing warnings.'),
    new Option('-o, --output <format>', `Output format: ${OUTPUT_FORMATS.join(', ')}.`)
      .env('CERTGATE_CORE_OUTPUT')
      .argParser(parseOutputFormat)
      .default('json'),
    new Option('--query <jmespath>', 'JMESPath query string. See http://jmespath.org/ for more information and examples.'),
    ...(options.subscription === false ? [] : [new Option('--subscription <subscription>', 'Name or ID of subscription.')]),
    new Option('--verbose', 'Increase logging verbosity. Use --debug for full debug logs.'),
  ];
  for (const option of globals) command.addOption(option.helpGroup(group));
  return command;
}

/** The global options as parsed for `command` (see addGlobalOptions). */
export function globalOptions(command: Command): GlobalOptions {
  const opts = command.optsWithGlobals<Partial<GlobalOptions>>();
  return {
    output: opts.output ?? 'json',
    query: opts.query,
    subscription: opts.subscription,
    verbose: opts.verbose ?? false,
    debug: opts.debug ?? false,
    onlyShowErrors: opts.onlyShowErrors ?? false,
  };
}

export interface CliLogger {
  /** Shown unless --only-show-errors. */
  warning(message: string): void;
  /** Shown with --verbose or --debug. */
  info(message: string): void;
  /** Shown with --debug. */
  debug(message: string): void;
}

/** az's log lines on stderr: `WARNING: ...`, `INFO: ...`, `DEBUG: ...`. */
export function cliLogger(
  options: Pick<GlobalOptions, 'verbose' | 'debug' | 'onlyShowErrors'>,
  stderr: { write(text: string): unknown } = process.stderr,
): CliLogger {
  return {
    warning: (message) => {
      if (!options.onlyShowErrors) stderr.write(`WARNING: ${message}\n`);
    },
    info: (message) => {
      if (options.verbose || options.debug) stderr.write(`INFO: ${message}\n`);
    },
    debug: (message) => {
      if (options.debug) stderr.write(`DEBUG: ${message}\n`);
    },
  };
}

let stdoutGuarded = false;

function writeStdout(text: string): void {
  if (!text) return;
  if (!stdoutGuarded) {
    stdoutGuarded = true;
    // `certgate ... | head -1`: a closed pipe ends the output quietly, as in az.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  process.stdout.write(text);
}

/**
 * Wraps a commander action for a command that has the global options: the --query is checked
 * before the handler runs (exit code 2 if it is not JMESPath), the handler's return value is
 * printed with --output and --query, and an error it throws is printed as `ERROR: ...` with az's
 * exit code (set as process.exitCode). The handler receives commander's arguments unchanged.
 */
export function outputAction<Args extends unknown[]>(
  handler: (...args: Args) => unknown,
  options: Pick<RenderOptions, 'tableTransformer'> = {},
): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    const command = args.at(-1);
    if (!(command instanceof Command)) throw new TypeError('outputAction: the last action argument must be the Command');
    const global = globalOptions(command);
    const log = cliLogger(global);
    const started = performance.now();
    try {
      if (global.query) compileQuery(global.query);
      const result = await handler(...args);
      writeStdout(renderOutput(result, { output: global.output, query: global.query, ...options }));
    } catch (error) {
      process.exitCode = reportError(error, { debug: global.debug });
    }
    log.info(`Command ran in ${((performance.now() - started) / 1000).toFixed(3)} seconds`);
  };
}
