import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { attachConnectionState, connectionState, type ConnectionState } from './connection.ts';

const state: ConnectionState = Object.freeze({
  servername: 'app.env.example',
  route: undefined,
  clientCertificate: 'Hash=ab',
  clientAddress: '127.0.0.9',
  proto: 'https',
  listener: 'external',
});

test('the state attached to a socket is the one read back; a socket without one has none', () => {
  const socket = new net.Socket();
  assert.equal(connectionState(socket), undefined);
  attachConnectionState(socket, state);
  assert.equal(connectionState(socket), state);
  assert.equal(connectionState(new net.Socket()), undefined);
});

test("an HTTP/2 stream reads its connection's state through the session's socket proxy", async () => {
  const server = http2.createServer();
  server.on('connection', (socket: net.Socket) => attachConnectionState(socket, state));
  const seen = new Promise<ConnectionState | undefined>((resolve) => {
    server.on('stream', (stream) => {
      resolve(connectionState(stream.session!.socket as net.Socket));
      stream.respond({ ':status': 204 });
      stream.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  try {
    const request = client.request({ ':path': '/' });
    request.resume();
    assert.equal(await seen, state);
    await once(request, 'end');
  } finally {
    client.close();
    server.close();
  }
});
