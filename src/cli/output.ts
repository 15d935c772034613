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
// One file per format under output/; this module is what commands import.
export { OUTPUT_FORMATS, renderOutput } from './output/render.ts';
export type { OutputFormat, RenderOptions } from './output/render.ts';
export { applyQuery, compileQuery } from './output/query.ts';
export type { CompiledQuery } from './output/query.ts';
export { colorEnabled } from './output/color.ts';
export { addGlobalOptions, cliLogger, globalOptions } from './output/global-options.ts';
export type { CliLogger, GlobalOptions } from './output/global-options.ts';
export { outputAction } from './output/action.ts';
