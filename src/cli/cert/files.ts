// Writing results: never over an existing file without --force; keys and PKCS#12 mode 0600.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError } from '../errors.ts';
import { reason } from './material.ts';

export interface OutputFile {
  path: string;
  option: string;
  data: string | Uint8Array;
  secret: boolean;
}

export function checkOutputs(files: Omit<OutputFile, 'data' | 'secret'>[], force: boolean): void {
  const seen = new Map<string, string>();
  for (const file of files) {
    const absolute = resolve(file.path);
    const other = seen.get(absolute);
    if (other) throw new CliError(`${other} and ${file.option} name the same file '${file.path}'`, { kind: 'usage' });
    seen.set(absolute, file.option);
    if (!force && existsSync(file.path)) {
      throw new CliError(`'${file.path}' (${file.option}) already exists: use --force to overwrite it`, { code: 'FileExists' });
    }
  }
}

export function writeOutputs(files: OutputFile[], force: boolean): void {
  checkOutputs(files, force);
  for (const file of files) {
    try {
      // Removing first, then creating exclusively, gives a replaced key file mode 0600 from its
      // first byte (writing over it would keep the old file's mode).
      if (force) rmSync(file.path, { force: true });
      writeFileSync(file.path, file.data, { mode: file.secret ? 0o600 : 0o644, flag: 'wx' });
    } catch (error) {
      throw new CliError(`cannot write '${file.path}' (${file.option}): ${reason(error)}`, { code: 'FileNotWritable' });
    }
  }
}
