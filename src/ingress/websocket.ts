// WebSocket (HTTP/1.1 Upgrade) tunnels: the upgrade request goes to the app through its pool, and
// on 101 the two sockets are joined.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Upstream } from './snapshot.ts';
import type { UpstreamPools } from './upstream.ts';
import { clientResponseHeaders } from './headers.ts';
import { upgradeFailure } from './reasons.ts';

/**
 * Node's `shouldUpgradeCallback`: only a GET with `Upgrade: websocket` (one token, any case) is
 * tunnelled. Any other Upgrade (h2c, a made-up token) is served as a normal request with Upgrade
 * and Connection removed (RFC 9110 7.8 lets a server ignore it), so nothing an app answers can turn
 * the connection into a raw tunnel that carries unparsed bytes, forged identity headers included.
 */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return req.method === 'GET' && upgrade !== undefined && upgrade.trim().toLowerCase() === 'websocket';
}

export function proxyUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  upstream: Upstream,
  headers: string[],
  protocol: string,
  pools: UpstreamPools,
  log: Logger,
): void {
  client.on('error', () => client.destroy());
  pools.upgradePool(upstream).upgrade(
    { path: req.url ?? '/', method: req.method ?? 'GET', headers, protocol },
    (error, data) => {
      if (error) {
        const failure = upgradeFailure(error);
        log.warn({ err: error, app: upstream.origin, reason: failure.reason }, 'upgrade to app failed');
        rejectUpgrade(client, failure.status, `${UPGRADE_FAILURE_TEXT[failure.status] ?? 'the app is unavailable'} (${failure.reason})`);
        return;
      }
      const { socket: app, headers: responseHeaders } = data;
      const lines = ['HTTP/1.1 101 Switching Protocols', 'connection: upgrade', `upgrade: ${protocol}`];
      for (const [name, value] of Object.entries(clientResponseHeaders(responseHeaders))) {
        for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${item}`);
      }
      client.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) app.write(head);
      app.on('error', () => client.destroy());
      app.pipe(client);
      client.pipe(app);
      client.on('close', () => app.destroy());
      app.on('close', () => client.destroy());
    },
  );
}

const UPGRADE_FAILURE_TEXT: Readonly<Record<number, string>> = { 502: 'the app refused the upgrade', 504: 'the app did not answer in time' };

export function rejectUpgrade(client: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  client.end(
    `HTTP/1.1 ${status} ${statusText(status)}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function statusText(status: number): string {
  return { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 421: 'Misdirected Request', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[status] ?? 'Error';
}
