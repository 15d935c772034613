import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_UPSTREAM_OPTIONS, UpstreamPools } from './upstream.ts';

test('WebSocket upgrades waiting for their app are bounded per app (its connection count); a slot comes back when answered', () => {
  const pools = new UpstreamPools({ ...DEFAULT_UPSTREAM_OPTIONS, maxConnectionsPerApp: 2 });
  const app = { host: '127.0.0.1', port: 1, origin: 'http://127.0.0.1:1' };
  const other = { host: '127.0.0.1', port: 2, origin: 'http://127.0.0.1:2' };
  assert.equal(pools.startUpgrade(app), true);
  assert.equal(pools.startUpgrade(app), true);
  assert.equal(pools.startUpgrade(app), false, 'a third upgrade waiting at once is refused');
  assert.equal(pools.startUpgrade(other), true, 'another app has its own slots');
  pools.upgradeDone(app);
  assert.equal(pools.startUpgrade(app), true);
});
