// Parsers for command-line values: a bad value is a one-line error naming the option.
import { InvalidArgumentError, Option } from 'commander';
import { isPostgresUrl } from '../store/location.ts';
import { availableParallelism } from 'node:os';
import { parseIpRange } from '../ingress/listener/ip-rules.ts';
import { normalizeHostname } from '../model/hostnames.ts';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return port;
}

export function parseDomain(value: string): string {
  const domain = normalizeHostname(value);
  if (domain === undefined) throw new InvalidArgumentError('expected a DNS domain such as certgate.localhost');
  return domain;
}

export function parseWorkers(value: string): number {
  if (value === 'auto') return availableParallelism();
  const count = Number(value);
  if (!/^\d+$/.test(value) || count < 1 || count > 256) throw new InvalidArgumentError("expected 'auto' or a number of processes from 1 to 256");
  return count;
}

/**
 * An option with a closed set of values, matched in any casing as az does (`--action allow`,
 * `--client-certificate-mode Accept`), given to the command in the spelling of `values`.
 */
export function enumOption(flags: string, description: string, values: readonly string[]): Option {
  const byLower = new Map(values.map((value) => [value.toLowerCase(), value]));
  return new Option(flags, description).choices(values).argParser((value: string) => {
    const match = byLower.get(value.toLowerCase());
    if (match === undefined) throw new InvalidArgumentError(`Allowed choices are ${values.join(', ')}.`);
    return match;
  });
}

/** true/false in az's spellings (true, false, yes, no, 1, 0; any casing). */
export function parseBoolean(value: string): boolean {
  if (/^(true|yes|1)$/i.test(value)) return true;
  if (/^(false|no|0)$/i.test(value)) return false;
  throw new InvalidArgumentError('expected true or false.');
}

/** A comma-separated list of addresses or CIDR ranges (`10.0.0.0/8,::1`). */
export function parseRangeList(value: string): string[] {
  const ranges = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  for (const range of ranges) {
    if (!parseIpRange(range)) throw new InvalidArgumentError(`'${range}' is not an IPv4 or IPv6 address or CIDR range`);
  }
  if (ranges.length === 0) throw new InvalidArgumentError('expected at least one address or CIDR range');
  return ranges;
}

/** A comma-separated subset of `choices` (`https,http`), in any casing like enumOption, given in the spelling of `choices`. */
export function listOf<T extends string>(choices: readonly T[]): (value: string) => T[] {
  const byLower = new Map(choices.map((choice) => [choice.toLowerCase(), choice]));
  return (value) => {
    const items = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
    const matched = items.map((item) => {
      const match = byLower.get(item.toLowerCase());
      if (match === undefined) throw new InvalidArgumentError(`'${item}' is not one of ${choices.join(', ')}`);
      return match;
    });
    return [...new Set(matched)];
  };
}

/** --store: a postgres:// URL; anything else is a usage error, said before starting. */
export function parseStoreUrl(value: string): string {
  if (!isPostgresUrl(value)) throw new InvalidArgumentError('expected a postgres:// or postgresql:// URL');
  return value;
}
