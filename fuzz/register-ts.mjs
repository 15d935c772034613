// `node --import ./fuzz/register-ts.mjs`: see strip-types-hooks.mjs.
import { register } from 'node:module';

register('./strip-types-hooks.mjs', import.meta.url);
