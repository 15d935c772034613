// yaml / yamlc: PyYAML's safe_dump with default_flow_style=False, allow_unicode=True.
import { CST, Document, Parser, isScalar, visit } from 'yaml';
import type { Pair } from 'yaml';
import { ANSI, paint } from './color.ts';
import { compareKeys, isObject } from './json-model.ts';
import type { Json } from './json-model.ts';

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

export function yamlText(value: Json, color: boolean): string {
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
