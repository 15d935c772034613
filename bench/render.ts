// Redraws a saved run's report: node bench/render.ts bench/results/<UTC time>.json
// writes <UTC time>.md and .svg beside it (after a change to the report's layout, say), measuring nothing.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderReport } from './lib/render.ts';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node bench/render.ts bench/results/<UTC time>.json ...\n');
  process.exit(2);
}
for (const file of files) {
  const report = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const { markdown, svg } = renderReport(report);
  const base = file.replace(/\.json$/, '');
  writeFileSync(`${base}.md`, markdown);
  writeFileSync(`${base}.svg`, svg);
  process.stderr.write(`wrote ${base}.md and ${base}.svg\n`);
}
