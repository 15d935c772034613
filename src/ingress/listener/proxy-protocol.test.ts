import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProxyHeader } from './proxy-protocol.ts';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v2(command: number, familyTransport: number, block: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = familyTransport;
  head.writeUInt16BE(block.length, 2);
  return Buffer.concat([SIG, head, block]);
}

function inet4(src: number[], dst: number[], sport: number, dport: number, tlvs = Buffer.alloc(0)): Buffer {
  const block = Buffer.alloc(12);
  Buffer.from(src).copy(block, 0);
  Buffer.from(dst).copy(block, 4);
  block.writeUInt16BE(sport, 8);
  block.writeUInt16BE(dport, 10);
  return Buffer.concat([block, tlvs]);
}

test('v1: TCP4, TCP6 and UNKNOWN; the rest of the stream is left alone', () => {
  const line = 'PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n';
  const data = Buffer.from(`${line}\x16\x03\x01`);
  assert.deepEqual(parseProxyHeader(data, 4096), { status: 'done', length: line.length, source: { address: '192.0.2.7', port: 56324 } });
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 1 2\r\n'), 4096), { status: 'done', length: 40, source: { address: '2001:db8::7', port: 1 } });
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'), 4096), { status: 'done', length: 15, source: undefined });
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff:f...f 1 2\r\n'), 4096).status, 'done');
});

test('v1: incomplete until the CRLF, at most 107 bytes, strict fields', () => {
  assert.equal(parseProxyHeader(Buffer.from('PRO'), 4096).status, 'incomplete');
  assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 56324'), 4096).status, 'incomplete');
  assert.deepEqual(parseProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`), 4096), { status: 'error', reason: 'proxy_protocol_v1_too_long' });
  for (const bad of [
    'PROXY TCP4 192.0.2.7 198.51.100.1 56324 70000\r\n',
    'PROXY TCP4 192.0.2.7 198.51.100.1 056324 443\r\n',
    'PROXY TCP4 2001:db8::7 198.51.100.1 1 443\r\n',
    'PROXY TCP6 192.0.2.7 2001:db8::1 1 443\r\n',
    'PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n',
    'PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n',
    'PROXY  TCP4 192.0.2.7 198.51.100.1 1 2\r\n',
  ]) {
    assert.deepEqual(parseProxyHeader(Buffer.from(bad), 4096), { status: 'error', reason: 'proxy_protocol_v1_malformed' }, bad);
  }
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXX TCP4'), 4096), { status: 'error', reason: 'proxy_protocol_missing' });
});

test('not a PROXY header at all: a TLS ClientHello or an HTTP request is refused', () => {
  assert.deepEqual(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01, 0x00]), 4096), { status: 'error', reason: 'proxy_protocol_missing' });
  assert.deepEqual(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'), 4096), { status: 'error', reason: 'proxy_protocol_missing' });
  assert.deepEqual(parseProxyHeader(Buffer.from('POST / HTTP/1.1\r\n'), 4096), { status: 'error', reason: 'proxy_protocol_missing' });
});

test('v2: INET with TLVs skipped, INET6, IPv4-mapped', () => {
  const tlvs = Buffer.from([0x03, 0x00, 0x04, 1, 2, 3, 4]); // PP2_TYPE_CRC32C
  const header = v2(1, 0x11, inet4([203, 0, 113, 9], [127, 0, 0, 1], 40000, 8443, tlvs));
  const data = Buffer.concat([header, Buffer.from('rest')]);
  assert.deepEqual(parseProxyHeader(data, 4096), { status: 'done', length: header.length, source: { address: '203.0.113.9', port: 40000 } });
  const block6 = Buffer.alloc(36);
  Buffer.from('20010db8000000000000000000000007', 'hex').copy(block6, 0);
  block6.writeUInt16BE(5555, 32);
  assert.deepEqual(parseProxyHeader(v2(1, 0x21, block6), 4096), { status: 'done', length: 52, source: { address: '2001:db8::7', port: 5555 } });
  const mapped = Buffer.alloc(36);
  Buffer.from('00000000000000000000ffff7f000002', 'hex').copy(mapped, 0);
  assert.equal((parseProxyHeader(v2(1, 0x21, mapped), 4096) as { source: { address: string } }).source.address, '::ffff:127.0.0.2');
});

test('v2: LOCAL, UNSPEC and UNIX keep the socket address', () => {
  assert.deepEqual(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0)), 4096), { status: 'done', length: 16, source: undefined });
  assert.deepEqual(parseProxyHeader(v2(0, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 4096), { status: 'done', length: 28, source: undefined });
  assert.deepEqual(parseProxyHeader(v2(1, 0x00, Buffer.alloc(0)), 4096), { status: 'done', length: 16, source: undefined });
  assert.deepEqual(parseProxyHeader(v2(1, 0x31, Buffer.alloc(216)), 4096), { status: 'done', length: 232, source: undefined });
});

test('v2: incomplete, bounded, and malformed headers', () => {
  const header = v2(1, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
  for (let cut = 1; cut < header.length; cut++) assert.equal(parseProxyHeader(header.subarray(0, cut), 4096).status, 'incomplete', `cut at ${cut}`);
  assert.deepEqual(parseProxyHeader(v2(1, 0x11, Buffer.alloc(5000)), 4096), { status: 'error', reason: 'proxy_protocol_too_long' });
  // The length alone decides: no need to wait for 64 KiB that will never be accepted.
  assert.deepEqual(parseProxyHeader(v2(1, 0x11, Buffer.alloc(5000)).subarray(0, 16), 4096), { status: 'error', reason: 'proxy_protocol_too_long' });
  const badVersion = Buffer.from(header);
  badVersion[12] = 0x11;
  assert.deepEqual(parseProxyHeader(badVersion, 4096), { status: 'error', reason: 'proxy_protocol_v2_bad_version' });
  assert.deepEqual(parseProxyHeader(v2(2, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 4096), { status: 'error', reason: 'proxy_protocol_v2_bad_command' });
  assert.deepEqual(parseProxyHeader(v2(1, 0x12, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 4096), { status: 'error', reason: 'proxy_protocol_v2_not_stream' });
  assert.deepEqual(parseProxyHeader(v2(1, 0x11, Buffer.alloc(8)), 4096), { status: 'error', reason: 'proxy_protocol_v2_short_address' });
  assert.deepEqual(parseProxyHeader(v2(1, 0x21, Buffer.alloc(12)), 4096), { status: 'error', reason: 'proxy_protocol_v2_short_address' });
  assert.deepEqual(parseProxyHeader(v2(1, 0x41, Buffer.alloc(12)), 4096), { status: 'error', reason: 'proxy_protocol_v2_bad_family' });
  const badSignature = Buffer.from(header);
  badSignature[5] = 0x00;
  assert.deepEqual(parseProxyHeader(badSignature, 4096), { status: 'error', reason: 'proxy_protocol_missing' });
});
