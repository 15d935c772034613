import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ResponseParseError, ResponseParser, type ResponseHead } from './http1-response.ts';

interface Parsed {
  heads: ResponseHead[];
  body: string;
  /** The body as it stood when a chunk came marked last (undefined: none was). */
  bodyAtLast: string | undefined;
  ended: number;
  parser: ResponseParser;
}

function parser(method = 'GET', maxHeadBytes?: number, upgrade = false): Parsed {
  const parsed: Parsed = { heads: [], body: '', bodyAtLast: undefined, ended: 0, parser: undefined as unknown as ResponseParser };
  parsed.parser = new ResponseParser(
    {
      onHead: (head) => parsed.heads.push(head),
      onBody: (chunk, last) => {
        assert.equal(parsed.bodyAtLast, undefined, 'nothing after the chunk marked last');
        parsed.body += chunk.toString('latin1');
        if (last) parsed.bodyAtLast = parsed.body;
      },
      onEnd: () => parsed.ended++,
    },
    maxHeadBytes === undefined ? undefined : { maxHeadBytes },
  );
  parsed.parser.expect(method, upgrade);
  return parsed;
}

/** Parses `wire` delivered in pieces cut at `cuts` (offsets). */
function parseInPieces(wire: string, cuts: readonly number[], method = 'GET'): Parsed {
  const parsed = parser(method);
  const bytes = Buffer.from(wire, 'latin1');
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b).concat(bytes.length)) {
    if (cut <= from) continue;
    parsed.parser.execute(bytes.subarray(from, cut));
    from = cut;
  }
  return parsed;
}

/** The bytes are refused, and no head was handed on before (a client must not get a half answer). */
const rejects = (wire: string, message: RegExp, method = 'GET', headFirst = false) => {
  const parsed = parser(method);
  assert.throws(() => parsed.parser.execute(Buffer.from(wire, 'latin1')), (error: unknown) => error instanceof ResponseParseError && message.test(error.message));
  if (!headFirst) assert.equal(parsed.heads.length, 0, `no head before the error: ${JSON.stringify(wire)}`);
};

test('content-length body: head, body and end; the connection may be reused', () => {
  const parsed = parseInPieces('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello', []);
  assert.equal(parsed.heads.length, 1);
  assert.equal(parsed.heads[0]!.status, 200);
  assert.deepEqual(parsed.heads[0]!.rawHeaders, ['Content-Type', 'text/plain', 'Content-Length', '5', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  assert.equal(parsed.body, 'hello');
  assert.equal(parsed.bodyAtLast, 'hello', 'the final chunk of a Content-Length body is marked last');
  assert.equal(parsed.ended, 1);
  assert.equal(parsed.parser.keepAlive, true);
});

test('chunked body with extensions and trailers; trailers are checked, not passed on', () => {
  const parsed = parseInPieces('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n1\r\n!\r\n0\r\nX-Checksum: abc\r\n\r\n', []);
  assert.equal(parsed.body, 'hello!');
  assert.equal(parsed.ended, 1);
  assert.equal(parsed.parser.keepAlive, true);
});

test('a body delimited by the close: ends when the app closes, and the connection is not reused', () => {
  const parsed = parseInPieces('HTTP/1.1 200 OK\r\n\r\nuntil the end', []);
  assert.equal(parsed.ended, 0);
  assert.equal(parsed.parser.closed(), true);
  assert.equal(parsed.body, 'until the end');
  assert.equal(parsed.ended, 1);
  assert.equal(parsed.parser.keepAlive, false);
});

test('no body: HEAD, 204 and 304 (whatever Content-Length says)', () => {
  assert.equal(parseInPieces('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', [], 'HEAD').ended, 1);
  assert.equal(parseInPieces('HTTP/1.1 204 No Content\r\n\r\n', []).ended, 1);
  assert.equal(parseInPieces('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', []).ended, 1);
});

test('1xx interim responses are skipped; 101 unasked is an error', () => {
  const parsed = parseInPieces('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n', []);
  assert.deepEqual(parsed.heads.map((head) => head.status), [201]);
  assert.equal(parsed.ended, 1);
  rejects('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n', /switched protocols/);
});

test('after an upgrade request, 101 is the final answer and every byte after it is the new protocol\'s', () => {
  const upgrade = parser('GET', undefined, true);
  upgrade.parser.execute(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi', 'latin1'));
  upgrade.parser.execute(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
  assert.deepEqual(upgrade.heads, [{ status: 101, rawHeaders: ['Upgrade', 'websocket', 'Connection', 'Upgrade'], keepAlive: false }]);
  assert.equal(upgrade.body, '\x81\x02hiHTTP/1.1 200 OK\r\n\r\n');
  assert.equal(upgrade.ended, 0);
});

test('keep-alive: Connection: close, HTTP/1.0 without keep-alive, HTTP/1.0 with keep-alive', () => {
  assert.equal(parseInPieces('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', []).parser.keepAlive, false);
  assert.equal(parseInPieces('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', []).parser.keepAlive, false);
  assert.equal(parseInPieces('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n', []).parser.keepAlive, true);
});

test('header values lose surrounding whitespace only; repeated equal Content-Lengths are one', () => {
  const parsed = parseInPieces('HTTP/1.1 200 OK\r\nX-A: \t spaced  value \t\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok', []);
  assert.equal(parsed.heads[0]!.rawHeaders[1], 'spaced  value');
  assert.equal(parsed.body, 'ok');
});

test('ambiguous framing and malformed heads are errors (the connection is then dropped)', () => {
  rejects('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', /both Transfer-Encoding and Content-Length/);
  rejects('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', /differing Content-Length/);
  rejects('HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n', /differing Content-Length/);
  rejects('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /invalid Content-Length/);
  rejects('HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n', /invalid Content-Length/);
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', /unsupported Transfer-Encoding/);
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n', /unsupported Transfer-Encoding/);
  rejects('HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 0\r\n\r\n', /invalid header line/);
  rejects('HTTP/1.1 200 OK\r\nX-A : a\r\nContent-Length: 0\r\n\r\n', /invalid header line/);
  rejects('HTTP/1.1 200 OK\r\nX-A: a\nX-B: b\r\nContent-Length: 0\r\n\r\n', /invalid value/);
  rejects('HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n', /invalid value/);
  rejects('HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n', /invalid value/);
  rejects('HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n', /invalid status line/);
  rejects('HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n', /invalid status line/);
  rejects('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n', /after the end of the response/, 'GET', true);
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n', /invalid chunk-size line/, 'GET', true);
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n', /not followed by CRLF/, 'GET', true);
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n', /invalid chunk-size line/, 'GET', true);
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n', /invalid chunk-size line/, 'GET', true);
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer\r\n\r\n', /invalid trailer line/, 'GET', true);
});

test('an oversized head is refused, whole or in pieces', () => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`;
  assert.throws(() => parser('GET', 1024).parser.execute(Buffer.from(big)), /exceeds 1024 bytes/);
  const pieces = parser('GET', 1024);
  assert.throws(() => {
    for (let i = 0; i < big.length; i += 100) pieces.parser.execute(Buffer.from(big.slice(i, i + 100)));
  }, /exceeds 1024 bytes/);
});

test('a head of exactly the limit is accepted however the reads split its CRLF CRLF (found by fuzz/http1-response)', () => {
  const start = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ';
  const wire = Buffer.from(`${start}${'a'.repeat(256 - start.length)}\r\n\r\n`, 'latin1');
  for (let cut = 250; cut < wire.length; cut++) {
    const parsed = parser('GET', 256);
    parsed.parser.execute(wire.subarray(0, cut));
    parsed.parser.execute(wire.subarray(cut));
    assert.equal(parsed.ended, 1, `cut at ${cut}`);
  }
  // One byte more is refused, whole or in pieces.
  const over = Buffer.from(`${start}${'a'.repeat(257 - start.length)}\r\n\r\n`, 'latin1');
  assert.throws(() => parser('GET', 256).parser.execute(over), /exceeds 256 bytes/);
  for (let cut = 250; cut < over.length; cut++) {
    const parsed = parser('GET', 256);
    assert.throws(() => {
      parsed.parser.execute(over.subarray(0, cut));
      parsed.parser.execute(over.subarray(cut));
    }, /exceeds 256 bytes/, `cut at ${cut}`);
  }
});

test('bytes when no response is expected, and a close before or during the answer', () => {
  const idle = parseInPieces('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', []);
  assert.throws(() => idle.parser.execute(Buffer.from('x')), /no response was expected/);
  assert.throws(() => parser().parser.closed(), /before answering/);
  const partial = parseInPieces('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', []);
  assert.throws(() => partial.parser.closed(), /mid-response/);
  assert.equal(partial.parser.receivedAny, true);
});

test('property: any split of a valid response into reads gives the same head, body and end', () => {
  const body = fc.string({ unit: fc.constantFrom('a', 'b', '\r', '\n', '0', ';'), maxLength: 60 });
  const response = fc.oneof(
    body.map((text) => `HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\nX-A: 1\r\n\r\n${text}`),
    fc.array(body.filter((text) => text.length > 0), { maxLength: 4 }).map(
      (chunks) => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('')}0\r\n\r\n`,
    ),
    fc.array(body.filter((text) => text.length > 0), { maxLength: 3 }).map(
      (chunks) => `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunks.map((c) => `${c.length.toString(16)};x=y\r\n${c}\r\n`).join('')}0\r\nT: v\r\n\r\n`,
    ),
  );
  fc.assert(
    fc.property(response, fc.array(fc.nat(400), { maxLength: 12 }), (wire, cuts) => {
      const whole = parseInPieces(wire, []);
      const split = parseInPieces(wire, cuts.map((cut) => cut % (wire.length + 1)));
      assert.equal(whole.ended, 1);
      assert.deepEqual(split.heads, whole.heads);
      assert.equal(split.body, whole.body);
      assert.equal(split.ended, 1);
      // Marked last: the chunk that completes a Content-Length body, and only that one.
      const lengthBody = /Content-Length: [1-9]/.test(wire);
      assert.equal(split.bodyAtLast, lengthBody ? whole.body : undefined);
    }),
    { numRuns: 500 },
  );
});
