// The one HTTP exchange of revocation checking (CRL distribution points, OCSP responders): plain
// http only (RFC 5280 and 6960 publish over http; the data is signed, so TLS adds nothing but a
// second PKI to trust), bounded in size and time so a slow or huge answer from a hostile or broken
// server cannot hold memory or a connection's verdict for long.
import http from 'node:http';

/** Largest CRL or OCSP response read (a CRL of ~25,000 serials): bigger ones fail, status unknown. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Whole exchange, connect to last byte. */
export const FETCH_TIMEOUT_MS = 5_000;

export interface FetchOptions {
  readonly body?: Uint8Array;
  readonly contentType?: string;
  readonly accept: string;
  readonly maxBytes?: number;
  readonly timeoutMs?: number;
}

/** Resolves with the body of a 200 answer; rejects (with the reason) on anything else. */
export function httpExchange(url: string, options: FetchOptions): Promise<Buffer> {
  const maxBytes = options.maxBytes ?? MAX_RESPONSE_BYTES;
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new Error(`not a URL: ${url}`));
      return;
    }
    if (parsed.protocol !== 'http:') {
      reject(new Error(`only http URLs are fetched: ${url}`));
      return;
    }
    const request = http.request(parsed, {
      method: options.body === undefined ? 'GET' : 'POST',
      headers: { accept: options.accept, ...(options.body === undefined ? {} : { 'content-type': options.contentType ?? 'application/octet-stream', 'content-length': String(options.body.byteLength) }) },
      timeout: options.timeoutMs ?? FETCH_TIMEOUT_MS,
      agent: false,
    });
    const timer = setTimeout(() => request.destroy(new Error(`no complete answer from ${url} within ${options.timeoutMs ?? FETCH_TIMEOUT_MS} ms`)), options.timeoutMs ?? FETCH_TIMEOUT_MS);
    // A fetch in flight never keeps a stopping process alive (its connection is closed by then anyway).
    timer.unref();
    request.on('socket', (socket) => socket.unref());
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    request.on('timeout', () => request.destroy(new Error(`${url} timed out`)));
    request.on('error', fail);
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        request.destroy(new Error(`${url} answered ${response.statusCode}`));
        return;
      }
      const declared = Number(response.headers['content-length']);
      if (declared > maxBytes) {
        request.destroy(new Error(`${url} sends ${declared} bytes, more than ${maxBytes}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > maxBytes) request.destroy(new Error(`${url} sent more than ${maxBytes} bytes`));
        else chunks.push(chunk);
      });
      response.on('error', fail);
      response.on('end', () => {
        clearTimeout(timer);
        if (size <= maxBytes) resolve(Buffer.concat(chunks));
      });
    });
    request.end(options.body === undefined ? undefined : Buffer.from(options.body));
  });
}
