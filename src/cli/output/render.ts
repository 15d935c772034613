// What a command prints for its result: --query, then the --output format.
import { colorEnabled } from './color.ts';
import { jsonText } from './json.ts';
import { toJson } from './json-model.ts';
import { compileQuery, search } from './query.ts';
import type { CompiledQuery } from './query.ts';
import { tableText } from './table.ts';
import { objectsIn, tsvText } from './tsv.ts';
import { yamlText } from './yaml.ts';

export const OUTPUT_FORMATS = ['json', 'jsonc', 'yaml', 'yamlc', 'table', 'tsv', 'none'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface RenderOptions {
  /** Default json. */
  output?: OutputFormat;
  /** JMESPath applied before formatting (compiled once per command); '' or undefined means none. */
  query?: string | CompiledQuery;
  /** Colour jsonc and yamlc; default: colorEnabled(). */
  color?: boolean;
  /** Reshapes the value for table output when no --query is given (knack's table_transformer). */
  tableTransformer?: (value: unknown) => unknown;
}

/** What the command prints for `value`: the whole of stdout, '' for none or a null result. */
export function renderOutput(value: unknown, options: RenderOptions = {}): string {
  const output = options.output ?? 'json';
  const input = toJson(value);
  const query = typeof options.query === 'string' ? (options.query === '' ? undefined : compileQuery(options.query)) : options.query;
  const queryActive = query !== undefined;
  const result = queryActive ? search(input, query) : input;
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
