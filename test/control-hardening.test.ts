// The management API under the red team's findings, over real HTTPS: app secrets never returned,
// app settings certgate would store and ignore refused, a client without a token answered from the
// request head (never waited on while it trickles a body), and hostile bodies (prototype members,
// invalid UTF-8, an oversized body behind `Expect: 100-continue`) refused with an ARM error.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type TLSSocket } from 'node:tls';
import { useArmSession } from './support/control-fixture.ts';

const V = 'api-version=2025-01-01';
const session = useArmSession('certgate-hardening-', V);

const appPath = (name: string) => `${session.group}/providers/Microsoft.App/containerApps/${name}?${V}`;
const appBody = (configuration: Record<string, unknown>) => ({ location: 'local', properties: { managedEnvironmentId: session.envId, configuration } });

/** A raw TLS connection to the management port: what it received, and when it closed. */
function rawManagement(): Promise<{ socket: TLSSocket; received: () => string; closed: Promise<number> }> {
  const { hostname, port } = new URL(session.arm.endpoint);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ host: hostname, port: Number(port), ca: session.fixture.gw.caPem, servername: hostname === '127.0.0.1' ? undefined : hostname }, () => resolve({ socket, received: () => text, closed }));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    const closed = new Promise<number>((done) => socket.on('close', () => done(Date.now() - started)));
    socket.once('error', reject);
  });
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

describe('app secrets', () => {
  test('a secret value is never returned by PUT, GET or LIST; name, keyVaultUrl and identity are', async () => {
    const value = 'pa55-w0rd-of-the-database';
    const secrets = [{ name: 'db', value }, { name: 'vault', keyVaultUrl: 'https://v.vault.azure.net/secrets/x', identity: 'system' }];
    const created = await session.arm.call('PUT', appPath('secretive'), appBody({ secrets, ingress: { targetPort: 8080 } }));
    assert.equal(created.status, 201, created.text);
    const got = await session.arm.call('GET', appPath('secretive'));
    const listed = await session.arm.call('GET', `${session.group}/providers/Microsoft.App/containerApps?${V}`);
    const bySubscription = await session.arm.call('GET', `/subscriptions/${session.arm.subscription}/providers/Microsoft.App/containerApps?${V}`);
    for (const result of [created, got, listed, bySubscription]) assert.ok(!result.text.includes(value), `no secret value in ${result.text.slice(0, 300)}`);
    assert.deepEqual(got.json.properties.configuration.secrets, [{ name: 'db' }, { name: 'vault', keyVaultUrl: 'https://v.vault.azure.net/secrets/x', identity: 'system' }]);
    // A GET-modify-PUT sends the secrets back without values: accepted, and still not returned.
    const { properties } = got.json;
    const replaced = await session.arm.call('PUT', appPath('secretive'), { location: 'local', properties: { managedEnvironmentId: session.envId, configuration: { ...properties.configuration, ingress: { targetPort: 8081 } } } });
    assert.equal(replaced.status, 200, replaced.text);
    assert.deepEqual(replaced.json.properties.configuration.secrets, got.json.properties.configuration.secrets);
    // ...and the value stays stored under its name (read from the store: no API returns it).
    const stored = (await session.fixture.gw.gateway.store.get(got.json.id))!.properties['configuration'] as { secrets: { name: string; value?: string }[] };
    assert.equal(stored.secrets.find((secret) => secret.name === 'db')?.value, value);
    assert.ok(!JSON.stringify(session.fixture.gw.logs).includes(value), 'never logged');
  });
});

describe('app settings certgate would store and ignore are refused', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['activeRevisionsMode Multiple (one revision per app)', { activeRevisionsMode: 'Multiple' }, 'properties.configuration.activeRevisionsMode'],
    ['activeRevisionsMode Labels', { activeRevisionsMode: 'labels' }, 'properties.configuration.activeRevisionsMode'],
    ['dapr enabled (no Dapr sidecar)', { dapr: { enabled: true, appId: 'a' } }, 'properties.configuration.dapr.enabled'],
    ['a traffic label (its host name is not served)', { ingress: { targetPort: 8080, traffic: [{ latestRevision: true, weight: 100, label: 'blue' }] } }, 'properties.configuration.ingress.traffic[0].label'],
  ];
  for (const [label, configuration, target] of cases) {
    test(label, async () => {
      const refused = await session.arm.call('PUT', appPath('refused'), appBody(configuration));
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.json.error.code, 'InvalidParameter');
      assert.equal(refused.json.error.target, target);
      assert.equal((await session.arm.call('GET', appPath('refused'))).status, 404);
    });
  }

  test('what az sends is still accepted: Single, dapr disabled, the latest revision at 100%', async () => {
    const created = await session.arm.call('PUT', appPath('plain'), appBody({ activeRevisionsMode: 'Single', dapr: { enabled: false }, ingress: { targetPort: 8080, traffic: [{ latestRevision: true, weight: 100 }] } }));
    assert.equal(created.status, 201, created.text);
  });
});

describe('unauthenticated requests and hostile bodies', () => {
  test('a PUT without a token trickling its body gets 401 from the head at once, and the connection is closed', async () => {
    const { socket, received, closed } = await rawManagement();
    socket.write(`PUT ${session.group}?api-version=2021-04-01 HTTP/1.1\r\nHost: ${new URL(session.arm.endpoint).host}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
    const trickle = setInterval(() => socket.writable && socket.write(' '), 200);
    try {
      assert.ok(await waitFor(() => received().startsWith('HTTP/1.1 401'), 2_000), `401 before the body (got ${JSON.stringify(received().slice(0, 80))})`);
      assert.match(received(), /InvalidAuthenticationToken|AuthenticationFailed/);
      const ms = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 3_000))]);
      assert.ok(ms >= 0, 'the server closed the connection while the client still trickled');
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });

  test('Expect: 100-continue with a body over the limit: 413 RequestEntityTooLarge, no 100 Continue', async () => {
    const { socket, received, closed } = await rawManagement();
    socket.write(`PUT ${session.group}?api-version=2021-04-01 HTTP/1.1\r\nHost: ${new URL(session.arm.endpoint).host}\r\nAuthorization: Bearer ${session.arm.token}\r\nContent-Type: application/json\r\nContent-Length: ${6 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`);
    try {
      assert.ok(await waitFor(() => /\r\n\r\n\{.*\}/s.test(received()), 3_000), `an answer (got ${JSON.stringify(received().slice(0, 80))})`);
      assert.match(received(), /^HTTP\/1\.1 413 /);
      assert.match(received(), /RequestEntityTooLarge/);
      await closed;
    } finally {
      socket.destroy();
    }
  });

  const headers = () => ({ authorization: `Bearer ${session.arm.token}`, 'content-type': 'application/json' });
  for (const [label, body] of [
    ['a __proto__ member', '{"location":"local","properties":{"__proto__":{"provisioningState":"x"}}}'],
    ['a __proto__ member at the top', '{"location":"local","__proto__":{"tags":{"a":"b"}}}'],
    ['a constructor.prototype member', '{"location":"local","tags":{"constructor":{"prototype":{"a":"b"}}}}'],
  ] as const) {
    test(`${label} is 400 InvalidRequestContent, nothing stored`, async () => {
      const path = `/subscriptions/${session.arm.subscription}/resourceGroups/poisoned?api-version=2021-04-01`;
      const refused = await session.arm.raw('PUT', path, body, headers());
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.json.error.code, 'InvalidRequestContent');
      assert.match(refused.json.error.message, /prototype poisoning/);
      assert.equal((await session.arm.call('GET', path)).status, 404);
    });
  }

  test('invalid UTF-8 in a body is 400 InvalidRequestContent, nothing stored', async () => {
    const path = `/subscriptions/${session.arm.subscription}/resourceGroups/mojibake?api-version=2021-04-01`;
    const body = Buffer.concat([Buffer.from('{"location":"local","tags":{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
    const refused = await session.arm.raw('PUT', path, body, headers());
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json.error.code, 'InvalidRequestContent');
    assert.match(refused.json.error.message, /UTF-8/);
    assert.equal((await session.arm.call('GET', path)).status, 404);
  });
});
