import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { before, describe, it } from 'node:test';
import tls from 'node:tls';
import fc from 'fast-check';
import { MAX_CLIENT_HELLO_RECORDS, readClientHello } from './clienthello.ts';
import { INGRESS_REASONS } from '../reasons.ts';
import type { ClientHelloResult } from './clienthello.ts';
import { normalizeHostname } from '../../model/hostnames.ts';

const TLS13 = 0x0304;

// ---- capturing real ClientHellos ----

/**
 * Listens on 127.0.0.1, lets `connect` open one client connection, and returns the
 * bytes the server received up to the point where readClientHello stopped saying
 * "incomplete". `connect` returns a function that stops the client.
 */
async function captureClientHello(connect: (port: number) => () => Promise<void> | void): Promise<Uint8Array> {
  let resolveHello: (bytes: Uint8Array) => void;
  const captured = new Promise<Uint8Array>((resolve) => {
    resolveHello = resolve;
  });
  const server = net.createServer((socket) => {
    let received = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (readClientHello(received).status !== 'incomplete') {
        resolveHello(new Uint8Array(received));
        socket.destroy();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const stopClient = connect((server.address() as AddressInfo).port);
  try {
    return await captured;
  } finally {
    await stopClient();
    server.close();
  }
}

function nodeClient(options: tls.ConnectionOptions): (port: number) => () => void {
  return (port) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.on('error', () => {});
    return () => {
      socket.destroy();
    };
  };
}

function opensslClient(args: string[]): (port: number) => () => Promise<void> {
  return (port) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    return async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill();
        await once(child, 'exit');
      }
    };
  };
}

// ---- building and rewriting hellos ----

const u8 = (n: number) => [n & 0xff];
const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const u24 = (n: number) => [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

function extension(type: number, data: number[]): number[] {
  return [...u16(type), ...u16(data.length), ...data];
}

function serverNameExtension(...names: string[]): number[] {
  const list = names.flatMap((name) => [0, ...u16(name.length), ...ascii(name)]);
  return extension(0, [...u16(list.length), ...list]);
}

function alpnExtension(...protocols: string[]): number[] {
  const list = protocols.flatMap((protocol) => [...u8(protocol.length), ...ascii(protocol)]);
  return extension(16, [...u16(list.length), ...list]);
}

/** A ClientHello handshake message (header included) with the given extensions. */
function clientHelloMessage(extensions: number[][]): number[] {
  const extensionBytes = extensions.flat();
  const body = [
    ...u16(0x0303),
    ...new Array<number>(32).fill(7), // random
    ...u8(32),
    ...new Array<number>(32).fill(9), // legacy_session_id
    ...u16(4),
    ...[0x13, 0x01, 0x13, 0x02], // cipher_suites
    ...[1, 0], // compression: null
    ...u16(extensionBytes.length),
    ...extensionBytes,
  ];
  return [1, ...u24(body.length), ...body];
}

/** Wraps a handshake message into handshake records of the given fragment sizes (cycled). */
function intoRecords(message: readonly number[] | Uint8Array, fragmentSizes: readonly number[] = [16_384]): Uint8Array {
  const out: number[] = [];
  for (let offset = 0, i = 0; offset < message.length; i++) {
    const fragment = [...message.slice(offset, offset + fragmentSizes[i % fragmentSizes.length]!)];
    out.push(22, 3, 1, ...u16(fragment.length), ...fragment);
    offset += fragment.length;
  }
  return new Uint8Array(out);
}

function syntheticHello(extensions: number[][]): Uint8Array {
  return intoRecords(clientHelloMessage(extensions));
}

/** The handshake bytes carried by a run of handshake records (the record layer removed). */
function handshakeOf(records: Uint8Array): Uint8Array {
  const message: number[] = [];
  for (let offset = 0; offset < records.length; ) {
    const length = (records[offset + 3]! << 8) | records[offset + 4]!;
    message.push(...records.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return new Uint8Array(message);
}

function withByte(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[offset] = value;
  return copy;
}

function assertDone(result: ClientHelloResult): Extract<ClientHelloResult, { status: 'done' }> {
  assert.equal(result.status, 'done', result.status === 'error' ? result.message : undefined);
  return result as Extract<ClientHelloResult, { status: 'done' }>;
}

/** `expected`: the reason code (a string), or a pattern for the message. */
function assertError(result: ClientHelloResult, expected?: string | RegExp): void {
  assert.equal(result.status, 'error');
  if (result.status !== 'error') return;
  assert.ok(result.reason in INGRESS_REASONS, result.reason);
  if (typeof expected === 'string') assert.equal(result.reason, expected);
  else if (expected !== undefined) assert.match(result.message, expected);
}

function assertEveryPrefixIncomplete(bytes: Uint8Array): void {
  for (let length = 0; length < bytes.length; length++) {
    const result = readClientHello(bytes.subarray(0, length));
    if (result.status !== 'incomplete') {
      assert.fail(`prefix of ${length}/${bytes.length} bytes gave ${JSON.stringify(result)}`);
    }
  }
}

// ---- tests ----

describe('readClientHello on real ClientHellos', () => {
  const captured = new Map<string, Uint8Array>();

  before(async () => {
    captured.set(
      'node TLS 1.3',
      await captureClientHello(nodeClient({ servername: 'App.Example.TEST', ALPNProtocols: ['h2', 'http/1.1'] })),
    );
    captured.set(
      'node TLS 1.2',
      await captureClientHello(
        nodeClient({ servername: 'api.example.test', ALPNProtocols: ['http/1.1'], maxVersion: 'TLSv1.2' }),
      ),
    );
    captured.set('node, IP without servername', await captureClientHello(nodeClient({})));
    captured.set('openssl s_client', await captureClientHello(opensslClient(['-servername', 'x', '-alpn', 'h2,http/1.1'])));
  });

  it('reads SNI (lower-cased), ALPN and versions from Node TLS 1.3', () => {
    const hello = assertDone(readClientHello(captured.get('node TLS 1.3')!));
    assert.equal(hello.serverName, 'app.example.test');
    assert.deepEqual(hello.alpn, ['h2', 'http/1.1']);
    assert.ok(hello.tlsVersions.includes(TLS13));
  });

  it('reads SNI and ALPN from Node limited to TLS 1.2', () => {
    const hello = assertDone(readClientHello(captured.get('node TLS 1.2')!));
    assert.equal(hello.serverName, 'api.example.test');
    assert.deepEqual(hello.alpn, ['http/1.1']);
    assert.ok(!hello.tlsVersions.includes(TLS13));
  });

  it('reads SNI and ALPN from openssl s_client', () => {
    const hello = assertDone(readClientHello(captured.get('openssl s_client')!));
    assert.equal(hello.serverName, 'x');
    assert.deepEqual(hello.alpn, ['h2', 'http/1.1']);
  });

  it('reports no SNI and no ALPN for a client connecting to an IP without servername', () => {
    const hello = assertDone(readClientHello(captured.get('node, IP without servername')!));
    assert.equal(hello.serverName, undefined);
    assert.deepEqual(hello.alpn, []);
  });

  it('is incomplete for every truncation (as when fed one byte at a time) and done at the end', () => {
    for (const [name, bytes] of captured) {
      assertEveryPrefixIncomplete(bytes);
      assert.equal(readClientHello(bytes).status, 'done', name);
    }
  });

  it('gives the same answer when the hello is re-fragmented into as many records as allowed', () => {
    for (const bytes of captured.values()) {
      const expected = assertDone(readClientHello(bytes));
      const message = handshakeOf(bytes);
      const smallest = Math.ceil(message.length / MAX_CLIENT_HELLO_RECORDS);
      const mostRecords = intoRecords(message, [smallest]);
      assert.deepEqual(readClientHello(mostRecords), expected);
      assertEveryPrefixIncomplete(mostRecords);

      fc.assert(
        fc.property(fc.array(fc.integer({ min: smallest, max: smallest * 4 }), { minLength: 1, maxLength: 20 }), (sizes) => {
          assert.deepEqual(readClientHello(intoRecords(message, sizes)), expected);
        }),
        { numRuns: 50 },
      );
    }
  });

  it('rejects a hello trickled in more records than any real client uses', () => {
    const message = handshakeOf(captured.get('node TLS 1.3')!);
    assertError(readClientHello(intoRecords(message, [1])), /more than 32 records/);
  });

  it('ignores bytes that follow the ClientHello', () => {
    const bytes = captured.get('openssl s_client')!;
    const followed = new Uint8Array([...bytes, 20, 3, 3, 0, 1, 1]);
    assert.deepEqual(readClientHello(followed), readClientHello(bytes));
  });

  it('reports corrupted lengths and types as errors', () => {
    const bytes = captured.get('node TLS 1.3')!;
    assert.equal(bytes[5], 1, 'a single record starting with the ClientHello');
    assertError(readClientHello(withByte(withByte(bytes, 3, 0), 4, 0)), /^empty handshake record$/);
    assertError(readClientHello(withByte(withByte(bytes, 3, 0), 4, 0)), 'clienthello_malformed');
    assertError(readClientHello(withByte(bytes, 3, 0x40 + 1)), /record length/);
    assertError(readClientHello(withByte(bytes, 1, 2)), /record version/);
    assertError(readClientHello(withByte(bytes, 2, 9)), /record version/);
    assertError(readClientHello(withByte(bytes, 5, 2)), /not a ClientHello/);
    // Handshake length one short: the extensions run past the message.
    const messageLength = (bytes[6]! << 16) | (bytes[7]! << 8) | bytes[8]!;
    const shorter = new Uint8Array(bytes);
    shorter.set(u24(messageLength - 1), 6);
    assertError(readClientHello(shorter), /malformed ClientHello/);
    // legacy_session_id (offset 5 + 4 + 2 + 32) longer than allowed or than the message.
    assertError(readClientHello(withByte(bytes, 43, 33)), /malformed ClientHello/);
    assertError(readClientHello(withByte(bytes, 43, 255)), /malformed ClientHello/);
    // A handshake length beyond the limit fails as soon as the record holding it is in.
    assertError(readClientHello(intoRecords([1, 0xff, 0xff, 0xff], [4])), /larger than 16384/);
  });

  it('rejects a hello bigger than maxBytes', () => {
    const bytes = captured.get('node TLS 1.3')!;
    assertError(readClientHello(bytes, 100), /larger than 100 bytes/);
    assertError(readClientHello(bytes, 100), 'clienthello_too_large');
    assertError(readClientHello(bytes.subarray(0, 5), 100), /larger than 100 bytes/);
    assert.equal(readClientHello(bytes, bytes.length).status, 'done');
  });
});

describe('readClientHello on hand-built hellos', () => {
  it('parses SNI and ALPN', () => {
    const hello = assertDone(readClientHello(syntheticHello([serverNameExtension('a.b'), alpnExtension('h2')])));
    assert.equal(hello.serverName, 'a.b');
    assert.deepEqual(hello.alpn, ['h2']);
    assert.deepEqual(hello.tlsVersions, [0x0303]);
  });

  it('lists supported_versions without GREASE', () => {
    const versions = [0x3a3a, 0x0304, 0x0303].flatMap(u16);
    const hello = assertDone(readClientHello(syntheticHello([extension(43, [versions.length, ...versions])])));
    assert.deepEqual(hello.tlsVersions, [0x0304, 0x0303]);
  });

  it('drops one trailing dot of the server name and allows underscores', () => {
    assert.equal(assertDone(readClientHello(syntheticHello([serverNameExtension('Www.Example.com.')]))).serverName, 'www.example.com');
    assert.equal(assertDone(readClientHello(syntheticHello([serverNameExtension('_acme.x-y.test')]))).serverName, '_acme.x-y.test');
  });

  it('rejects server names that are not DNS host names', () => {
    const invalid = ['evil.test\0.good.test', 'a..b', '.', '', 'a b.test', '-a.test', 'a-.test', 'a.test..', 'é.test'];
    const tooLong = ['x'.repeat(64), `${'a.'.repeat(127)}ab`];
    for (const name of [...invalid, ...tooLong]) {
      assertError(readClientHello(syntheticHello([serverNameExtension(name)])), /malformed ClientHello/);
    }
    assertError(readClientHello(syntheticHello([serverNameExtension('a.test', 'b.test')])), /two host_name/);
  });

  it('accepts exactly the names the control plane accepts as custom domains (one host-name rule)', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_.-]{0,24}$/);
    fc.assert(
      fc.property(name, (candidate) => {
        const result = readClientHello(syntheticHello([serverNameExtension(candidate)]));
        const accepted = normalizeHostname(candidate);
        assert.equal(result.status === 'done' ? result.serverName : undefined, accepted, candidate);
      }),
      { numRuns: 2_000, examples: [['shop-.example.com'], ['-shop.example.com'], ['shop.-example.com'], ['_acme.x-y.test'], ['a.b.']] },
    );
  });

  it('rejects duplicated extensions', () => {
    assertError(readClientHello(syntheticHello([alpnExtension('h2'), alpnExtension('h2')])), /appears twice/);
    assertError(readClientHello(syntheticHello([serverNameExtension('a.test'), serverNameExtension('a.test')])), /appears twice/);
  });

  it('rejects malformed server_name and ALPN extensions', () => {
    const sni = serverNameExtension('a.test');
    assertError(readClientHello(syntheticHello([extension(0, [])])), /malformed/);
    assertError(readClientHello(syntheticHello([extension(0, sni.slice(4, -1))])), /malformed/); // name cut short
    assertError(readClientHello(syntheticHello([extension(0, [...sni.slice(4), 0])])), /malformed/); // trailing byte
    assertError(readClientHello(syntheticHello([extension(16, [0, 0])])), /empty ALPN list/);
    assertError(readClientHello(syntheticHello([extension(16, [0, 3, 3, 0x68, 0x32])])), /malformed/);
    assertError(readClientHello(syntheticHello([extension(16, [0, 1, 0])])), /empty ALPN protocol/);
    assertError(readClientHello(syntheticHello([[0, 16, 0, 9, 0]])), /malformed/); // extension longer than the block
  });

  it('rejects a non-handshake record in the middle of the hello', () => {
    const records = intoRecords(clientHelloMessage([serverNameExtension('a.test')]), [10]);
    assertError(readClientHello(withByte(records, 15, 21)), /content type 21/);
  });

  it('rejects a hello spread over records beyond maxBytes', () => {
    const padding = extension(21, new Array<number>(20_000).fill(0));
    const records = intoRecords(clientHelloMessage([padding]), [16_384]);
    assertError(readClientHello(records), /larger than 16384/);
    assertError(readClientHello(records.subarray(0, 9)), /larger than 16384/);
    assert.equal(readClientHello(records, 32_768).status, 'done');
  });
});

describe('readClientHello on traffic that is not TLS', () => {
  const text = (s: string) => new TextEncoder().encode(s);

  it('names plain HTTP so the caller can log it', () => {
    assertError(readClientHello(text('GET / HTTP/1.1\r\n')), 'plain_http');
    assertError(readClientHello(text('POST /x HTTP/1.1\r\nHost: a\r\n')), 'plain_http');
    assertError(readClientHello(text('PRI * HTTP/2.0\r\n')), 'plain_http');
  });

  it('waits for a few bytes before telling HTTP from other traffic', () => {
    assert.equal(readClientHello(new Uint8Array()).status, 'incomplete');
    assert.equal(readClientHello(text('G')).status, 'incomplete');
    assert.equal(readClientHello(text('OPTIO')).status, 'incomplete');
    assertError(readClientHello(text('GX')), 'not_tls');
  });

  it('reports other bytes as not TLS', () => {
    assertError(readClientHello(text('SSH-2.0-OpenSSH_9.6\r\n')), 'not_tls');
    assertError(readClientHello(new Uint8Array([0])), 'not_tls');
    assertError(readClientHello(new Uint8Array([0x17, 3, 3, 0, 5])), 'not_tls');
  });

  it('rejects an SSLv2-style hello', () => {
    assertError(readClientHello(new Uint8Array([0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15])), /SSLv2/);
    assertError(readClientHello(new Uint8Array([0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15])), 'sslv2_hello');
  });
});

describe('readClientHello robustness', () => {
  const statuses = ['incomplete', 'done', 'error'];

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 20_000 }), (bytes, maxBytes) => {
        assert.ok(statuses.includes(readClientHello(bytes, maxBytes).status));
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on arbitrary bytes behind a handshake record header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 600 }), (body) => {
        const message = [1, ...u24(body.length), ...body];
        assert.ok(statuses.includes(readClientHello(intoRecords(message, [body.length + 4])).status));
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on a valid hello with random bytes overwritten', () => {
    const valid = syntheticHello([serverNameExtension('a.test'), alpnExtension('h2', 'http/1.1'), extension(43, [2, 3, 4])]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }),
        (edits) => {
          let bytes = valid;
          for (const [offset, value] of edits) bytes = withByte(bytes, offset, value);
          assert.ok(statuses.includes(readClientHello(bytes).status));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
