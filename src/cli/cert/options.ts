// The options `certgate cert` subcommands share; a bad value is a usage error (exit code 2).
import { Command, InvalidArgumentError, Option } from 'commander';
import { isIP } from 'node:net';
import type { KeyType } from '../../pki/issue.ts';
import { normalizeHostname } from '../../model/hostnames.ts';
import { CliError } from '../errors.ts';
import { enumOption } from '../options.ts';
import { addGlobalOptions } from '../output.ts';

export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'rsa-2048', 'rsa-3072'];

export function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 36500) {
    throw new InvalidArgumentError('expected a whole number of days from 1 to 36500');
  }
  return Number(value);
}

export function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 100) throw new InvalidArgumentError('expected a whole number from 0 to 100');
  return Number(value);
}

export function parseDate(value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('expected an ISO 8601 date, e.g. 2030-01-31 or 2030-01-31T12:00:00Z');
  }
  return date;
}

export function collect(check?: (value: string) => void) {
  return (value: string, previous: string[] | undefined): string[] => {
    check?.(value);
    return [...(previous ?? []), value];
  };
}

export const checkDns = (value: string) => {
  // The one host-name rule; a certificate may also name a wildcard (`*.example.com`).
  if (normalizeHostname(value.startsWith('*.') ? value.slice(2) : value) === undefined) {
    throw new InvalidArgumentError(`'${value}' is not a DNS name`);
  }
};
export const checkIp = (value: string) => {
  if (isIP(value) === 0) throw new InvalidArgumentError(`'${value}' is not an IPv4 or IPv6 address`);
};
export const checkUri = (value: string) => {
  if (!URL.canParse(value)) throw new InvalidArgumentError(`'${value}' is not an absolute URI such as spiffe://example.org/workload`);
};
export const checkEmail = (value: string) => {
  if (!/^[^@\s]+@[^@\s]+$/.test(value)) throw new InvalidArgumentError(`'${value}' is not an email address`);
};

export interface ValidityOptions {
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
}

export function validityOptions(command: Command, defaultDays: string): Command {
  return command
    .addOption(new Option('--days <n>', `validity in days (default: ${defaultDays})`).argParser(parsePositive).conflicts('notAfter'))
    .addOption(new Option('--not-before <date>', 'start of validity, ISO 8601 (default: 5 minutes ago)').argParser(parseDate))
    .addOption(new Option('--not-after <date>', 'end of validity, ISO 8601 (instead of --days)').argParser(parseDate));
}

export function validity(options: ValidityOptions): { validityDays?: number; notBefore?: Date; notAfter?: Date } {
  if (options.notBefore && options.notAfter && options.notAfter <= options.notBefore) {
    throw new CliError('--not-after must be later than --not-before', { kind: 'usage' });
  }
  return {
    ...(options.days === undefined ? {} : { validityDays: options.days }),
    ...(options.notBefore ? { notBefore: options.notBefore } : {}),
    ...(options.notAfter ? { notAfter: options.notAfter } : {}),
  };
}

export function keyTypeOption(): Option {
  return enumOption('--key-type <type>', 'key of the new certificate', KEY_TYPES).default('ec-p256');
}

export function passwordOptions(command: Command, what: string): Command {
  return command
    .addOption(new Option('--password <password>', `password of ${what}`).conflicts('passwordFile'))
    .addOption(new Option('--password-file <file>', `read the password of ${what} from the first line of a file ('-': standard input)`));
}

export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  ${line}`).join('\n')}\n`;
}

/** A subcommand's global options (no --subscription) and its examples under its help. */
export function withExamples(command: Command, lines: string[]): Command {
  return addGlobalOptions(command, { subscription: false }).addHelpText('after', examples(lines));
}
