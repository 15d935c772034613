import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TunnelCounts } from './websocket-tunnels.ts';

test('per client address at an app, then per app; a released slot can be taken again', () => {
  const counts = new TunnelCounts(3, 2);
  assert.equal(counts.acquire('a', '10.0.0.1'), undefined);
  assert.equal(counts.acquire('a', '10.0.0.1'), undefined);
  assert.equal(counts.acquire('a', '10.0.0.1'), 'websocket_client_tunnels_full');
  // Another app, and another client of the same app, have their own counts.
  assert.equal(counts.acquire('b', '10.0.0.1'), undefined);
  assert.equal(counts.acquire('a', '10.0.0.2'), undefined);
  assert.equal(counts.acquire('a', '10.0.0.3'), 'websocket_tunnels_full');
  assert.equal(counts.open('a'), 3);
  counts.release('a', '10.0.0.1');
  assert.equal(counts.acquire('a', '10.0.0.3'), undefined);
  for (const client of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) counts.release('a', client);
  assert.equal(counts.open('a'), 0);
});
