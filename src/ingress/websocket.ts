// WebSocket (HTTP/1.1 Upgrade) tunnels: the upgrade request goes to the app through its pool, and
// on 101 the two sockets are joined. Bounded per app and per client address (websocket-tunnels.ts),
// in handshake time and in idle time.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
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

/**
 * One WebSocket upgrade: a tunnel slot for the app and the client's address (else 503), the
 * upgrade request to the app with a deadline for its 101 (else 504), then the two sockets joined
 * until either closes or the tunnel is idle for `websocketIdleTimeoutMs`.
 */
export function proxyUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  upstream: Upstream,
  headers: string[],
  protocol: string,
  clientAddress: string,
  pools: UpstreamPools,
  log: Logger,
): void {
  client.on('error', () => client.destroy());
  const { tunnels, options } = pools;
  const refusal = tunnels.acquire(upstream.origin, clientAddress);
  if (refusal !== undefined) {
    log.info({ client: clientAddress, app: upstream.origin, reason: refusal }, 'WebSocket upgrade refused: too many tunnels');
    rejectUpgrade(client, 503, `too many WebSocket connections${refusal === 'websocket_client_tunnels_full' ? ' from this address' : ''} (${refusal})`);
    return;
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    tunnels.release(upstream.origin, clientAddress);
  };
  // Covers the wait for a connection to the app too (undici's headersTimeout starts once it is sent).
  const abort = new AbortController();
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, options.websocketHandshakeTimeoutMs);
  // The client left during the handshake: drop the upgrade (and its slot) at once.
  const onClientClose = () => abort.abort();
  client.once('close', onClientClose);
  pools.upgradePool(upstream).upgrade(
    { path: req.url ?? '/', method: req.method ?? 'GET', headers, protocol, signal: abort.signal },
    (error, data) => {
      clearTimeout(deadline);
      client.off('close', onClientClose);
      if (error) {
        release();
        if (timedOut) {
          log.warn({ client: clientAddress, app: upstream.origin, reason: 'websocket_handshake_timeout' }, 'the app did not answer the upgrade in time');
          rejectUpgrade(client, 504, 'the app did not answer the WebSocket upgrade in time (websocket_handshake_timeout)');
        } else if (!client.destroyed) {
          const failure = upgradeFailure(error);
          log.warn({ err: error, app: upstream.origin, reason: failure.reason }, 'upgrade to app failed');
          rejectUpgrade(client, failure.status, `${UPGRADE_FAILURE_TEXT[failure.status] ?? 'the app is unavailable'} (${failure.reason})`);
        }
        return;
      }
      const { socket: app, headers: responseHeaders } = data;
      if (client.destroyed) {
        release();
        app.destroy();
        return;
      }
      const lines = ['HTTP/1.1 101 Switching Protocols', 'connection: upgrade', `upgrade: ${protocol}`];
      for (const [name, value] of Object.entries(clientResponseHeaders(responseHeaders))) {
        for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${item}`);
      }
      client.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) app.write(head);
      // Every byte either way is a read or a write on the app's socket: one inactivity timer.
      (app as Socket).setTimeout(options.websocketIdleTimeoutMs, () => {
        log.info({ client: clientAddress, app: upstream.origin, reason: 'websocket_idle_timeout' }, 'idle WebSocket tunnel closed');
        app.destroy();
      });
      app.on('error', () => client.destroy());
      app.pipe(client);
      client.pipe(app);
      client.on('close', () => app.destroy());
      app.on('close', () => {
        release();
        client.destroy();
      });
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
