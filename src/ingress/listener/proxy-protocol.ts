// The PROXY protocol header (HAProxy's spec, versions 1 and 2), pure: what an L4 load balancer in
// front of certgate sends first on each connection to say who the client is. Version 1 is one text
// line of at most 107 bytes; version 2 a 16-byte binary head and an address block, then TLVs (skipped).
import net from 'node:net';
import type { ProxyProtocolReason } from '../reasons.ts';

export type ProxyHeader =
  | { readonly status: 'incomplete' }
  | { readonly status: 'error'; readonly reason: ProxyProtocolReason }
  | {
      readonly status: 'done';
      /** Bytes the header took; what follows is the client's own stream. */
      readonly length: number;
      /** The client's address; undefined for LOCAL (v2) and UNKNOWN (v1): the socket's address stands. */
      readonly source: { readonly address: string; readonly port: number } | undefined;
    };

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ');
/** The spec's bound for a v1 line, CRLF included. */
export const V1_MAX_BYTES = 107;
const INCOMPLETE: ProxyHeader = Object.freeze({ status: 'incomplete' });

/**
 * Parses the header at the start of `data`. `maxBytes` bounds a v2 header (its length field allows
 * 64 KiB of TLVs, which certgate has no use for); a longer one is an error, not a reason to buffer.
 */
export function parseProxyHeader(data: Buffer, maxBytes: number): ProxyHeader {
  if (data.length === 0) return INCOMPLETE;
  if (data[0] === 0x0d) return parseV2(data, maxBytes);
  if (data[0] === 0x50 /* P */) return parseV1(data);
  return { status: 'error', reason: 'proxy_protocol_missing' };
}

function startsWithPrefix(data: Buffer, prefix: Buffer): boolean | 'partial' {
  const n = Math.min(data.length, prefix.length);
  if (!data.subarray(0, n).equals(prefix.subarray(0, n))) return false;
  return n === prefix.length ? true : 'partial';
}

function parseV1(data: Buffer): ProxyHeader {
  const prefix = startsWithPrefix(data, V1_PREFIX);
  if (prefix === false) return { status: 'error', reason: 'proxy_protocol_missing' };
  const end = data.indexOf('\r\n');
  if (end === -1 || end + 2 > V1_MAX_BYTES) {
    return data.length >= V1_MAX_BYTES ? { status: 'error', reason: 'proxy_protocol_v1_too_long' } : INCOMPLETE;
  }
  const line = data.toString('latin1', 0, end);
  const fields = line.split(' ');
  const length = end + 2;
  if (fields[1] === 'UNKNOWN') return { status: 'done', length, source: undefined };
  if (fields.length !== 6 || (fields[1] !== 'TCP4' && fields[1] !== 'TCP6')) return { status: 'error', reason: 'proxy_protocol_v1_malformed' };
  const [, family, source, destination, sourcePort, destinationPort] = fields as [string, string, string, string, string, string];
  const valid = family === 'TCP4' ? net.isIPv4 : (address: string) => net.isIPv6(address) && !address.includes('%');
  if (!valid(source) || !valid(destination) || !isPort(sourcePort) || !isPort(destinationPort)) {
    return { status: 'error', reason: 'proxy_protocol_v1_malformed' };
  }
  return { status: 'done', length, source: { address: source, port: Number(sourcePort) } };
}

function isPort(text: string): boolean {
  return /^(0|[1-9][0-9]{0,4})$/.test(text) && Number(text) <= 65535;
}

function parseV2(data: Buffer, maxBytes: number): ProxyHeader {
  const prefix = startsWithPrefix(data, V2_SIGNATURE);
  if (prefix === false) return { status: 'error', reason: 'proxy_protocol_missing' };
  if (data.length < 16) return INCOMPLETE;
  const versionCommand = data[12]!;
  const familyTransport = data[13]!;
  const length = 16 + data.readUInt16BE(14);
  if (versionCommand >> 4 !== 2) return { status: 'error', reason: 'proxy_protocol_v2_bad_version' };
  if (length > maxBytes) return { status: 'error', reason: 'proxy_protocol_too_long' };
  if (data.length < length) return INCOMPLETE;
  const command = versionCommand & 0x0f;
  // LOCAL: a health check or the balancer's own connection; the socket's address is the truth.
  if (command === 0x0) return { status: 'done', length, source: undefined };
  if (command !== 0x1) return { status: 'error', reason: 'proxy_protocol_v2_bad_command' };
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  // UNSPEC and UNIX sources carry no IP address: keep the socket's, as for LOCAL.
  if (family === 0x0 || family === 0x3) return { status: 'done', length, source: undefined };
  if (transport !== 0x1) return { status: 'error', reason: 'proxy_protocol_v2_not_stream' };
  const block = data.subarray(16, length);
  if (family === 0x1) {
    if (block.length < 12) return { status: 'error', reason: 'proxy_protocol_v2_short_address' };
    return { status: 'done', length, source: { address: `${block[0]}.${block[1]}.${block[2]}.${block[3]}`, port: block.readUInt16BE(8) } };
  }
  if (family === 0x2) {
    if (block.length < 36) return { status: 'error', reason: 'proxy_protocol_v2_short_address' };
    return { status: 'done', length, source: { address: ipv6Text(block.subarray(0, 16)), port: block.readUInt16BE(32) } };
  }
  return { status: 'error', reason: 'proxy_protocol_v2_bad_family' };
}

/** The canonical (compressed) text form, as a socket's remoteAddress gives it. */
function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // An IPv4-mapped address in the dotted form Node uses for dual-stack sockets.
  if (groups.slice(0, 5).every((group) => group === '0') && groups[5] === 'ffff') return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}
