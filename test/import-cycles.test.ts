// No import cycle anywhere in src: every module's imports (static, type-only and dynamic) form a
// graph without loops, so the layers (model → store/pki/ingress → gateway/control → cli) stay
// one-way and each module can be loaded, and tested, without the ones above it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dirname, '../src');

/** The relative specifiers a module imports: `import ... from`, `export ... from`, `import '...'`, `import('...')`. */
function importsOf(source: string): string[] {
  // Comments name modules too ("loaded by import('./x.ts')"): drop them first.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specifiers: string[] = [];
  for (const match of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)) specifiers.push(match[1]!);
  return specifiers;
}

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Every cycle's modules, in import order (each cycle once, from the first module the walk met on it). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

test('the cycle finder finds a cycle, through a dynamic import too (so the test below can fail)', () => {
  assert.deepEqual(importsOf("import type { A } from './a.ts';\n// import('./commented.ts')\nconst b = await import('../b.ts');\nexport { c } from './c.ts';"), ['./a.ts', '../b.ts', './c.ts']);
  const graph = new Map([['serve.ts', ['options.ts', 'serve-run.ts']], ['serve-run.ts', ['serve.ts']], ['options.ts', []]]);
  assert.deepEqual(cycles(graph), [['serve-run.ts', 'serve.ts', 'serve-run.ts']]);
  assert.deepEqual(cycles(new Map([['a', ['b']], ['b', []]])), []);
});

test('no module in src imports itself through others', () => {
  const graph = new Map<string, string[]>();
  for (const file of modules(SRC)) {
    const imports = importsOf(readFileSync(file, 'utf8'))
      .map((specifier) => resolve(dirname(file), specifier))
      .filter((target) => target.startsWith(SRC) && target.endsWith('.ts'));
    graph.set(file, imports);
  }
  assert.ok(graph.size > 100, `read ${graph.size} modules`);
  const found = cycles(graph).map((cycle) => cycle.map((file) => relative(SRC, file)).join(' → '));
  assert.deepEqual(found, [], `import cycles:\n${found.join('\n')}`);
});
