// WebSocket (HTTP/1.1 Upgrade) tunnels: the upgrade request goes to the app through certgate's own
// HTTP/1.1 request writer and response parser, and on 101 the two sockets are joined.
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { requestHead } from './http1-client.ts';
import { ResponseParser } from './http1-response.ts';
import type { Upstream } from './snapshot.ts';
import type { UpstreamPools } from './upstream.ts';
import { clientResponseRawHeaders } from './headers.ts';

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

/**
 * The upgrade request goes to the app on a connection of its own, its head written by the same
 * writer as every proxied request (`requestHead`: the connection's X-Forwarded-Client-Cert last),
 * the answer read by the same strict parser; on 101 the two sockets are joined, and what came after
 * the app's 101 (its first frame) is passed on first. Any other answer, a malformed one, a refused
 * connection or no answer in time: 502.
 */
export function proxyUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  upstream: Upstream,
  headers: string[],
  clientCertificate: string | undefined,
  protocol: string,
  pools: UpstreamPools,
  log: Logger,
): void {
  client.on('error', () => client.destroy());
  let requestText: string;
  try {
    requestText = requestHead({
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: [...headers, 'connection', 'upgrade', 'upgrade', protocol],
      clientCertificate,
      body: null,
      bodyLength: undefined,
      owner: client,
    });
  } catch (error) {
    rejectUpgrade(client, 400, `the request cannot be forwarded (${(error as Error).message})`);
    return;
  }
  if (!pools.startUpgrade(upstream)) {
    rejectUpgrade(client, 503, 'the app has too many upgrades in progress (queue_full)');
    return;
  }
  const limits = pools.upgradeLimits;
  const app = net.connect({ host: upstream.host, port: upstream.port, noDelay: true });
  let settled = false;
  const fail = (reason: string, error?: Error) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    pools.upgradeDone(upstream);
    app.destroy();
    log.warn({ err: error, app: upstream.origin, reason }, 'upgrade to app failed');
    rejectUpgrade(client, 502, 'the app refused the upgrade');
  };
  let timer = setTimeout(() => fail('app_connect_timeout'), limits.connectTimeoutMs);
  const parser = new ResponseParser({
    onHead: (response) => {
      if (response.status !== 101) {
        fail(`app answered ${response.status}`);
        return;
      }
      settled = true;
      clearTimeout(timer);
      pools.upgradeDone(upstream);
      const lines = ['HTTP/1.1 101 Switching Protocols', 'connection: upgrade', `upgrade: ${protocol}`];
      const raw = clientResponseRawHeaders(response.rawHeaders);
      for (let i = 0; i < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
      client.write(`${lines.join('\r\n')}\r\n\r\n`);
    },
    // After the 101: the app's first bytes of the new protocol, in the read that carried the 101.
    onBody: (chunk) => {
      if (settled && !client.destroyed) client.write(Buffer.from(chunk));
    },
    onEnd: () => {},
  });
  parser.expect(req.method ?? 'GET', true);
  app.once('connect', () => {
    clearTimeout(timer);
    timer = setTimeout(() => fail('app_timeout'), limits.responseTimeoutMs);
    app.write(requestText, 'latin1');
  });
  const onData = (data: Buffer) => {
    try {
      parser.execute(data);
    } catch (error) {
      fail('app_error', error as Error);
      return;
    }
    if (!settled || app.destroyed) return;
    // Switched: from here on the bytes are the tunnel's.
    app.off('data', onData);
    if (head.length > 0) app.write(head);
    app.pipe(client);
    client.pipe(app);
  };
  app.on('data', onData);
  app.on('error', (error) => (settled ? client.destroy() : fail('app_unavailable', error)));
  app.on('close', () => (settled ? client.destroy() : fail('app_closed')));
  client.on('close', () => {
    if (!settled) {
      settled = true;
      clearTimeout(timer);
      pools.upgradeDone(upstream);
    }
    app.destroy();
  });
}

export function rejectUpgrade(client: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  client.end(
    `HTTP/1.1 ${status} ${statusText(status)}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function statusText(status: number): string {
  return { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 421: 'Misdirected Request', 502: 'Bad Gateway', 503: 'Service Unavailable' }[status] ?? 'Error';
}
