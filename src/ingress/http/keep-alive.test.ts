import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { serverSide } from '../../../test/support/loopback.ts';
import { KeepAliveSweeper } from './keep-alive.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A real TCP connection on loopback: the server's side, which the sweeper watches. */
const connection = () => serverSide<net.Socket>(net.createServer(), 'connection', (port) => net.connect(port, '127.0.0.1'));

test('an idle connection is closed after the idle time, not before', async () => {
  const sweeper = new KeepAliveSweeper(200);
  const { socket, close } = await connection();
  try {
    sweeper.add(socket);
    await sleep(100);
    assert.equal(socket.destroyed, false, 'closed before the idle time');
    await sleep(250);
    assert.equal(socket.destroyed, true, 'still open after the idle time and a sweep');
  } finally {
    sweeper.close();
    close();
  }
});

test('a connection with a response in flight is never idle; its idle time starts when the response closes', async () => {
  const sweeper = new KeepAliveSweeper(100);
  const { socket, close } = await connection();
  try {
    sweeper.add(socket);
    const response = new EventEmitter();
    sweeper.requestStarted(socket, response);
    await sleep(250);
    assert.equal(socket.destroyed, false, 'closed while a response was in flight');
    response.emit('close');
    await sleep(50);
    assert.equal(socket.destroyed, false, 'the idle time started before the response closed');
    await sleep(150);
    assert.equal(socket.destroyed, true);
  } finally {
    sweeper.close();
    close();
  }
});

test('a forgotten connection (a WebSocket tunnel) is left to its tunnel; requests on unknown sockets are ignored', async () => {
  const sweeper = new KeepAliveSweeper(50);
  const { socket, close } = await connection();
  try {
    sweeper.add(socket);
    sweeper.forget(socket);
    sweeper.requestStarted(socket, new EventEmitter());
    await sleep(200);
    assert.equal(socket.destroyed, false);
  } finally {
    sweeper.close();
    close();
  }
});
