// The admin listener: Prometheus metrics and health probes on a port of their own (loopback by
// default), never on an app's port, so a client of the ingress can neither read the gateway's
// metrics nor be counted by them. Plain HTTP, GET only, small bounded requests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ObservedHost } from './observed-host.ts';

export interface AdminServer {
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Scrapers and probes are few: more open connections than this are refused at once. */
const MAX_CONNECTIONS = 64;

export async function startAdminServer(host: ObservedHost, options: { bindAddress: string; port: number }, log: Logger): Promise<AdminServer> {
  const server = http.createServer({ headersTimeout: 5_000, requestTimeout: 10_000, maxHeaderSize: 8_192, keepAliveTimeout: 5_000 }, (req, res) => {
    void answer(host, req, res).catch((error: unknown) => {
      log.error({ err: error, path: req.url }, 'admin request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.bindAddress, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => log.error({ err: error }, 'admin listener error'));
  const port = (server.address() as AddressInfo).port;
  const shown = options.bindAddress.includes(':') ? `[${options.bindAddress}]` : options.bindAddress;
  return {
    endpoint: `http://${shown}:${port}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(host: ObservedHost, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
    return;
  }
  if (path === '/metrics') {
    const { contentType, body } = await host.metrics();
    send(res, 200, contentType, body);
  } else if (path === '/healthz') {
    // The process answers: alive. (Readiness is /readyz.)
    send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
  } else if (path === '/readyz') {
    const readiness = await host.readiness();
    send(res, readiness.ready ? 200 : 503, 'application/json', JSON.stringify(readiness));
  } else {
    send(res, 404, 'text/plain; charset=utf-8', 'not found: /metrics, /healthz and /readyz are served here\n');
  }
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
