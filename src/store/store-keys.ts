// Where the shared store's encryption keys come from: --store-key-file (CERTGATE_STORE_KEY_FILE), or
// the keys themselves in CERTGATE_STORE_KEY (lines, or separated by commas). Never from the
// database: a dump or backup of it alone must not open the secrets.
import { readFileSync, statSync } from 'node:fs';
import { parseStoreKeys, type StoreKey } from './secret-box.ts';

export function loadStoreKeys(keyFile: string | undefined, env: NodeJS.ProcessEnv): StoreKey[] {
  if (keyFile) {
    // Readable by others, the key protects nothing: refused, as ssh refuses such a private key.
    if ((statSync(keyFile).mode & 0o077) !== 0) throw new Error(`${keyFile} is readable by other users: chmod 600 it`);
    return parseStoreKeys(readFileSync(keyFile, 'utf8'), keyFile);
  }
  const inline = env['CERTGATE_STORE_KEY'];
  if (inline) return parseStoreKeys(inline.replaceAll(',', '\n'), 'CERTGATE_STORE_KEY');
  throw new Error('a --store database needs the key its secrets are encrypted with: --store-key-file <path> or CERTGATE_STORE_KEY (openssl rand -base64 32; the same on every replica; docs/scale-out.md)');
}
