// Real clients for integration tests: curl and openssl s_client as child processes.
import { execFile } from 'node:child_process';

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: readonly string[], input?: string, timeoutMs = 20_000): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    // A command that exits before reading its input (`unshare -n true`) must not fail the caller.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}

export interface CurlOptions {
  host: string;
  port: number;
  path?: string;
  caFile?: string;
  cert?: string;
  key?: string;
  certType?: 'PEM' | 'P12';
  password?: string;
  tls?: '1.2' | '1.3';
  http?: '1.1' | '2';
  headers?: string[];
  extra?: string[];
  /** Connect here while naming `host` in SNI and Host (default 127.0.0.1). */
  connectTo?: string;
}

/** curl with SNI and Host set to `host`, connecting to loopback. Output: status line info then body. */
export function curl(options: CurlOptions): Promise<ProcessResult> {
  const args = ['-sS', '--max-time', '15', '--resolve', `${options.host}:${options.port}:${options.connectTo ?? '127.0.0.1'}`];
  if (options.caFile) args.push('--cacert', options.caFile);
  if (options.cert) args.push('--cert', options.password ? `${options.cert}:${options.password}` : options.cert);
  if (options.key) args.push('--key', options.key);
  if (options.certType) args.push('--cert-type', options.certType);
  if (options.tls === '1.2') args.push('--tlsv1.2', '--tls-max', '1.2');
  if (options.tls === '1.3') args.push('--tlsv1.3');
  if (options.http === '2') args.push('--http2');
  if (options.http === '1.1') args.push('--http1.1');
  for (const header of options.headers ?? []) args.push('-H', header);
  args.push(...(options.extra ?? []));
  args.push('-w', '\n%{http_code} %{http_version}', `https://${options.host}:${options.port}${options.path ?? '/'}`);
  return run('curl', args);
}

/** Splits curl's `-w` trailer from the body. */
export function curlResult(result: ProcessResult): { status: number; httpVersion: string; body: string } {
  const newline = result.stdout.lastIndexOf('\n');
  const [status, httpVersion] = result.stdout.slice(newline + 1).split(' ');
  return { status: Number(status), httpVersion: httpVersion ?? '', body: result.stdout.slice(0, newline) };
}

export interface SClientOptions {
  port: number;
  servername?: string;
  cert?: string;
  key?: string;
  chain?: string;
  tls?: '1.2' | '1.3';
  request?: string;
  extra?: string[];
}

/** openssl s_client with -msg, so the handshake messages (CertificateRequest, alerts) can be read. */
export function sClient(options: SClientOptions): Promise<ProcessResult> {
  const args = ['s_client', '-connect', `127.0.0.1:${options.port}`, '-msg', '-ign_eof'];
  if (options.servername) args.push('-servername', options.servername);
  else args.push('-noservername');
  if (options.cert) args.push('-cert', options.cert);
  if (options.key) args.push('-key', options.key);
  if (options.chain) args.push('-cert_chain', options.chain);
  if (options.tls === '1.2') args.push('-tls1_2');
  if (options.tls === '1.3') args.push('-tls1_3');
  args.push(...(options.extra ?? []));
  return run('openssl', args, options.request ?? '');
}

export function sawCertificateRequest(output: string): boolean {
  return /<<< TLS 1\.[23], Handshake \[length [0-9a-f]+\], CertificateRequest/.test(output);
}

/** curl over plain HTTP (the HTTP port) with Host set to `host` via --resolve; same `-w` trailer as `curl`. */
export function curlHttp(options: Pick<CurlOptions, 'host' | 'port' | 'path' | 'headers' | 'extra'>): Promise<ProcessResult> {
  const args = ['-sS', '--max-time', '15', '--resolve', `${options.host}:${options.port}:127.0.0.1`];
  for (const header of options.headers ?? []) args.push('-H', header);
  args.push(...(options.extra ?? []));
  args.push('-w', '\n%{http_code} %{http_version}', `http://${options.host}:${options.port}${options.path ?? '/'}`);
  return run('curl', args);
}

export interface ParsedResponse {
  status: number;
  /** Header names lower-cased; repeated headers keep every value. */
  headers: Record<string, string[]>;
  body: string;
}

/**
 * Splits curl `-i` output (the last header block, after any 1xx blocks) into status, headers and
 * body. Use on the `body` of curlResult.
 */
export function parseIncluded(output: string): ParsedResponse {
  let rest = output;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`no header block in curl output: ${JSON.stringify(output.slice(0, 200))}`);
    const block = rest.slice(0, end);
    rest = rest.slice(end + 4);
    const [statusLine, ...lines] = block.split('\r\n');
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine ?? '')?.[1]);
    if (status >= 100 && status < 200 && status !== 101) continue;
    const headers: Record<string, string[]> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      (headers[name] ??= []).push(line.slice(colon + 1).trim());
    }
    return { status, headers, body: rest };
  }
}

/** One HTTP/1.1 keep-alive connection over TLS, for sending requests one after another on it. */
export interface KeepAliveConnection {
  /** Sends a GET and resolves with the response's status and body (Content-Length bodies only). */
  get(path: string, host: string): Promise<{ status: number; body: string }>;
  close(): void;
}

export async function keepAliveConnection(options: { port: number; servername: string; ca: string; cert?: string | Buffer; key?: string | Buffer }): Promise<KeepAliveConnection> {
  const { connect } = await import('node:tls');
  const socket = connect({ host: '127.0.0.1', port: options.port, servername: options.servername, ca: options.ca, ...(options.cert ? { cert: options.cert, key: options.key } : {}) });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  let buffered = '';
  let waiting: ((response: { status: number; body: string }) => void) | undefined;
  const tryResolve = () => {
    const headerEnd = buffered.indexOf('\r\n\r\n');
    if (!waiting || headerEnd < 0) return;
    const head = buffered.slice(0, headerEnd);
    const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (buffered.length < headerEnd + 4 + length) return;
    const body = buffered.slice(headerEnd + 4, headerEnd + 4 + length);
    buffered = buffered.slice(headerEnd + 4 + length);
    const resolve = waiting;
    waiting = undefined;
    resolve({ status: Number(head.split(' ')[1]), body });
  };
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    tryResolve();
  });
  return {
    get(path, host) {
      return new Promise((resolve) => {
        waiting = resolve;
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      });
    },
    close: () => socket.destroy(),
  };
}
