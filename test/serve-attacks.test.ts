// The attacks of issue 10 against `certgate serve --workers 2` as operators run it: the bounds hold in
// every worker process (each has its own HTTP/2 sessions, upstream pool and header timers), and set
// by flags they reach the workers. A normal client is answered during and after each attack; each
// attack runs 2–3 s (bench/lib/attacks.ts, the bench's own attackers).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { h2RapidReset, h2StreamFlood, slowHeaders, type AttackResult, type AttackTarget } from '../bench/lib/attacks.ts';
import { MAIN, NODE, cleanEnv, serveBanner } from './support/cli.ts';
import { h2Probe, sleep, waitUntil } from './support/http-clients.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import { appDocument, environmentDocument } from '../src/model/documents.ts';

const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';
const HOST = 'counted.env1.certgate.localhost';
const MAX_STREAMS = 50;

let dataDir: string;
let serve: ChildProcess;
let stdout = '';
let httpsPort: number;
let ca: Buffer;
let target: AttackTarget;
let appServer: http.Server;
/** Requests whose head reached the app. */
let requests = 0;
/** Requests the app holds (POSTs whose body never ends) and has not seen closed. */
const held = new Set<http.IncomingMessage>();

before(async () => {
  appServer = http.createServer((req, res) => {
    requests++;
    if (req.method === 'GET') {
      res.end('ok');
      return;
    }
    held.add(req);
    req.socket.once('close', () => held.delete(req));
    req.resume();
  });
  await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
  dataDir = mkdtempSync(join(tmpdir(), 'certgate-serve-attacks-'));
  // serve owns the store and only hears its own writes: the app is configured before it starts.
  const store = new SqliteStore(join(dataDir, 'certgate.db'));
  try {
    const environment = await store.put(environmentDocument({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg', name: 'env1', defaultDomain: 'env1.certgate.localhost' }));
    const ingress = { targetPort: (appServer.address() as AddressInfo).port };
    await store.put(appDocument({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg', name: 'counted', environmentId: environment.resource.id, ingress }));
  } finally {
    await store.close();
  }
  // The stream bound by flag and the header timeout by environment variable: both must reach the workers.
  serve = spawn(
    NODE,
    [MAIN, 'serve', '--data-dir', dataDir, '--https-port', '0', '--http-port', '0', '--management-port', '0', '--workers', '2', '--h2-max-concurrent-streams', String(MAX_STREAMS)],
    { env: cleanEnv({ CERTGATE_HEADERS_TIMEOUT: '1s' }), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  serve.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const banner = await serveBanner(serve);
  assert.match(banner, /workers: +2 /);
  httpsPort = Number(/HTTPS ingress: +https:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
  ca = readFileSync(/CA certificate: +(\S+)/.exec(banner)![1]!);
  target = { host: '127.0.0.1', port: httpsPort, servername: HOST };
  assert.equal(await probe(), 200, 'served before any attack');
});

after(async () => {
  if (serve?.exitCode === null) {
    serve.kill('SIGTERM');
    const exited = once(serve, 'exit');
    const timer = setTimeout(() => serve.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  appServer?.closeAllConnections();
  await new Promise((resolve) => appServer?.close(resolve));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A normal client: a GET over a new HTTP/2 connection (landing on either worker), answered within 2 s. */
const probe = () => h2Probe({ port: httpsPort, host: HOST, ca });

/** Runs `attack` while a normal client probes every 200 ms (new connections, so both workers); every probe must be answered. */
async function during(attack: Promise<AttackResult>): Promise<{ result: AttackResult; probes: number[] }> {
  let running = true;
  const probes: number[] = [];
  const probing = (async () => {
    await sleep(300);
    while (running) {
      probes.push(await probe());
      await sleep(200);
    }
  })();
  const result = await attack;
  running = false;
  await probing;
  return { result, probes };
}

test('--h2-max-concurrent-streams reaches both workers: every connection is advertised the bound', async () => {
  for (let i = 0; i < 6; i++) {
    const session = http2.connect(`https://${HOST}:${httpsPort}`, { host: '127.0.0.1', servername: HOST, ca });
    session.on('error', () => {});
    const [settings] = (await once(session, 'remoteSettings')) as [http2.Settings];
    session.destroy();
    assert.equal(settings.maxConcurrentStreams, MAX_STREAMS, `connection ${i}`);
  }
});

test('HTTP/2 stream flood (5,000 POSTs without DATA per connection, 2.5 s): the app holds at most the stream bound per connection, others are served during and after', async () => {
  let maxHeld = 0;
  const sampler = setInterval(() => (maxHeld = Math.max(maxHeld, held.size)), 10);
  const { result, probes } = await during(h2StreamFlood(target, { seconds: 2.5, count: 5_000 }));
  clearInterval(sampler);
  assert.ok(probes.length >= 3 && probes.every((status) => status === 200), `probes during the attack: ${probes.join(',')}`);
  assert.ok(result.requests > 1_000, `the attack opened ${result.requests} streams`);
  assert.ok(maxHeld > 0, 'the attack reached the app');
  // One attacker connection at a time; the one before may still be letting go of its streams.
  assert.ok(maxHeld <= 2 * MAX_STREAMS, `${maxHeld} requests held at once (bound ${MAX_STREAMS} per connection)`);
  await waitUntil(() => held.size === 0, 3_000, 'the held upstream requests are released');
  assert.equal(await probe(), 200, 'answered after the attack');
});

test('HTTP/2 rapid reset (2.5 s): connections closed with GOAWAY, few requests reach the app, others are served during and after', async () => {
  const before = requests;
  const { result, probes } = await during(h2RapidReset(target, { seconds: 2.5 }));
  const reached = requests - before - probes.length;
  assert.ok(probes.length >= 3 && probes.every((status) => status === 200), `probes during the attack: ${probes.join(',')}`);
  assert.ok(result.closedByServer >= 1, `the server closed the attacker (${JSON.stringify(result)})`);
  assert.ok(reached < result.requests / 10, `${reached} of ${result.requests} reset streams reached the app`);
  assert.match(stdout, /"reason":"h2_rapid_reset"/, 'logged by a worker');
  assert.equal(await probe(), 200, 'answered after the attack');
});

test('slow headers (100 connections trickling a header byte a second, 3 s): each is cut by the 1 s header timeout (from CERTGATE_HEADERS_TIMEOUT), others are served during and after', async () => {
  const started = performance.now();
  const { result, probes } = await during(slowHeaders(target, { seconds: 3, count: 100 }));
  assert.ok(probes.length >= 3 && probes.every((status) => status === 200), `probes during the attack: ${probes.join(',')}`);
  assert.equal(result.connections, 100, JSON.stringify(result));
  // Closed by the server before the attack's own 3 s deadline (the default timeout is 20 s).
  assert.equal(result.closedByServer, result.connections, JSON.stringify(result));
  assert.ok(performance.now() - started < 3_000 + 2_000, 'the attack ended once every connection was closed');
  assert.equal(await probe(), 200, 'answered after the attack');
});
