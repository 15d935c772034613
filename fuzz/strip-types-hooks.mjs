// Module hooks (registered by fuzz/register-ts.mjs) that hand Jazzer.js TypeScript modules as
// plain JavaScript. Node 24 loads `.ts` files with format `module-typescript` and strips the
// types after all hooks have run, so Jazzer's loader hook, which instruments format `module`
// only, would otherwise leave every `.ts` file without coverage feedback. Registered before
// Jazzer's own hook, so Jazzer's `load` sees this one's output.
import { stripTypeScriptTypes } from 'node:module';

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (result.format !== 'module-typescript') return result;
  const source = typeof result.source === 'string' ? result.source : Buffer.from(result.source).toString('utf8');
  return { ...result, format: 'module', source: stripTypeScriptTypes(source, { mode: 'strip' }) };
}
