// Preloaded with `node --import` by tests that check what a command loads: records every module
// URL the process resolves and writes them, one a line, to $LOADED_MODULES_FILE when it exits.
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';

const file = process.env.LOADED_MODULES_FILE;
const loaded = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    loaded.add(result.url);
    return result;
  },
});
if (file) process.on('exit', () => writeFileSync(file, [...loaded].join('\n')));
