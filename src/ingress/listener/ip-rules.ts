// IP security restrictions (ACA's `ipSecurityRestrictions`), pure: rules are parsed and compiled
// once into a matcher (a node:net BlockList) when the snapshot is built; the accept path only asks
// the matcher about one address. ACA's rules: all Allow (everything else denied) or all Deny
// (everything else allowed); each range a CIDR block or a single address, IPv4 or IPv6.
import net from 'node:net';

export interface IpRule {
  readonly name?: string;
  readonly ipAddressRange: string;
  readonly action: 'Allow' | 'Deny';
}

export interface IpRange {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Decides one client address; made once per app at compile time. */
export interface IpMatcher {
  readonly action: 'Allow' | 'Deny';
  allows(address: string): boolean;
}

/**
 * `10.0.0.0/8`, `10.1.2.3` (= /32), `2001:db8::/32`, `::1` (= /128). No zone ids, no leading zeros in
 * IPv4 octets (`010.0.0.1` means octal to some parsers and decimal to others), a decimal prefix.
 */
export function parseIpRange(text: string): IpRange | undefined {
  if (typeof text !== 'string' || text.length > 64) return undefined;
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) && !address.includes('%') ? 'ipv6' : undefined;
  if (!family) return undefined;
  const max = family === 'ipv4' ? 32 : 128;
  if (slash === -1) return { address, prefix: max, family };
  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  return prefix <= max ? { address, prefix, family } : undefined;
}

/** What is wrong with a rule list (member path relative to the list), or undefined when it is valid. */
export function ipRulesProblem(rules: readonly IpRule[]): { index: number; member: 'ipAddressRange' | 'action'; message: string } | undefined {
  const first = rules[0]?.action;
  for (const [index, rule] of rules.entries()) {
    if (rule.action !== first) {
      return { index, member: 'action', message: `IP security restrictions must be all Allow or all Deny; rule ${index} is ${String(rule.action)} while rule 0 is ${String(first)}.` };
    }
    if (!parseIpRange(rule.ipAddressRange)) {
      return { index, member: 'ipAddressRange', message: `'${String(rule.ipAddressRange)}' is not an IPv4 or IPv6 address or CIDR range (such as 10.0.0.0/8 or 2001:db8::/32).` };
    }
  }
  return undefined;
}

/** The matcher for an app's rules; undefined when there are none (every client is allowed). Throws on invalid rules. */
export function compileIpRules(rules: readonly IpRule[] | undefined): IpMatcher | undefined {
  if (!rules || rules.length === 0) return undefined;
  const problem = ipRulesProblem(rules);
  if (problem) throw new Error(`ipSecurityRestrictions[${problem.index}].${problem.member}: ${problem.message}`);
  const list = new net.BlockList();
  for (const rule of rules) {
    const range = parseIpRange(rule.ipAddressRange)!;
    list.addSubnet(range.address, range.prefix, range.family);
  }
  const action = rules[0]!.action;
  // Fail closed: an address that is no IP (a socket already gone) is never allowed, not even by a Deny list.
  return Object.freeze({ action, allows: action === 'Allow' ? (address: string) => matches(list, address) : (address: string) => net.isIP(address) !== 0 && !matches(list, address) });
}

/** A matcher for a list of trusted ranges (the PROXY protocol's sources). Throws on an invalid range. */
export function compileRangeList(ranges: readonly string[]): (address: string) => boolean {
  const list = new net.BlockList();
  for (const text of ranges) {
    const range = parseIpRange(text);
    if (!range) throw new Error(`'${text}' is not an IPv4 or IPv6 address or CIDR range`);
    list.addSubnet(range.address, range.prefix, range.family);
  }
  return (address) => matches(list, address);
}

/**
 * An IPv4-mapped IPv6 address (`::ffff:127.0.0.2`, what a dual-stack socket reports for an IPv4
 * client) is matched as the IPv4 address it is: otherwise an IPv4 Deny rule would not stop an IPv4
 * client that reached a `::` listener. An address that is no IP at all is never matched.
 */
function matches(list: net.BlockList, address: string): boolean {
  if (net.isIPv4(address)) return list.check(address, 'ipv4');
  if (!net.isIPv6(address)) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && net.isIPv4(mapped[1]!)) return list.check(mapped[1]!, 'ipv4');
  return list.check(address, 'ipv6');
}
