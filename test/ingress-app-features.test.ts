// ACA ingress members beyond client certificates (issue 11): CORS answered by the ingress, the
// environment's ingressConfiguration applied, and every value certgate cannot apply refused with a
// 400 naming its path (and changing nothing). Real clients (curl over HTTP/1.1 and HTTP/2), a real
// app, writes through the management API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import tls, { type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { createSelfSigned, tlsOptions } from '../src/pki/issue.ts';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE_DOMAIN, RESOURCE_GROUP, SUBSCRIPTION, startTestGateway, type TestGateway } from './support/gateway.ts';
import { environmentDocument } from '../src/model/documents.ts';
import { armClient, type ArmClient } from './support/arm.ts';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { curl, curlHttp, curlResult, parseIncluded, type CurlOptions } from './support/clients.ts';

const V = 'api-version=2025-07-01';
const PREVIEW = 'api-version=2025-10-02-preview';
/** The ingress's own response timeout here: short, so the environment's requestIdleTimeout shows. */
const RESPONSE_TIMEOUT_MS = 500;
const TCP_MAX_CONNECTIONS = 4;
const TCP_MAX_PER_CLIENT = 2;
const TCP_IDLE_MS = 800;

let gw: TestGateway;
let arm: ArmClient;
let echo: EchoApp;
let dir: string;
let caFile: string;
let group: string;
let envId: string;
let envDomain: string;

const appPath = (name: string) => `${group}/providers/Microsoft.App/containerApps/${name}`;
const envPath = (name: string) => `${group}/providers/Microsoft.App/managedEnvironments/${name}`;
const appBody = (ingress: Record<string, unknown>, environment = envId) => ({ location: 'local', properties: { managedEnvironmentId: environment, configuration: { ingress } } });

async function putApp(name: string, ingress: Record<string, unknown>, environment = envId): Promise<void> {
  const result = await arm.call('PUT', `${appPath(name)}?${V}`, appBody(ingress, environment));
  assert.ok(result.status === 200 || result.status === 201, result.text);
}

async function putEnvironment(name: string, properties: Record<string, unknown>): Promise<{ id: string; defaultDomain: string }> {
  const result = await arm.call('PUT', `${envPath(name)}?${V}`, { location: 'local', properties });
  assert.ok(result.status === 200 || result.status === 201, result.text);
  return { id: result.json.id, defaultDomain: result.json.properties.defaultDomain };
}

/** curl -i through the HTTPS port; the parsed response. */
async function request(host: string, options: Partial<CurlOptions> = {}) {
  const result = await curl({ host, port: gw.httpsPort, caFile, ...options, extra: ['-i', ...(options.extra ?? [])] });
  assert.equal(result.code, 0, result.stderr);
  return parseIncluded(curlResult(result).body);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-features-'));
  echo = await startEchoApp((req, res) => {
    if (req.url === '/slow') {
      setTimeout(() => res.end('slow answer'), 1_500);
      return true;
    }
    if (req.url === '/own-cors') {
      res.writeHead(200, { 'access-control-allow-origin': '*', 'content-length': 2 });
      res.end('ok');
      return true;
    }
    return false;
  });
  gw = await startTestGateway({ controlPlane: true, upstream: { responseTimeoutMs: RESPONSE_TIMEOUT_MS }, tcp: { maxConnectionsPerPort: TCP_MAX_CONNECTIONS, maxConnectionsPerClient: TCP_MAX_PER_CLIENT, idleTimeoutMs: TCP_IDLE_MS } });
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, gw.caPem);
  arm = await armClient(gw.credentials!, gw.caPem);
  group = `/subscriptions/${arm.subscription}/resourceGroups/rg1`;
  assert.equal((await arm.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' })).status, 201);
  ({ id: envId, defaultDomain: envDomain } = await putEnvironment('env1', {}));
});

after(async () => {
  await arm?.close();
  await gw?.close();
  await echo?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('corsPolicy: answered by the ingress', () => {
  const policy = {
    allowedOrigins: ['https://web.example', 'https://*.contoso.com'],
    allowedMethods: ['GET', 'PUT'],
    allowedHeaders: ['x-token'],
    exposeHeaders: ['x-total'],
    maxAge: 600,
    allowCredentials: true,
  };
  const preflight = (origin: string) => ['-X', 'OPTIONS', '-H', `Origin: ${origin}`, '-H', 'Access-Control-Request-Method: PUT', '-H', 'Access-Control-Request-Headers: x-token'];
  let host: string;
  before(async () => {
    await putApp('cors', { targetPort: echo.port, corsPolicy: policy, allowInsecure: true });
    host = `cors.${envDomain}`;
  });

  for (const http of ['1.1', '2'] as const) {
    test(`a preflight from an allowed origin is answered 200 by the ingress, never reaching the app (HTTP/${http})`, async () => {
      const seen = echo.received.length;
      const response = await request(host, { http, extra: preflight('https://web.example') });
      assert.equal(response.status, 200);
      assert.deepEqual(response.headers['access-control-allow-origin'], ['https://web.example']);
      assert.deepEqual(response.headers['access-control-allow-methods'], ['GET, PUT']);
      assert.deepEqual(response.headers['access-control-allow-headers'], ['x-token']);
      assert.deepEqual(response.headers['access-control-max-age'], ['600']);
      assert.deepEqual(response.headers['access-control-allow-credentials'], ['true']);
      assert.deepEqual(response.headers['vary'], ['Origin']);
      assert.equal(response.body, '');
      assert.equal(echo.received.length, seen, 'the app saw no request');
    });

    test(`a real request from an allowed origin gets the CORS headers on the app's answer (HTTP/${http})`, async () => {
      const response = await request(host, { http, headers: ['Origin: https://shop.contoso.com'] });
      assert.equal(response.status, 200);
      assert.equal(JSON.parse(response.body).headers.origin, 'https://shop.contoso.com', 'the app got the request');
      assert.deepEqual(response.headers['access-control-allow-origin'], ['https://shop.contoso.com']);
      assert.deepEqual(response.headers['access-control-allow-credentials'], ['true']);
      assert.deepEqual(response.headers['access-control-expose-headers'], ['x-total']);
      assert.deepEqual(response.headers['vary'], ['Origin']);
      assert.equal(response.headers['access-control-allow-methods'], undefined, 'preflight-only headers are not added');
    });
  }

  test('a disallowed origin gets no CORS headers; its preflight goes to the app (as Envoy does)', async () => {
    const real = await request(host, { headers: ['Origin: https://evil.example'] });
    assert.equal(real.status, 200);
    assert.equal(Object.keys(real.headers).some((name) => name.startsWith('access-control-')), false);
    const seen = echo.received.length;
    const response = await request(host, { extra: preflight('https://evil.contoso.com.evil.example') });
    assert.equal(Object.keys(response.headers).some((name) => name.startsWith('access-control-')), false);
    assert.equal(echo.received.length, seen + 1);
    assert.equal(echo.received.at(-1)?.method, 'OPTIONS');
  });

  test("the app's own Access-Control-Allow-Origin is replaced for an allowed origin", async () => {
    const response = await request(host, { path: '/own-cors', headers: ['Origin: https://web.example'] });
    assert.deepEqual(response.headers['access-control-allow-origin'], ['https://web.example']);
  });

  test('the plain-HTTP port of an allowInsecure app answers preflights too', async () => {
    const seen = echo.received.length;
    const result = await curlHttp({ host, port: gw.httpPort, extra: ['-i', ...preflight('https://web.example')] });
    const response = parseIncluded(curlResult(result).body);
    assert.equal(response.status, 200);
    assert.deepEqual(response.headers['access-control-allow-origin'], ['https://web.example']);
    assert.equal(echo.received.length, seen);
  });

  test("allowCredentials with '*' is refused at write time (400 naming the path) and changes nothing", async () => {
    const result = await arm.call('PATCH', `${appPath('cors')}?${V}`, { properties: { configuration: { ingress: { corsPolicy: { allowedOrigins: ['*'], allowCredentials: true } } } } });
    assert.equal(result.status, 400, result.text);
    assert.equal(result.json.error.target, 'properties.configuration.ingress.corsPolicy.allowCredentials');
    const stored = await arm.call('GET', `${appPath('cors')}?${V}`);
    assert.deepEqual(stored.json.properties.configuration.ingress.corsPolicy, policy);
    const response = await request(host, { extra: preflight('https://other.example') });
    assert.equal(response.headers['access-control-allow-origin'], undefined, 'still the old policy');
  });
});

describe('ingress members certgate cannot apply are refused with a 400 naming the path', () => {
  before(async () => putApp('strict', { targetPort: echo.port }));
  const cases: { label: string; ingress: Record<string, unknown>; target: string; version?: string }[] = [
    { label: "transport 'tcp' without an exposedPort", ingress: { transport: 'tcp' }, target: 'exposedPort' },
    { label: "transport 'tcp' with a CORS policy (not applied to bytes)", ingress: { transport: 'tcp', exposedPort: 1, corsPolicy: { allowedOrigins: ['*'] } }, target: 'corsPolicy' },
    { label: 'an exposed port that is one of the ingress ports', ingress: { additionalPortMappings: [{ external: true, targetPort: 9, exposedPort: -1 }] }, target: 'additionalPortMappings[0].exposedPort' },
    { label: 'an exposedPort without transport tcp', ingress: { exposedPort: 9000 }, target: 'exposedPort' },
    { label: 'additionalPortMappings with ipSecurityRestrictions (not applied to TCP ports)', ingress: { additionalPortMappings: [{ external: true, targetPort: 9000 }], ipSecurityRestrictions: [{ name: 'a', ipAddressRange: '10.0.0.0/8', action: 'Allow' }] }, target: 'ipSecurityRestrictions' },
    { label: 'a traffic split', ingress: { traffic: [{ latestRevision: true, weight: 50 }, { revisionName: 'strict--old', weight: 50 }] }, target: 'traffic[1]' },
    { label: 'latest revision at less than 100%', ingress: { traffic: [{ latestRevision: true, weight: 90 }] }, target: 'traffic[0].weight' },
    { label: 'a revision that does not exist', ingress: { traffic: [{ revisionName: 'strict--v2', weight: 100 }] }, target: 'traffic[0].revisionName' },
    { label: 'a traffic entry naming no revision', ingress: { traffic: [{ weight: 100 }] }, target: 'traffic[0].latestRevision' },
    { label: "stickySessions 'sticky'", ingress: { stickySessions: { affinity: 'Sticky' } }, target: 'stickySessions.affinity' },
    { label: 'a CORS origin that is not an origin', ingress: { corsPolicy: { allowedOrigins: ['https://a.example/path'] } }, target: 'corsPolicy.allowedOrigins[0]' },
    { label: 'a CORS method that is not a token', ingress: { corsPolicy: { allowedOrigins: ['*'], allowedMethods: ['GET POST'] } }, target: 'corsPolicy.allowedMethods[0]' },
    { label: 'targetPortHttpScheme on a stable api-version', ingress: { targetPortHttpScheme: 'http' }, target: 'targetPortHttpScheme' },
    { label: "targetPortHttpScheme 'https' with transport 'http2' (h2c is cleartext)", ingress: { targetPortHttpScheme: 'https', transport: 'http2' }, target: 'targetPortHttpScheme', version: PREVIEW },
  ];
  for (const { label, ingress: given, target, version } of cases) {
    test(label, async () => {
      // -1 stands for the gateway's HTTPS port (known once it listens).
      const ingress = JSON.parse(JSON.stringify(given).replace('-1', String(gw.httpsPort)));
      const before = (await arm.call('GET', `${appPath('strict')}?${V}`)).json;
      const result = await arm.call('PATCH', `${appPath('strict')}?${version ?? V}`, { properties: { configuration: { ingress } } });
      assert.equal(result.status, 400, result.text);
      assert.equal(result.json.error.target, `properties.configuration.ingress.${target}`, result.text);
      const after = (await arm.call('GET', `${appPath('strict')}?${V}`)).json;
      assert.deepEqual(after.properties.configuration.ingress, before.properties.configuration.ingress, 'nothing changed');
      assert.equal(after.etag, before.etag);
    });
  }

  test('what certgate does apply is accepted: latest revision at 100%, affinity none, scheme http on a preview version', async () => {
    for (const ingress of [
      { traffic: [{ latestRevision: true, weight: 100 }], stickySessions: { affinity: 'none' } },
      { traffic: [{ revisionName: 'strict--certgate', weight: 100 }] },
      { exposedPort: 0, additionalPortMappings: [] },
    ]) {
      const result = await arm.call('PATCH', `${appPath('strict')}?${V}`, { properties: { configuration: { ingress } } });
      assert.equal(result.status, 200, result.text);
    }
    const preview = await arm.call('PATCH', `${appPath('strict')}?${PREVIEW}`, { properties: { configuration: { ingress: { targetPortHttpScheme: 'http' } } } });
    assert.equal(preview.status, 200, preview.text);
    assert.equal(curlResult(await curl({ host: `strict.${envDomain}`, port: gw.httpsPort, caFile })).status, 200);
  });
});

describe('environment ingressConfiguration', () => {
  test('values out of ACA\'s ranges, and a workload profile, are refused with a 400 naming the path', async () => {
    for (const [ingressConfiguration, target] of [
      [{ requestIdleTimeout: 3 }, 'requestIdleTimeout'],
      [{ requestIdleTimeout: 31 }, 'requestIdleTimeout'],
      [{ headerCountLimit: 0 }, 'headerCountLimit'],
      [{ terminationGracePeriodSeconds: 3601 }, 'terminationGracePeriodSeconds'],
      [{ workloadProfileName: 'Consumption' }, 'workloadProfileName'],
      [{ idleTimeout: 4 }, 'idleTimeout'],
    ] as const) {
      const result = await arm.call('PUT', `${envPath('env-bad')}?${V}`, { location: 'local', properties: { ingressConfiguration } });
      assert.equal(result.status, 400, result.text);
      assert.equal(result.json.error.target, `properties.ingressConfiguration.${target}`, result.text);
    }
    assert.equal((await arm.call('GET', `${envPath('env-bad')}?${V}`)).status, 404, 'nothing was created');
  });

  test('headerCountLimit: a request with more header fields gets 431 before reaching the app (HTTP/1.1 and HTTP/2)', async () => {
    const env = await putEnvironment('env-headers', { ingressConfiguration: { headerCountLimit: 6 } });
    await putApp('few-headers', { targetPort: echo.port }, env.id);
    const host = `few-headers.${env.defaultDomain}`;
    // curl sends Host, User-Agent and Accept (HTTP/2: :authority instead of Host, not counted).
    for (const http of ['1.1', '2'] as const) {
      const three = ['a: 1', 'b: 2', 'c: 3'];
      assert.equal((await request(host, { http, headers: three })).status, 200, `HTTP/${http}: 6 (or 5) fields pass`);
      const seen = echo.received.length;
      const response = await request(host, { http, headers: [...three, 'd: 4', 'e: 5'] });
      assert.equal(response.status, 431, `HTTP/${http}`);
      assert.match(response.body, /too_many_headers/);
      assert.equal(echo.received.length, seen, 'the app saw nothing');
    }
    // A WebSocket upgrade is held to the same limit.
    const upgrade = ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];
    const refused = await request(host, { http: '1.1', headers: upgrade });
    assert.equal(refused.status, 431);
  });

  test('headerCountLimit defaults to ACA\'s 100', async () => {
    await putApp('many-headers', { targetPort: echo.port });
    const host = `many-headers.${envDomain}`;
    const headers = (count: number) => Array.from({ length: count }, (_, i) => `x-h${i}: ${i}`);
    assert.equal((await request(host, { http: '1.1', headers: headers(97) })).status, 200, '100 fields with Host, User-Agent, Accept');
    assert.equal((await request(host, { http: '1.1', headers: headers(98) })).status, 431);
    // HTTP/2: :authority is a pseudo-header, not a field.
    assert.equal((await request(host, { http: '2', headers: headers(98) })).status, 200);
    assert.equal((await request(host, { http: '2', headers: headers(99) })).status, 431);
  });

  test('requestIdleTimeout: the app may stay silent that long (here longer than the ingress\'s own 0.5 s response timeout)', async () => {
    const env = await putEnvironment('env-idle', { ingressConfiguration: { requestIdleTimeout: 4 } });
    await putApp('patient', { targetPort: echo.port }, env.id);
    await putApp('impatient', { targetPort: echo.port });
    const patient = await request(`patient.${env.defaultDomain}`, { path: '/slow' });
    assert.equal(patient.status, 200);
    assert.equal(patient.body, 'slow answer');
    const route = gw.gateway.ingress.snapshot.routes.get(`patient.${env.defaultDomain}`);
    assert.equal(route?.app.upstream?.requestIdleTimeoutMs, 4 * 60_000);
    // Without the setting, the ingress's own timeout applies: 504.
    assert.equal((await request(`impatient.${envDomain}`, { path: '/slow' })).status, 504);
  });
});

describe('environment terminationGracePeriodSeconds', () => {
  test('a stop waits that long for requests in flight (the largest over environments), then closes them', async () => {
    const own = await startTestGateway();
    const slow = await startEchoApp((_req, res) => {
      setTimeout(() => res.end('done'), 4_000);
      return true;
    });
    try {
      const { gateway } = own;
      const put = (name: string, seconds: number) =>
        gateway.store.put(
          environmentDocument({ subscriptionId: SUBSCRIPTION, resourceGroup: RESOURCE_GROUP, name, defaultDomain: `${name}.${BASE_DOMAIN}`, properties: { ingressConfiguration: { terminationGracePeriodSeconds: seconds } } }),
        );
      await put('grace-a', 0);
      await put('grace-b', 1);
      await gateway.waitForRevision(await gateway.store.revision());
      assert.equal(gateway.ingress.snapshot.drainGraceMs, 1_000);
      const host = await own.putApp('slow', 'grace-a', { targetPort: slow.port });
      const file = join(dir, 'own-ca.pem');
      writeFileSync(file, own.caPem);
      const inFlight = curl({ host, port: own.httpsPort, caFile: file });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const started = performance.now();
      await gateway.ingress.close();
      const took = performance.now() - started;
      assert.ok(took >= 900 && took < 2_500, `drained for ${Math.round(took)} ms`);
      const result = await inFlight;
      assert.notEqual(curlResult(result).status, 200, 'the request still in flight after the grace period was cut');
    } finally {
      await own.close();
      await slow.close();
    }
  });
});

describe("transport 'http2': h2c (HTTP/2 with prior knowledge) to the app", () => {
  let app: http2.Http2Server;
  let port: number;
  const seen: { httpVersion: string; method: string; path: string; headers: http2.IncomingHttpHeaders; body: string }[] = [];
  before(async () => {
    // An h2c-only app: it does not speak HTTP/1.1 at all.
    app = http2.createServer();
    app.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        seen.push({ httpVersion: '2.0', method: String(headers[':method']), path: String(headers[':path']), headers, body: Buffer.concat(chunks).toString() });
        if (headers[':path'] === '/slow') {
          setTimeout(() => stream.destroyed || stream.respond({ ':status': 200 }) || stream.end('late'), 2_000);
          return;
        }
        stream.respond({ ':status': 201, 'content-type': 'text/plain', 'x-app': 'h2c', 'set-cookie': ['a=1', 'b=2'] });
        stream.end(`h2c says ${String(headers[':method'])} ${String(headers[':path'])} ${Buffer.concat(chunks).length}`);
      });
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    port = (app.address() as AddressInfo).port;
    await putApp('h2c', { targetPort: port, transport: 'http2', clientCertificateMode: 'ignore' });
  });
  after(() => new Promise<void>((resolve) => app.close(() => resolve())));

  for (const http of ['1.1', '2'] as const) {
    test(`a client on HTTP/${http} reaches the h2c app; body both ways, the app's headers back`, async () => {
      const response = await request(`h2c.${envDomain}`, { http, path: '/upload?x=1', extra: ['--data-binary', 'x'.repeat(70_000)] });
      assert.equal(response.status, 201);
      assert.equal(response.body, 'h2c says POST /upload?x=1 70000');
      assert.deepEqual(response.headers['x-app'], ['h2c']);
      assert.deepEqual(response.headers['set-cookie'], ['a=1', 'b=2']);
      const request_ = seen.at(-1)!;
      assert.equal(request_.headers[':authority'], `h2c.${envDomain}:${gw.httpsPort}`);
      assert.equal(request_.headers['x-forwarded-proto'], 'https');
      assert.equal(request_.headers['host'], undefined, 'Host became :authority');
    });
  }

  test('many concurrent requests share the pooled session', async () => {
    const sessions = new Set<unknown>();
    const onSession = (session: unknown) => sessions.add(session);
    app.on('session', onSession);
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => request(`h2c.${envDomain}`, { path: `/n${i}` })));
      assert.ok(results.every((r) => r.status === 201));
      assert.ok(sessions.size <= 1, `${sessions.size} new sessions`);
    } finally {
      app.off('session', onSession);
    }
  });

  test("the h2c app's silence is bounded by the response timeout (504), and a stopped app is 503", async () => {
    assert.equal((await request(`h2c.${envDomain}`, { path: '/slow' })).status, 504);
    const closed = http2.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await putApp('h2c-down', { targetPort: closedPort, transport: 'http2' });
    const down = await request(`h2c-down.${envDomain}`);
    assert.equal(down.status, 503);
    assert.match(down.body, /app_unavailable/);
  });
});

describe("targetPortHttpScheme 'https' (preview api-versions): TLS to the app", () => {
  let app: https.Server;
  before(async () => {
    // The app's own self-signed certificate, as a container would serve: not verified by the ingress.
    const certificate = await createSelfSigned({ commonName: 'app.internal', kind: 'server', dnsNames: ['app.internal'] });
    app = https.createServer(tlsOptions(certificate), (req, res) => {
      const socket = req.socket as TLSSocket;
      const body = JSON.stringify({ encrypted: socket.encrypted === true, protocol: socket.getProtocol(), host: req.headers.host, xfp: req.headers['x-forwarded-proto'] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    // A WebSocket upgrade reaches it over TLS too: the 101 says whether the app's socket is encrypted.
    app.on('upgrade', (req, socket) => {
      const encrypted = (req.socket as TLSSocket).encrypted === true;
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\nx-app-encrypted: ${encrypted}\r\n\r\n`);
      socket.on('data', (chunk: Buffer) => socket.write(chunk));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const port = (app.address() as AddressInfo).port;
    const result = await arm.call('PUT', `${appPath('tls-app')}?${PREVIEW}`, appBody({ targetPort: port, targetPortHttpScheme: 'HTTPS' }));
    assert.equal(result.status, 201, result.text);
    assert.equal(result.json.properties.configuration.ingress.targetPortHttpScheme, 'https');
  });
  after(() => new Promise<void>((resolve) => {
    app.closeAllConnections();
    app.close(() => resolve());
  }));

  for (const http of ['1.1', '2'] as const) {
    test(`requests reach the app over TLS (HTTP/${http} client), twice on the pooled connection`, async () => {
      for (let i = 0; i < 2; i++) {
        const response = await request(`tls-app.${envDomain}`, { http });
        assert.equal(response.status, 200, response.body);
        const seen = JSON.parse(response.body);
        assert.equal(seen.encrypted, true);
        assert.match(seen.protocol, /^TLSv1\.[23]$/);
        assert.equal(seen.xfp, 'https');
      }
    });
  }

  test('a WebSocket upgrade reaches the app over TLS, and the tunnel carries bytes both ways', async () => {
    const host = `tls-app.${envDomain}`;
    const client = tls.connect({ host: '127.0.0.1', port: gw.httpsPort, servername: host, ca: readFileSync(caFile) });
    try {
      await once(client, 'secureConnect');
      client.write(`GET /ws HTTP/1.1\r\nhost: ${host}\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      let received = '';
      client.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      const until = async (pattern: RegExp) => {
        for (let i = 0; i < 100 && !pattern.test(received); i++) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.match(received, pattern);
      };
      await until(/\r\n\r\n/);
      assert.match(received, /^HTTP\/1\.1 101 /);
      assert.match(received, /x-app-encrypted: true\r\n/i);
      client.write('ping-through-tls');
      await until(/ping-through-tls/);
    } finally {
      client.destroy();
    }
  });

  test("with scheme 'http' the same TLS-only app is not reachable (the scheme is what decides)", async () => {
    const port = (app.address() as AddressInfo).port;
    await putApp('tls-app-plain', { targetPort: port });
    assert.equal((await request(`tls-app-plain.${envDomain}`)).status, 502);
  });
});

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Connects, sends `text`, and resolves with what came back before the connection closed or `waitMs` passed. */
function tcpExchange(port: number, text: string, waitMs = 300, host = '127.0.0.1', localAddress?: string): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    let data = '';
    let closed = false;
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('error', () => {});
    socket.once('close', () => {
      closed = true;
    });
    socket.once('connect', () => socket.write(text));
    setTimeout(() => {
      socket.destroy();
      resolve({ data, closed });
    }, waitMs);
  });
}

describe("transport 'tcp' on exposedPort, and additionalPortMappings: TCP listeners", () => {
  let tcpApp: net.Server;
  let tcpAppPort: number;
  before(async () => {
    // A line-echo TCP app that says which port it is.
    tcpApp = net.createServer((socket) => socket.on('data', (chunk) => socket.write(`echo ${chunk.toString()}`)));
    await new Promise<void>((resolve) => tcpApp.listen(0, '127.0.0.1', resolve));
    tcpAppPort = (tcpApp.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => tcpApp.close(() => resolve())));

  test('a TCP app is reached on its exposedPort (bytes both ways); removing it closes the port', async () => {
    const exposed = await freePort();
    await putApp('raw-tcp', { transport: 'tcp', targetPort: tcpAppPort, exposedPort: exposed, external: true });
    assert.equal((await tcpExchange(exposed, 'hello')).data, 'echo hello');
    assert.ok(gw.gateway.ingress.tcpPorts.includes(exposed));
    assert.equal((await arm.call('DELETE', `${appPath('raw-tcp')}?${V}`)).status, 200);
    const after = await tcpExchange(exposed, 'again');
    assert.equal(after.data, '');
    assert.equal(after.closed, true, 'connection refused');
  });

  test('additionalPortMappings expose extra TCP ports of an HTTP app', async () => {
    const exposed = await freePort();
    await putApp('extra-ports', { targetPort: echo.port, additionalPortMappings: [{ external: true, targetPort: tcpAppPort, exposedPort: exposed }] });
    assert.equal((await tcpExchange(exposed, 'side door')).data, 'echo side door');
    assert.equal((await request(`extra-ports.${envDomain}`)).status, 200, 'the HTTP route still works');
  });

  test('external TCP ports listen on the bind address (127.0.0.2 here), internal ones on loopback 127.0.0.1 only', async () => {
    const own = await startTestGateway({ bindAddress: '127.0.0.2' });
    try {
      await own.createEnvironment('envtcp');
      const [outside, inside] = [await freePort(), await freePort()];
      await own.putApp('public-tcp', 'envtcp', { transport: 'tcp', targetPort: tcpAppPort, exposedPort: outside, external: true });
      await own.putApp('private-tcp', 'envtcp', { transport: 'tcp', targetPort: tcpAppPort, exposedPort: inside, external: false });
      assert.equal((await tcpExchange(outside, 'a', 300, '127.0.0.2')).data, 'echo a');
      assert.equal((await tcpExchange(outside, 'b', 300, '127.0.0.1')).data, '');
      assert.equal((await tcpExchange(inside, 'c', 300, '127.0.0.1')).data, 'echo c');
      assert.equal((await tcpExchange(inside, 'd', 300, '127.0.0.2')).data, '', 'the internal port is not on the external address');
    } finally {
      await own.close();
    }
  });

  test('two apps cannot expose one port (409 PortInUse), nor the ingress\'s own ports (400); nothing changes', async () => {
    const exposed = await freePort();
    await putApp('port-owner', { transport: 'tcp', targetPort: tcpAppPort, exposedPort: exposed });
    const clash = await arm.call('PUT', `${appPath('port-thief')}?${V}`, appBody({ targetPort: echo.port, additionalPortMappings: [{ external: true, targetPort: 9, exposedPort: exposed }] }));
    assert.equal(clash.status, 409, clash.text);
    assert.equal(clash.json.error.code, 'PortInUse');
    assert.equal(clash.json.error.target, 'properties.configuration.ingress.additionalPortMappings[0].exposedPort');
    assert.equal((await arm.call('GET', `${appPath('port-thief')}?${V}`)).status, 404);
    for (const reserved of [gw.httpsPort, gw.httpPort, gw.control!.port]) {
      const result = await arm.call('PATCH', `${appPath('port-owner')}?${V}`, { properties: { configuration: { ingress: { exposedPort: reserved } } } });
      assert.equal(result.status, 400, result.text);
      assert.equal(result.json.error.target, 'properties.configuration.ingress.exposedPort');
    }
    assert.equal((await tcpExchange(exposed, 'still')).data, 'echo still');
  });

  test(`an idle TCP connection is closed after the idle timeout (${TCP_IDLE_MS} ms here); a busy one is not`, async () => {
    const exposed = await freePort();
    await putApp('idle-tcp', { transport: 'tcp', targetPort: tcpAppPort, exposedPort: exposed });
    const idle = await tcpExchange(exposed, 'x', TCP_IDLE_MS + 700);
    assert.equal(idle.closed, true);
    // Busy: a byte every 300 ms for twice the idle time.
    const socket = net.connect({ port: exposed, host: '127.0.0.1' });
    let closed = false;
    socket.once('close', () => (closed = true));
    const ticker = setInterval(() => socket.write('.'), 300).unref();
    await new Promise((resolve) => setTimeout(resolve, TCP_IDLE_MS * 2));
    clearInterval(ticker);
    assert.equal(closed, false);
    socket.destroy();
  });

  test(`at most ${TCP_MAX_PER_CLIENT} connections per client address and ${TCP_MAX_CONNECTIONS} per exposed port; beyond, closed at once; accepted again once one closes`, async () => {
    const exposed = await freePort();
    await putApp('bounded-tcp', { transport: 'tcp', targetPort: tcpAppPort, exposedPort: exposed });
    const open = (localAddress: string) => new Promise<net.Socket>((resolve) => {
      const socket = net.connect({ port: exposed, host: '127.0.0.1', localAddress }, () => resolve(socket));
    });
    const held = [await open('127.0.0.2'), await open('127.0.0.2')];
    // Busy, so the idle timeout does not free them meanwhile.
    const ticker = setInterval(() => held.forEach((socket) => socket.destroyed || socket.write('.')), 200).unref();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const overClient = await tcpExchange(exposed, 'third from .2', 300, '127.0.0.1', '127.0.0.2');
    assert.equal(overClient.data, '', 'a third connection from one client is refused');
    assert.equal(overClient.closed, true);
    assert.equal((await tcpExchange(exposed, 'from .3', 300, '127.0.0.1', '127.0.0.3')).data, 'echo from .3', 'another client still gets in');
    // (The server side of that exchange closes a moment after the client's.)
    await new Promise((resolve) => setTimeout(resolve, 200));
    held.push(await open('127.0.0.3'), await open('127.0.0.4'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const overPort = await tcpExchange(exposed, 'fifth', 300, '127.0.0.1', '127.0.0.5');
    assert.equal(overPort.data, '', 'the port is full');
    // Both refusals are among the recent refusals (the Gateway refusals API), with their client.
    const refusals = gw.gateway.ingress.observer.refusals.recent(1_000);
    assert.ok(refusals.some((refusal) => refusal.reason === 'tcp_client_limit' && refusal.clientAddress === '127.0.0.2' && refusal.app === 'rg1/bounded-tcp'), JSON.stringify(refusals));
    assert.ok(refusals.some((refusal) => refusal.reason === 'tcp_connection_limit' && refusal.clientAddress === '127.0.0.5'), JSON.stringify(refusals));
    held[0]!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await tcpExchange(exposed, 'freed', 300, '127.0.0.1', '127.0.0.2')).data, 'echo freed');
    clearInterval(ticker);
    for (const socket of held) socket.destroy();
  });
});
