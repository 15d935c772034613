// packaging/certgate.service read as systemd reads its directives, for the tests that check it
// (test/systemd-unit.test.ts) and run its command (test/package.test.ts).
import { join } from 'node:path';
import { ROOT } from './cli.ts';

export const UNIT_PATH = join(ROOT, 'packaging', 'certgate.service');
/** Where the unit expects the package: `npm install --prefix /opt/certgate` (docs/production.md). */
export const INSTALL_PREFIX = '/opt/certgate';

/** A unit's directives, each with its values in order (a directive may repeat). */
export function unitDirectives(text: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) directives.set(match[1]!, [...(directives.get(match[1]!) ?? []), match[2]!]);
  }
  return directives;
}
