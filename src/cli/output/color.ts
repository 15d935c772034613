// Colour for jsonc and yamlc: knack's rule for when, Pygments' escape sequences for how.

// The escape sequences of Pygments' TerminalFormatter, which az uses for jsonc and yamlc.
export const ANSI = { key: '\x1b[94m', string: '\x1b[33m', literal: '\x1b[34m', reset: '\x1b[39;49;00m' } as const;

/** knack's rule: colour only when stdout and stderr are both terminals; NO_COLOR or CERTGATE_CORE_NO_COLOR turn it off. */
export function colorEnabled(): boolean {
  if (process.env.NO_COLOR || isTrue(process.env.CERTGATE_CORE_NO_COLOR)) return false;
  return Boolean(process.stdout.isTTY && process.stderr.isTTY);
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
}

export function paint(text: string, color: string | false): string {
  return color ? `${color}${text}${ANSI.reset}` : text;
}

