// Preloaded with `node --import` by tests that check what a command loads: records every module
// URL the process resolves and writes them, one a line, to $LOADED_MODULES_FILE when it exits
// (`%p` in it becomes the process id: a cluster's workers inherit the hook and write their own file).
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';

const file = process.env.LOADED_MODULES_FILE?.replace('%p', String(process.pid));
const loaded = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    loaded.add(result.url);
    return result;
  },
});
let written = 0;
const write = () => {
  if (loaded.size === written) return;
  written = loaded.size;
  writeFileSync(file!, [...loaded].join('\n'));
};
if (file) {
  process.on('exit', write);
  // Also while running: a process that is killed (a cluster worker when its primary stops) never exits normally.
  setInterval(write, 250).unref();
}
