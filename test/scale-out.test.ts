// Three replicas of `certgate serve --store postgres://…` (the real CLI, one process each, on three
// loopback addresses) sharing a real PostgreSQL this test starts. The management API is reached
// through one TCP forwarder, as behind an L4 load balancer; each replica's ingress directly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { armClient, type ArmClient } from './support/arm.ts';
import { certgate, cleanEnv, MAIN, NODE, ROOT } from './support/cli.ts';
import { curl, curlResult } from './support/clients.ts';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { startForwarder, type Forwarder } from './support/forwarder.ts';
import { newStoreKeyLine, startPostgres, type PostgresServer } from './support/postgres.ts';
import { ADMIN_CREDENTIALS_FILE, type AdminCredentials } from '../src/control/control-plane.ts';
import { createCa, issueCertificate } from '../src/pki/issue.ts';

interface Replica {
  readonly name: string;
  readonly address: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  readonly httpsPort: number;
  readonly managementPort: number;
  readonly exited: Promise<unknown>;
  stderr(): string;
  /** Everything it printed: banner and JSON log lines. */
  logs(): string;
}

const dirs: string[] = [];
const children = new Set<ChildProcess>();
let pg: PostgresServer | undefined;
let storeUrl = '';
/** The key every replica encrypts the database's secrets with (CERTGATE_STORE_KEY). */
const storeKey = newStoreKeyLine();
let echo: EchoApp | undefined;
let forwarder: Forwarder | undefined;

function tempDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'certgate-replica-')));
  dirs.push(dir);
  return dir;
}

async function startReplica(name: string, address: string, dataDir = tempDir()): Promise<Replica> {
  const args = [
    MAIN, 'serve', '--store', storeUrl, '--replica-name', name, '--data-dir', dataDir, '--workers', '1',
    '--bind', address, '--internal-bind', address, '--management-bind', address,
    '--https-port', '0', '--http-port', '0', '--management-port', '0', '--log-level', 'warn',
  ];
  const child = spawn(NODE, args, { cwd: ROOT, env: cleanEnv({ CERTGATE_STORE_KEY: storeKey }), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = once(child, 'exit');
  await Promise.race([
    new Promise<void>((resolve) => {
      const check = () => /CA certificate: .*\n/.test(stderr) && resolve();
      child.stderr!.on('data', check);
    }),
    exited.then(() => {
      throw new Error(`replica ${name} exited before it was ready:\n${stderr}`);
    }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`replica ${name} not ready after 60 s:\n${stderr}`)), 60_000).unref()),
  ]);
  const port = (label: string) => Number(new RegExp(`${label}: +https://[^:]+:(\\d+)`).exec(stderr)?.[1]);
  return { name, address, dataDir, child, httpsPort: port('HTTPS ingress'), managementPort: port('management API'), exited, stderr: () => stderr, logs: () => stdout + stderr };
}

const caOf = (replica: Replica) => readFileSync(join(replica.dataDir, 'ca', 'ca.pem'), 'utf8');

/** The status the app at `host` answers with on `replica`'s ingress, or curl's error. */
async function servedBy(replica: Replica, host: string, caFile: string): Promise<number | string> {
  const result = await curl({ host, port: replica.httpsPort, connectTo: replica.address, caFile });
  return result.code === 0 ? curlResult(result).status : result.stderr;
}

let replicas: Replica[] = [];
let arm: ArmClient | undefined;
let caFile = '';
const G = '/resourceGroups/rg';
const APP_API = 'api-version=2025-01-01';

before(async () => {
  pg = await startPostgres();
  storeUrl = await pg.createDatabase();
  echo = await startEchoApp();
  // The first replica migrates the empty database and makes the administrator; the other two start together.
  const first = await startReplica('r1', '127.0.0.2');
  replicas = [first, ...(await Promise.all([startReplica('r2', '127.0.0.3'), startReplica('r3', '127.0.0.4')]))];
  forwarder = await startForwarder({ host: first.address, port: first.managementPort });
  caFile = join(first.dataDir, 'all-cas.pem');
  writeFileSync(caFile, replicas.map(caOf).join(''));
  const credentials = JSON.parse(readFileSync(join(first.dataDir, ADMIN_CREDENTIALS_FILE), 'utf8')) as AdminCredentials;
  arm = await armClient({ ...credentials, endpoint: `https://127.0.0.1:${forwarder.port}` }, readFileSync(caFile, 'utf8'));
});

after(async () => {
  await arm?.close();
  await Promise.all(agents.map((agent) => agent.close()));
  await forwarder?.close();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await echo?.close();
  await pg?.dispose();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

type Call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; headers: Record<string, unknown>; text: string; json: any }>;

/**
 * A connection to `replica` through the forwarder (the load balancer's one address), with the
 * token the client got at the start; every request on it reaches that replica.
 */
async function connectTo(replica: Replica): Promise<Call> {
  forwarder!.target = { host: replica.address, port: replica.managementPort };
  const dispatcher = new Agent({ connect: { ca: readFileSync(caFile, 'utf8') }, connections: 1 });
  const call: Call = async (method, path, body, headers = {}) => {
    const response = await request(`${arm!.endpoint}${path}`, {
      method: method as 'GET',
      dispatcher,
      headers: { authorization: `Bearer ${arm!.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, text, json: text ? JSON.parse(text) : undefined };
  };
  // Connected now, while the forwarder points at this replica.
  await call('GET', `/subscriptions?api-version=2021-04-01`);
  agents.push(dispatcher);
  return call;
}

const agents: Agent[] = [];

/** PATCHes the tags through `replica` until the answer is 200 with every replica live (or the deadline); asserts the 200. */
async function patchUntilAllLive(replica: Replica, path: string, tags: Record<string, string>, deadline: number) {
  for (;;) {
    const patched = await through(replica).call('PATCH', path, { tags });
    if ((patched.status === 200 && patched.headers['x-certgate-stale-replicas'] === undefined) || Date.now() > deadline) {
      assert.equal(patched.status, 200, patched.text);
      return patched;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** One request through a new connection to `replica`. */
function through(replica: Replica) {
  return {
    call: async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => (await connectTo(replica))(method, path, body, headers),
  };
}

describe('three replicas on one PostgreSQL', () => {
  test('one administrator and one subscription, whichever replica answers; the others wrote no credentials', async () => {
    for (const replica of replicas) {
      const listed = await through(replica).call('GET', '/subscriptions?api-version=2021-04-01');
      assert.equal(listed.status, 200, `${replica.name}: ${listed.text}`);
      assert.equal(listed.json.value.length, 1, 'one subscription');
      assert.equal(listed.json.value[0].subscriptionId, arm!.subscription);
    }
    const wrote = replicas.filter((replica) => {
      try {
        readFileSync(join(replica.dataDir, ADMIN_CREDENTIALS_FILE));
        return true;
      } catch {
        return false;
      }
    });
    assert.deepEqual(wrote.map((replica) => replica.name), ['r1']);
  });

  test('a token one replica issued works on every other (one signing key in the database)', async () => {
    // The client's token came from r1 (through the forwarder); r2 and r3 accept it.
    for (const replica of replicas.slice(1)) {
      const got = await through(replica).call('GET', `/subscriptions/${arm!.subscription}?api-version=2021-04-01`);
      assert.equal(got.status, 200, `${replica.name}: ${got.text}`);
    }
  });

  test('a write through any replica is answered only when every replica serves it', async () => {
    const sub = `/subscriptions/${arm!.subscription}`;
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    assert.equal((await through(r1).call('PUT', `${sub}${G}?api-version=2021-04-01`, { location: 'local' })).status, 201);
    const env = await through(r2).call('PUT', `${sub}${G}/providers/Microsoft.App/managedEnvironments/env1?${APP_API}`, { location: 'local', properties: {} });
    assert.equal(env.status, 201, env.text);
    const app = await through(r3).call('PUT', `${sub}${G}/providers/Microsoft.App/containerApps/shop?${APP_API}`, {
      location: 'local',
      properties: { managedEnvironmentId: env.json.id, configuration: { ingress: { external: true, targetPort: echo!.port } } },
    });
    assert.equal(app.status, 201, app.text);
    const host = app.json.properties.configuration.ingress.fqdn as string;
    // No waiting: the answer came after every replica compiled the revision.
    for (const replica of replicas) assert.equal(await servedBy(replica, host, caFile), 200, `${replica.name} serves the app at once`);
    // A change through one replica, enforced on all when answered.
    const patched = await through(r1).call('PATCH', `${sub}${G}/providers/Microsoft.App/containerApps/shop?${APP_API}`, {
      properties: { configuration: { ingress: { ipSecurityRestrictions: [{ name: 'nobody', ipAddressRange: '192.0.2.1/32', action: 'Allow' }] } } },
    });
    assert.equal(patched.status, 200, patched.text);
    // The ingress refuses a client outside the Allow list in the handshake.
    for (const replica of replicas) assert.match(String(await servedBy(replica, host, caFile)), /access denied/, `${replica.name} enforces the restriction at once`);
    const reverted = await through(r2).call('PATCH', `${sub}${G}/providers/Microsoft.App/containerApps/shop?${APP_API}`, {
      properties: { configuration: { ingress: { ipSecurityRestrictions: [] } } },
    });
    assert.equal(reverted.status, 200, reverted.text);
    for (const replica of replicas) assert.equal(await servedBy(replica, host, caFile), 200, `${replica.name} lifts it at once`);
  });

  test('the client-certificate inventory: connections on two replicas add up in the shared table, listed through a third', async () => {
    const path = `/subscriptions/${arm!.subscription}${G}/providers/Microsoft.App/containerApps/shop`;
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const clientCa = await createCa({ commonName: 'Partner CA' });
    const issued = await issueCertificate({ issuer: clientCa, commonName: 'partner-replicas', kind: 'client', validityDays: 30, dnsNames: ['replicas.partner.example'] });
    const dir = tempDir();
    const cert = join(dir, 'client.pem');
    const key = join(dir, 'client.key');
    writeFileSync(cert, issued.certPem);
    writeFileSync(key, issued.keyPem);
    const thumbprint = new X509Certificate(issued.certPem).fingerprint256.replaceAll(':', '').toLowerCase();
    const accept = await through(r1).call('PATCH', `${path}?${APP_API}`, { properties: { configuration: { ingress: { clientCertificateMode: 'accept' } } } });
    assert.equal(accept.status, 200, accept.text);
    const host = accept.json.properties.configuration.ingress.fqdn as string;
    try {
      for (const replica of [r1, r2, r2]) {
        assert.equal(curlResult(await curl({ host, port: replica.httpsPort, connectTo: replica.address, caFile, cert, key })).status, 200, replica.name);
      }
      // Each replica writes its own batch within a second or so; r3 saw none of these connections.
      let listed: { status: number; text: string; json: any } | undefined;
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 250))) {
        listed = await through(r3).call('GET', `${path}/clientCertificates?${APP_API}&search=replicas.partner`);
        if (listed.status === 200 && listed.json.value[0]?.properties.connectionCount === 3) break;
      }
      assert.equal(listed!.status, 200, listed!.text);
      assert.deepEqual(listed!.json.value.map((entry: { name: string; properties: { connectionCount: number; subject: string } }) => [entry.name, entry.properties.connectionCount, entry.properties.subject]), [[thumbprint, 3, 'CN=partner-replicas']]);
      const one = await through(r1).call('GET', `${path}/clientCertificates/${thumbprint}?${APP_API}`);
      assert.equal(one.status, 200, one.text);
      assert.equal(one.json.properties.connectionCount, 3);
    } finally {
      const ignore = await through(r2).call('PATCH', `${path}?${APP_API}`, { properties: { configuration: { ingress: { clientCertificateMode: 'ignore' } } } });
      assert.equal(ignore.status, 200, ignore.text);
    }
  });

  test('one CA and one server certificate on every replica; a TLS session made on one resumes on the others', async () => {
    const cas = new Set(replicas.map(caOf));
    assert.equal(cas.size, 1, 'the CA is shared through the database');
    const path = `/subscriptions/${arm!.subscription}${G}/providers/Microsoft.App/containerApps/shop?${APP_API}`;
    const host = (await through(replicas[0]!).call('GET', path)).json.properties.configuration.ingress.fqdn as string;
    const ca = caOf(replicas[0]!);
    const handshake = async (replica: Replica, session?: Buffer) => {
      const socket = tls.connect({ host: replica.address, port: replica.httpsPort, servername: host, ca, minVersion: 'TLSv1.3', ...(session ? { session } : {}) });
      let ticket: Buffer | undefined;
      socket.on('session', (value: Buffer) => (ticket ??= value));
      await once(socket, 'secureConnect');
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
      const reused = socket.isSessionReused();
      // The ticket comes after the handshake, with the first bytes the server sends.
      socket.end(`GET / HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
      socket.resume();
      await once(socket, 'close');
      return { fingerprint, reused, ticket };
    };
    const first = await handshake(replicas[0]!);
    assert.ok(first.ticket, 'a session ticket was issued');
    const fingerprints = new Set([first.fingerprint]);
    for (const replica of replicas.slice(1)) {
      const resumed = await handshake(replica, first.ticket);
      assert.equal(resumed.reused, true, `the session from ${replicas[0]!.name} resumes on ${replica.name}`);
      fingerprints.add((await handshake(replica)).fingerprint);
    }
    assert.equal(fingerprints.size, 1, 'the same server certificate everywhere (issued once)');
  });

  test('the console behind the load balancer: signed in through one replica, signed in on the others; signed out through one, out on all', async () => {
    const { clientId, clientSecret } = JSON.parse(readFileSync(join(replicas[0]!.dataDir, ADMIN_CREDENTIALS_FILE), 'utf8')) as AdminCredentials;
    const origin = arm!.endpoint;
    /** One request on a new connection through the forwarder to `replica`, as a browser's form would send it. */
    const browse = async (replica: Replica, method: 'GET' | 'POST', path: string, options: { cookie?: string; form?: Record<string, string> } = {}) => {
      forwarder!.target = { host: replica.address, port: replica.managementPort };
      const dispatcher = new Agent({ connect: { ca: readFileSync(caFile, 'utf8') }, connections: 1 });
      try {
        const response = await request(`${origin}${path}`, {
          method,
          dispatcher,
          headers: { origin, 'sec-fetch-site': 'same-origin', ...(options.cookie ? { cookie: options.cookie } : {}), ...(options.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
          ...(options.form ? { body: new URLSearchParams(options.form).toString() } : {}),
        });
        return { status: response.statusCode, location: response.headers.location, setCookie: String(response.headers['set-cookie'] ?? ''), text: await response.body.text() };
      } finally {
        await dispatcher.close();
      }
    };
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const signIn = await browse(r1, 'POST', '/console/sign-in', { form: { clientId, clientSecret } });
    assert.equal(signIn.status, 303, signIn.text);
    const cookie = /^(__Host-certgate-console=[^;]+)/.exec(signIn.setCookie)?.[1];
    assert.ok(cookie, signIn.setCookie);
    const page = await browse(r2, 'GET', '/console/environments', { cookie });
    assert.equal(page.status, 200, `signed in on ${r2.name} too: ${page.location ?? ''}`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1];
    assert.ok(csrf, 'the page carries the session\'s CSRF token');
    const signOut = await browse(r3, 'POST', '/console/sign-out', { cookie, form: { csrf } });
    assert.deepEqual([signOut.status, signOut.location], [303, '/console/sign-in?out=1'], `${r3.name} accepts the token ${r2.name} rendered: ${signOut.text}`);
    for (const replica of [r1, r2]) {
      const after = await browse(replica, 'GET', '/console/environments', { cookie });
      assert.deepEqual([after.status, after.location], [303, '/console/sign-in?ended=1'], `signed out on ${replica.name} as well`);
    }
  });

  test("one management API certificate on every replica (issued once, in the database)", async () => {
    const served = new Set<string | undefined>();
    for (const replica of replicas) {
      const socket = tls.connect({ host: replica.address, port: replica.managementPort, servername: 'localhost', ca: caOf(replica) });
      await once(socket, 'secureConnect');
      served.add(socket.getPeerX509Certificate()?.fingerprint256);
      socket.destroy();
    }
    assert.equal(served.size, 1, [...served].join(' '));
  });

  test('two writers racing on one resource through two replicas: If-Match lets exactly one win', async () => {
    const [r1, r2] = replicas as [Replica, Replica];
    const path = `/subscriptions/${arm!.subscription}${G}/providers/Microsoft.App/containerApps/shop?${APP_API}`;
    const current = await through(r1).call('GET', path);
    const etag = current.headers['etag'] as string;
    assert.ok(etag);
    // Two clients, connected to two replicas, send the same If-Match at once.
    const [one, two] = await Promise.all([connectTo(r1), connectTo(r2)]);
    const statuses = (await Promise.all([one('PATCH', path, { tags: { writer: 'one' } }, { 'if-match': etag }), two('PATCH', path, { tags: { writer: 'two' } }, { 'if-match': etag })]))
      .map((result) => result.status)
      .sort();
    assert.deepEqual(statuses, [200, 412]);
  });

  test('PostgreSQL stopped under traffic: every replica keeps serving, writes and reads answer 503 StoreUnavailable; all recover by themselves', async () => {
    const [r1, r2] = replicas as [Replica, Replica];
    const path = `/subscriptions/${arm!.subscription}${G}/providers/Microsoft.App/containerApps/shop?${APP_API}`;
    const host = (await through(r1).call('GET', path)).json.properties.configuration.ingress.fqdn as string;
    const [c1, c2] = await Promise.all([connectTo(r1), connectTo(r2)]);
    await pg!.stop();
    try {
      for (const replica of replicas) assert.equal(await servedBy(replica, host, caFile), 200, `${replica.name} serves its last snapshot`);
      const write = await c1('PATCH', path, { tags: { during: 'outage' } });
      assert.equal(write.status, 503, write.text);
      assert.equal(write.json.error.code, 'StoreUnavailable');
      assert.match(write.json.error.message, /nothing was written/);
      assert.equal(write.headers['retry-after'], '5');
      const read = await c2('GET', path);
      assert.equal(read.status, 503, read.text);
      assert.match(read.json.error.message, /cannot be read now/);
    } finally {
      await pg!.start();
    }
    // Nobody restarts the replicas: their clients reconnect, their feeds re-listen and re-read.
    const patched = await patchUntilAllLive(r2, path, { after: 'outage' }, Date.now() + 20_000);
    assert.equal(patched.headers['x-certgate-stale-replicas'], undefined, 'every replica is live again');
    assert.equal((await through(r1).call('GET', path)).json.tags.after, 'outage');
    assert.equal((await through(r1).call('GET', path)).json.tags.during, undefined, 'the refused write left nothing');
  });

  test('kill -9 of a replica: writes are answered once it stops heartbeating, naming it; restarted, it serves the current configuration', async () => {
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const path = `/subscriptions/${arm!.subscription}${G}/providers/Microsoft.App/containerApps/shop?${APP_API}`;
    // Writes in flight through r3 when it is killed: every one it acknowledged is in the database, whole.
    const sub = `/subscriptions/${arm!.subscription}`;
    const writer = await connectTo(r3);
    const acknowledged: string[] = [];
    const statuses: number[] = [];
    const writing = (async () => {
      for (let i = 0; ; i++) {
        const result = await writer('PUT', `${sub}/resourceGroups/inflight-${i}?api-version=2021-04-01`, { location: 'local', tags: { n: String(i) } }).catch(() => undefined);
        if (!result) return;
        statuses.push(result.status);
        if (result.status === 201) acknowledged.push(`inflight-${i}`);
      }
    })();
    // Killed once a few were answered, while the next ones are in flight.
    const until = Date.now() + 15_000;
    while (acknowledged.length < 3 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    r3.child.kill('SIGKILL');
    await r3.exited;
    await writing;
    assert.ok(acknowledged.length > 0, `some writes were acknowledged before the kill (${statuses.join(', ')})`);
    const groups = (await through(r1).call('GET', `${sub}/resourcegroups?api-version=2021-04-01&$top=1000`)).json.value as { name: string; location: string; tags?: { n?: string } }[];
    const stored = new Map(groups.map((group) => [group.name, group]));
    for (const name of acknowledged) {
      assert.ok(stored.has(name), `the acknowledged ${name} is stored`);
      assert.equal(stored.get(name)!.tags?.n, name.slice('inflight-'.length), `${name} is whole`);
    }
    const started = Date.now();
    const patched = await through(r1).call('PATCH', path, { tags: { after: 'kill' } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.headers['x-certgate-stale-replicas'], 'r3', 'the answer names the replica it did not wait for');
    assert.ok(Date.now() - started < 8_000, 'not waited for beyond its liveness window');
    const host = (await through(r2).call('GET', path)).json.properties.configuration.ingress.fqdn as string;
    // Restarted with its data dir and name: it serves what was written while it was down.
    const restarted = await startReplica('r3', r3.address, r3.dataDir);
    replicas[2] = restarted;
    assert.equal(await servedBy(restarted, host, caFile), 200);
    const again = await through(r2).call('PATCH', path, { tags: { after: 'restart' } });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers['x-certgate-stale-replicas'], undefined, 'every replica is live again');
  });
});

describe('a replica starting while PostgreSQL is down', () => {
  test('serves the configuration it saved last, says so, and joins in by itself when PostgreSQL returns', async () => {
    const [r1, , r3] = replicas as [Replica, Replica, Replica];
    const path = `/subscriptions/${arm!.subscription}${G}/providers/Microsoft.App/containerApps/shop?${APP_API}`;
    const host = (await through(r1).call('GET', path)).json.properties.configuration.ingress.fqdn as string;
    r3.child.kill('SIGKILL');
    await r3.exited;
    await pg!.stop();
    let restarted: Replica;
    try {
      restarted = await startReplica('r3', r3.address, r3.dataDir);
      replicas[2] = restarted;
      assert.match(restarted.logs(), /serving the configuration saved last/);
      assert.equal(await servedBy(restarted, host, caFile), 200, 'it serves the saved configuration');
    } finally {
      await pg!.start();
    }
    const deadline = Date.now() + 30_000;
    while (!/PostgreSQL answers again/.test(restarted.logs()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    assert.match(restarted.logs(), /PostgreSQL answers again/);
    const patched = await patchUntilAllLive(r1, path, { after: 'cold-start' }, deadline);
    assert.equal(patched.headers['x-certgate-stale-replicas'], undefined, 'the restarted replica is live and was waited for');
  });
});

describe('serve --store flags', () => {
  test('a store that is not a postgres:// URL, and replica or key flags without a store, are usage errors', async () => {
    const bad = await certgate(['serve', '--store', 'mysql://db/certgate']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--store <url>' argument 'mysql:\/\/db\/certgate' is invalid\. expected a postgres:\/\/ or postgresql:\/\/ URL/);
    const name = await certgate(['serve', '--replica-name', 'r1']);
    assert.equal(name.code, 2);
    assert.match(name.stderr, /'--replica-name' has no effect without '--store <postgres-url>'/);
    const key = await certgate(['serve', '--store-key-file', '/nonexistent']);
    assert.equal(key.code, 2);
    assert.match(key.stderr, /'--store-key-file' has no effect without '--store <postgres-url>'/);
  });

  test('a store without its encryption key does not start, and says how to make one', async () => {
    const dataDir = tempDir();
    const result = await certgate(['serve', '--store', 'postgres://certgate@127.0.0.1:1/none', '--data-dir', dataDir, '--https-port', '0', '--http-port', '0', '--management-port', '0']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /--store-key-file <path> or CERTGATE_STORE_KEY \(openssl rand -base64 32/);
  });
});
