import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_HTTP_TIMEOUTS } from '../ingress/http/http.ts';
import { DEFAULT_HTTP2_LIMITS } from '../ingress/http/http2-session.ts';
import { DEFAULT_TLS_LIMITS } from '../ingress/listener/tls-listener.ts';
import { DEFAULT_UPSTREAM_OPTIONS } from '../ingress/upstream/upstream.ts';
import { envVariable, LIMIT_FLAGS, limitConflict, limitSettings, parseCount, parseDuration, parseRate } from './serve-limits.ts';

const DEFAULTS: Record<string, Record<string, unknown>> = {
  http: { ...DEFAULT_HTTP_TIMEOUTS },
  upstream: { ...DEFAULT_UPSTREAM_OPTIONS },
  http2: { ...DEFAULT_HTTP2_LIMITS },
  tls: { ...DEFAULT_TLS_LIMITS },
};

test('every flag sets an existing member, and the default --help shows is the ingress default', () => {
  for (const flag of LIMIT_FLAGS) {
    const section = DEFAULTS[flag.section]!;
    if (flag.key === 'maxConnectionsPerClient') {
      // Worked out from maxConnectionsPerApp (upstream.ts defaultClientShare).
      assert.ok(!(flag.key in section));
      continue;
    }
    assert.ok(flag.key in section, `${flag.flag}: ${flag.section}.${flag.key}`);
    const parse = { duration: parseDuration, count: parseCount, rate: parseRate }[flag.unit];
    assert.equal(parse(flag.defaultText), section[flag.key], `--${flag.flag}`);
  }
  assert.equal(envVariable(LIMIT_FLAGS[0]!), 'CERTGATE_HEADERS_TIMEOUT');
  assert.equal(new Set(LIMIT_FLAGS.map((flag) => flag.flag)).size, LIMIT_FLAGS.length);
});

test('durations: seconds, or a number with ms, s, m or h; from 1 ms to 24 h', () => {
  assert.equal(parseDuration('20'), 20_000);
  assert.equal(parseDuration('1.5s'), 1_500);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('24h'), 86_400_000);
  for (const bad of ['0', '0s', '-1', 'abc', '10 minutes', '25h', '1e3', '']) assert.throws(() => parseDuration(bad), /expected a duration/, bad);
  assert.equal(parseCount('1'), 1);
  for (const bad of ['0', '1.5', '-3', 'many', '1000001']) assert.throws(() => parseCount(bad), /expected a whole number/, bad);
  assert.equal(parseRate('0'), 0);
  assert.throws(() => parseRate('fast'), /bytes per second/);
});

test('the flags given become IngressOptions sections; parts may not exceed their wholes', () => {
  assert.deepEqual(limitSettings({ headersTimeout: 500, h2MaxResets: 5, upstreamQueueTimeout: 2_000, bind: '127.0.0.1' }), {
    http: { headersTimeoutMs: 500 },
    http2: { maxPrematureResets: 5 },
    upstream: { queueTimeoutMs: 2_000 },
  });
  assert.deepEqual(limitSettings({}), {});
  assert.equal(limitConflict({ upstream: { maxConnectionsPerClient: 8, maxConnectionsPerApp: 16 } }), undefined);
  assert.match(limitConflict({ upstream: { maxConnectionsPerClient: 20, maxConnectionsPerApp: 16 } })!, /'--upstream-max-connections-per-client' \(20\) cannot exceed '--upstream-max-connections' \(16\)/);
  assert.match(limitConflict({ upstream: { websocketMaxTunnelsPerClient: 2_000 } })!, /cannot exceed '--websocket-max-tunnels' \(1024\)/);
});

test('every limit flag is in the README flag table and in the Limits and abuse table of docs/ingress.md', () => {
  const root = new URL('../../', import.meta.url);
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const ingress = readFileSync(new URL('docs/ingress.md', root), 'utf8');
  for (const flag of LIMIT_FLAGS) {
    assert.ok(readme.includes(`| \`--${flag.flag}\` | \`${envVariable(flag)}\` |`), `README: --${flag.flag}`);
    assert.ok(ingress.includes(`\`--${flag.flag}\` (\`${flag.section}.${flag.key}\`)`), `docs/ingress.md: --${flag.flag}`);
  }
});
