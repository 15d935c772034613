// WebSocket (HTTP/1.1 Upgrade) tunnels: the upgrade request goes to the app through certgate's own
// HTTP/1.1 request writer and response parser, and on 101 the two sockets are joined. Bounded per
// app and per client address (websocket-tunnels.ts), in handshake time and in idle time.
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { requestHead } from '../upstream/http1-client.ts';
import { ResponseParser } from '../upstream/http1-response.ts';
import type { Upstream } from '../snapshot.ts';
import type { UpstreamPools } from '../upstream/upstream.ts';
import { clientResponseRawHeaders } from './headers.ts';
import { type IngressReason, upstreamFailure } from '../reasons.ts';

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
 * upgrade request to the app on a connection of its own, its head written by the same writer as
 * every proxied request (`requestHead`: the connection's X-Forwarded-Client-Cert last), the answer
 * read by the same strict parser, with a deadline for its 101 (else 504). On 101 the two sockets
 * are joined (what came after the app's 101, its first frame, is passed on first) until either
 * closes or the tunnel is idle for `websocketIdleTimeoutMs`.
 */
export function proxyUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  upstream: Upstream,
  headers: string[],
  clientCertificate: string | undefined,
  protocol: string,
  clientAddress: string,
  pools: UpstreamPools,
  log: Logger,
  /** Told each refusal's reason (the metrics, the recent refusals, the access log). */
  refused: (reason: IngressReason) => void = () => {},
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
      ownerAddress: clientAddress,
    });
  } catch (error) {
    rejectUpgrade(client, 400, `the request cannot be forwarded (${(error as Error).message}) (bad_request)`);
    return;
  }
  const { tunnels, options } = pools;
  const refusal = tunnels.acquire(upstream.origin, clientAddress);
  if (refusal !== undefined) {
    log.info({ client: clientAddress, app: upstream.origin, reason: refusal }, 'WebSocket upgrade refused: too many tunnels');
    refused(refusal);
    rejectUpgrade(client, 503, `too many WebSocket connections${refusal === 'websocket_client_tunnels_full' ? ' from this address' : ''} (${refusal})`);
    return;
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    tunnels.release(upstream.origin, clientAddress);
  };
  if (!pools.startUpgrade(upstream)) {
    release();
    rejectUpgrade(client, 503, 'the app has too many upgrades in progress (queue_full)');
    return;
  }
  // TLS apps (targetPortHttpScheme https): not verified, as for their requests (http1-client.ts).
  const app: net.Socket = upstream.tls
    ? tls.connect({ host: upstream.host, port: upstream.port, rejectUnauthorized: false, minVersion: 'TLSv1.2', ...(net.isIP(upstream.host) ? {} : { servername: upstream.host }) })
    : net.connect({ host: upstream.host, port: upstream.port });
  app.setNoDelay(true);
  let settled = false;
  const settle = () => {
    settled = true;
    clearTimeout(connectTimer);
    clearTimeout(deadline);
    pools.upgradeDone(upstream);
  };
  const fail = (status: number, reason: IngressReason, text: string, error?: Error) => {
    if (settled) return;
    settle();
    release();
    app.destroy();
    if (client.destroyed) return;
    if (reason === 'websocket_handshake_timeout') log.warn({ client: clientAddress, app: upstream.origin, reason }, 'the app did not answer the upgrade in time');
    else log.warn({ err: error, client: clientAddress, app: upstream.origin, reason }, 'upgrade to app failed');
    refused(reason);
    rejectUpgrade(client, status, `${text} (${reason})`);
  };
  const failWith = (error: Error) => {
    const failure = upstreamFailure(error);
    fail(failure.status, failure.reason, UPGRADE_FAILURE_TEXT[failure.status] ?? 'the app is unavailable', error);
  };
  const connectTimer = setTimeout(() => fail(503, 'app_connect_timeout', 'the app is unavailable'), options.connectTimeoutMs);
  // From the upgrade request to the app's 101, the connection to the app included.
  const deadline = setTimeout(
    () => fail(504, 'websocket_handshake_timeout', 'the app did not answer the WebSocket upgrade in time'),
    options.websocketHandshakeTimeoutMs,
  );
  const parser = new ResponseParser({
    onHead: (response) => {
      if (response.status !== 101) {
        fail(502, 'upgrade_refused', 'the app refused the upgrade');
        return;
      }
      settle();
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
  app.once(upstream.tls ? 'secureConnect' : 'connect', () => {
    clearTimeout(connectTimer);
    app.write(requestText, 'latin1');
  });
  const onData = (data: Buffer) => {
    try {
      parser.execute(data);
    } catch (error) {
      fail(502, 'app_error', 'the app sent an invalid answer to the upgrade', error as Error);
      return;
    }
    if (!settled || app.destroyed || released) return;
    // Switched: from here on the bytes are the tunnel's.
    app.off('data', onData);
    if (head.length > 0) app.write(head);
    // Every byte either way is a read or a write on the app's socket: one inactivity timer.
    app.setTimeout(options.websocketIdleTimeoutMs, () => {
      log.info({ client: clientAddress, app: upstream.origin, reason: 'websocket_idle_timeout' }, 'idle WebSocket tunnel closed');
      refused('websocket_idle_timeout');
      app.destroy();
    });
    app.pipe(client);
    client.pipe(app);
  };
  app.on('data', onData);
  app.on('error', (error) => (settled ? client.destroy() : failWith(error)));
  app.on('close', () => {
    if (settled) {
      release();
      client.destroy();
    } else fail(502, 'app_error', 'the app closed the connection before answering the upgrade');
  });
  client.on('close', () => {
    // The client left during the handshake: drop the upgrade (and its slot) at once.
    if (!settled) settle();
    release();
    app.destroy();
  });
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
