// Fuzz target: the ClientHello reader (src/ingress/listener/clienthello.ts), the first bytes any client
// sends to the HTTPS port, read before TLS. Input: byte 0 picks the size limit (bit 0: 512 bytes,
// else the default); the rest is what the client sends. Invariants: never throws; a 'done' result
// has a lower-case server name without a trailing dot (or none), string ALPN names and numeric
// versions; and the reader is stateless and monotonic, as the listener calls it again on every
// chunk with all bytes so far: once a prefix is decided ('done' or 'error'), every longer input
// gives the same answer, and an input still 'incomplete' had only 'incomplete' prefixes.
import { DEFAULT_MAX_CLIENT_HELLO_BYTES, readClientHello } from '../src/ingress/listener/clienthello.ts';

const STATUSES = new Set(['incomplete', 'done', 'error']);

function check(result) {
  if (!STATUSES.has(result.status)) throw new Error(`unknown status ${result.status}`);
  if (result.status === 'error' && (typeof result.reason !== 'string' || result.reason.length === 0)) throw new Error('an error without a reason');
  if (result.status !== 'done') return;
  const name = result.serverName;
  if (name !== undefined && (typeof name !== 'string' || name.length === 0 || name !== name.toLowerCase() || name.endsWith('.'))) {
    throw new Error(`server name not normalised: ${JSON.stringify(name)}`);
  }
  if (!Array.isArray(result.alpn) || result.alpn.some((protocol) => typeof protocol !== 'string')) throw new Error('ALPN not a list of strings');
  if (!Array.isArray(result.tlsVersions) || result.tlsVersions.some((version) => !Number.isInteger(version))) throw new Error('versions not integers');
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** @param {Buffer} data */
export function fuzz(data) {
  if (data.length < 1) return;
  const maxBytes = data[0] & 1 ? 512 : DEFAULT_MAX_CLIENT_HELLO_BYTES;
  const bytes = data.subarray(1);
  const full = readClientHello(bytes, maxBytes);
  check(full);
  // A few prefixes (every length would make each run quadratic): where the listener's reads end.
  const step = Math.max(1, Math.floor(bytes.length / 8));
  for (let length = 0; length < bytes.length; length += step) {
    const prefix = readClientHello(bytes.subarray(0, length), maxBytes);
    check(prefix);
    if (prefix.status !== 'incomplete' && !same(prefix, full)) {
      throw new Error(`decided ${JSON.stringify(prefix)} after ${length} bytes, then ${JSON.stringify(full)} after ${bytes.length}`);
    }
    if (full.status === 'incomplete' && prefix.status !== 'incomplete') throw new Error('a decided prefix of an incomplete input');
  }
}
