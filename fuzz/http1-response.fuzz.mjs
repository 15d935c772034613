// Fuzz target: the upstream response parser (src/ingress/upstream/http1-response.ts), the bytes an app (or
// anything listening on its port) sends back. Input: byte 0 picks the request method (bit 0: HEAD)
// and a small or the default head limit (bit 1); byte 1 the size of the reads the bytes are split
// into; the rest is what the app sends. Invariants: only ResponseParseError is ever thrown; at most
// one head (a final status, never 1xx) and one end, the end after the head; a Content-Length body
// never overruns; and how the bytes are split into reads changes nothing (the same head, body and
// end, or an error either way), since which bytes belong to the next client depends on it.
import { ResponseParseError, ResponseParser } from '../src/ingress/upstream/http1-response.ts';

/** Parses `reads` in order, then the close; what the sink saw, or that it was refused. */
function trace(reads, method, limits) {
  const seen = { heads: [], body: [], ends: 0, error: false, closedEnds: undefined };
  const parser = new ResponseParser(
    {
      onHead(head) {
        if (seen.ends > 0) throw new Error('a head after the end');
        seen.heads.push(head);
      },
      onBody(chunk) {
        if (seen.heads.length !== 1 || seen.ends > 0) throw new Error('a body chunk outside the response');
        seen.body.push(Buffer.from(chunk));
      },
      onEnd() {
        if (seen.heads.length !== 1) throw new Error('an end without a head');
        seen.ends++;
      },
    },
    limits,
  );
  parser.expect(method);
  try {
    for (const read of reads) parser.execute(read);
    seen.closedEnds = parser.closed();
  } catch (error) {
    if (!(error instanceof ResponseParseError)) throw error;
    seen.error = true;
  }
  if (seen.heads.length > 1 || seen.ends > 1) throw new Error('more than one head or end');
  return seen;
}

function checkResponse(seen) {
  const head = seen.heads[0];
  if (head === undefined) return;
  if (!(head.status >= 200 && head.status <= 999)) throw new Error(`status ${head.status} handed on`);
  const lengths = [];
  for (let i = 0; i < head.rawHeaders.length; i += 2) if (head.rawHeaders[i].toLowerCase() === 'content-length') lengths.push(head.rawHeaders[i + 1]);
  const body = Buffer.concat(seen.body);
  if (lengths.length > 0 && !seen.error && body.length > Number(lengths[0].split(',')[0])) throw new Error('the body overran its Content-Length');
}

/** @param {Buffer} data */
export function fuzz(data) {
  if (data.length < 2) return;
  const method = data[0] & 1 ? 'HEAD' : 'GET';
  const limits = { maxHeadBytes: data[0] & 2 ? 256 : 64 * 1024 };
  const readSize = data[1] + 1;
  const bytes = data.subarray(2);
  const whole = trace([bytes], method, limits);
  checkResponse(whole);
  const reads = [];
  for (let offset = 0; offset < bytes.length; offset += readSize) reads.push(bytes.subarray(offset, offset + readSize));
  const split = trace(reads, method, limits);
  checkResponse(split);
  if (whole.error !== split.error) throw new Error(`refused ${whole.error ? 'whole' : `in reads of ${readSize}`} only`);
  if (whole.error) return;
  const a = whole.heads[0];
  const b = split.heads[0];
  if ((a === undefined) !== (b === undefined) || (a && (a.status !== b.status || a.keepAlive !== b.keepAlive || a.rawHeaders.join('\n') !== b.rawHeaders.join('\n')))) {
    throw new Error('the head depends on how the bytes were split');
  }
  if (!Buffer.concat(whole.body).equals(Buffer.concat(split.body))) throw new Error('the body depends on how the bytes were split');
  if (whole.ends !== split.ends || whole.closedEnds !== split.closedEnds) throw new Error('the end depends on how the bytes were split');
}
