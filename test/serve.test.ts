// `certgate serve` as users run it: the real CLI in a child process (directly and through
// `npm start` with CERTGATE_* variables), its startup banner, a request to the ports it names,
// a graceful SIGTERM with requests in flight, and bad flag values.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { curl, curlHttp, curlResult, run } from './support/clients.ts';
import { freePorts } from './support/ports.ts';
import { certgate } from './support/cli.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import { appDocument, environmentDocument } from '../src/model/documents.ts';

const ROOT = resolve(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const MAIN = join(ROOT, 'src', 'main.ts');
const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';

const started = new Set<ChildProcess>();
const dirs: string[] = [];

after(() => {
  // Only the processes these tests started, by their id (a whole group for npm).
  for (const child of started) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    try {
      process.kill(child.spawnargs[0] === 'npm' ? -child.pid : child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  dirs.push(dir);
  return dir;
}

/**
 * The environment without anything that would change how serve runs (CERTGATE_*, the test runner's).
 * One ingress process per server: these tests start several servers at once on two cores, and
 * test/serve-workers.test.ts covers the worker pool.
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('CERTGATE_') || name.startsWith('NODE_TEST') || name === 'NODE_OPTIONS') continue;
    env[name] = value;
  }
  return { ...env, CERTGATE_WORKERS: '1', ...extra };
}

interface Serve {
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  httpsPort: number;
  httpPort: number;
  dataDir: string;
  caPath: string;
}

/** Starts a process and waits for serve's banner (the CA line is its last line). */
async function startServe(command: string, args: string[], env: NodeJS.ProcessEnv, options: { detached?: boolean } = {}): Promise<Serve> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
  started.add(child);
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  // 'close': the process exited and its stdio closed, i.e. every process holding the pipes (npm's
  // shell and serve too) is gone.
  const exited = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const banner = await Promise.race([
    new Promise<string>((resolveBanner) => {
      const check = () => {
        if (/CA certificate: .*\n/.test(stderr)) {
          child.stderr!.off('data', check);
          resolveBanner(stderr);
        }
      };
      child.stderr!.on('data', check);
      check();
    }),
    exited.then(({ code, signal }) => {
      throw new Error(`serve exited (${code ?? signal}) before it was ready:\n${stderr}\n${stdout}`);
    }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`serve not ready after 60 s:\n${stderr}`)), 60_000).unref()),
  ]).catch((error: unknown) => {
    // Never leave a server behind: it would keep this test file (and the suite) from ending.
    if (child.pid !== undefined && child.exitCode === null) process.kill(options.detached ? -child.pid : child.pid, 'SIGKILL');
    throw error;
  });
  const httpsPort = Number(/HTTPS ingress: +https:\/\/127\.0\.0\.1:(\d+) /.exec(banner)?.[1]);
  const httpPort = Number(/HTTP: +http:\/\/127\.0\.0\.1:(\d+) /.exec(banner)?.[1]);
  const dataDir = /data dir: +(.+)\n/.exec(banner)?.[1] ?? '';
  const caPath = /CA certificate: +(\S+)/.exec(banner)?.[1] ?? '';
  return { child, stderr: () => stderr, stdout: () => stdout, exited, httpsPort, httpPort, dataDir, caPath };
}


function connectOutcome(port: number): Promise<'connected' | string> {
  return new Promise((resolveOutcome) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolveOutcome('connected');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolveOutcome(error.code ?? error.message));
  });
}

/** A request without SNI (curl sends none for an IP address): the ingress answers 404 naming the host. */
async function assertNoSniGets404(port: number): Promise<void> {
  const result = await curl({ host: '127.0.0.1', port, extra: ['-k'] });
  assert.equal(result.code, 0, result.stderr);
  const { status, body } = curlResult(result);
  assert.equal(status, 404);
  assert.match(body, /no app is served at 127\.0\.0\.1/);
}

/** One request on a TLS 1.3 connection (no SNI); counts the session tickets that arrived with it. */
async function ticketsAndCipher(port: number): Promise<{ tickets: number; cipher: string; status: number }> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
  let tickets = 0;
  socket.on('session', () => tickets++);
  await once(socket, 'secureConnect');
  const cipher = socket.getCipher().standardName;
  socket.end('GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n');
  let response = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => (response += chunk));
  await once(socket, 'close');
  return { tickets, cipher, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]) };
}

async function stop(serve: Serve, pid = serve.child.pid!): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  process.kill(pid, 'SIGTERM');
  return Promise.race([
    serve.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('serve did not exit within 5 s of SIGTERM')), 5_000).unref()),
  ]);
}

// Four at a time: each serve start costs about 2 s of CPU (Node 24, the re-exec, the CA), and a
// dozen at once on two cores would miss the start-up deadline.
describe('certgate serve', { concurrency: 4 }, () => {
  test('the banner names the ports, the data dir and the CA; the ports answer', async () => {
    const dataDir = tempDir('certgate-serve-');
    const serve = await startServe(
      NODE,
      [MAIN, 'serve', '--data-dir', dataDir, '--https-port', '0', '--http-port', '0', '--management-port', '0', '--domain', 'certgate.localhost'],
      cleanEnv(),
    );
    try {
      assert.ok(serve.httpsPort > 0, serve.stderr());
      assert.ok(serve.httpPort > 0, serve.stderr());
      assert.notEqual(serve.httpsPort, serve.httpPort);
      assert.match(serve.stderr(), /apps at https:\/\/<app>\.<environment>\.certgate\.localhost:\d+/);
      assert.equal(serve.dataDir, dataDir);
      assert.equal(serve.caPath, join(dataDir, 'ca', 'ca.pem'));
      assert.ok(existsSync(serve.caPath), 'the CA file exists');
      assert.match(readFileSync(serve.caPath, 'utf8'), /^-----BEGIN CERTIFICATE-----/);
      assert.doesNotMatch(serve.stderr(), /\n\s+at /, 'no stack trace');
      assert.doesNotMatch(serve.stderr(), /WARNING/, 'loopback binds: no warning');
      assert.match(serve.stderr(), /internal HTTPS: https:\/\/127\.0\.0\.1:\d+ /);

      await assertNoSniGets404(serve.httpsPort);
      // The default certificate chains to the CA the banner names (no -k).
      const verified = await curl({ host: 'localhost', port: serve.httpsPort, caFile: serve.caPath });
      assert.equal(verified.code, 0, verified.stderr);
      assert.equal(curlResult(verified).status, 404);
      assert.match(curlResult(verified).body, /no app is served at localhost/);
      // The plain-HTTP port.
      const plain = await curlHttp({ host: 'unknown.certgate.localhost', port: serve.httpPort });
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(curlResult(plain).status, 404);
      assert.match(curlResult(plain).body, /unknown\.certgate\.localhost/);
    } finally {
      const { code } = await stop(serve);
      assert.equal(code, 0, serve.stderr());
    }
  });

  test("TLS 1.3: one session ticket per full handshake and AES-128-GCM preferred; an operator's OPENSSL_CONF is respected", async () => {
    const operatorConfig = join(tempDir('certgate-openssl-'), 'openssl.cnf');
    writeFileSync(operatorConfig, '# an operator configuration that sets nothing\n');
    const start = (extra: Record<string, string>) =>
      startServe(NODE, [MAIN, 'serve', '--data-dir', tempDir('certgate-tickets-'), '--https-port', '0', '--http-port', '0', '--management-port', '0'], cleanEnv(extra));
    const [certgateConfig, operator] = await Promise.all([start({}), start({ OPENSSL_CONF: operatorConfig })]);
    try {
      const ours = await ticketsAndCipher(certgateConfig.httpsPort);
      assert.deepEqual(ours, { tickets: 1, cipher: 'TLS_AES_128_GCM_SHA256', status: 404 });
      // The pid is the one the shell started (the re-exec replaced the process in place).
      assert.equal(realpathSync(`/proc/${certgateConfig.child.pid}/exe`), realpathSync(NODE));
      // OpenSSL's defaults (two tickets) under the operator's own configuration; the server's
      // cipher order is certgate's own, set per context, so it holds either way.
      assert.deepEqual(await ticketsAndCipher(operator.httpsPort), { tickets: 2, cipher: 'TLS_AES_128_GCM_SHA256', status: 404 });
    } finally {
      await Promise.all([stop(certgateConfig), stop(operator)]);
    }
  });

  test('npm start with CERTGATE_DATA_DIR, CERTGATE_HTTPS_PORT and CERTGATE_HTTP_PORT', async () => {
    const dataDir = join(tempDir('certgate-npm-'), 'data');
    const [httpsPort, httpPort] = (await freePorts(2)) as [number, number];
    const serve = await startServe(
      'npm',
      ['start'],
      cleanEnv({ CERTGATE_DATA_DIR: dataDir, CERTGATE_HTTPS_PORT: String(httpsPort), CERTGATE_HTTP_PORT: String(httpPort), CERTGATE_MANAGEMENT_PORT: '0', CERTGATE_INTERNAL_HTTPS_PORT: '0', CERTGATE_INTERNAL_HTTP_PORT: '0', CERTGATE_ADMIN_PORT: '0' }),
      { detached: true },
    );
    try {
      assert.equal(serve.httpsPort, httpsPort, serve.stderr());
      assert.equal(serve.httpPort, httpPort, serve.stderr());
      assert.match(serve.stderr(), /internal HTTPS: https:\/\/127\.0\.0\.1:\d+ /, 'CERTGATE_INTERNAL_HTTPS_PORT=0: a free port');
      assert.doesNotMatch(serve.stderr(), /internal HTTPS: https:\/\/127\.0\.0\.1:8444 /);
      assert.equal(serve.dataDir, dataDir);
      assert.equal(serve.caPath, join(dataDir, 'ca', 'ca.pem'));
      assert.ok(existsSync(serve.caPath), 'the CA file exists');
      assert.ok(existsSync(join(dataDir, 'certgate.db')), 'the store is in the data dir');
      await assertNoSniGets404(httpsPort);
    } finally {
      // npm runs serve through a shell: signal the whole process group this test started.
      const { code, signal } = await stop(serve, -serve.child.pid!);
      // npm re-raises the signal it got; serve (its child, which held the same pipes until it
      // exited) logged its graceful stop and no failure.
      assert.ok(code === 0 || signal === 'SIGTERM', `npm exited with ${code ?? signal}:\n${serve.stderr()}`);
      assert.match(serve.stdout(), /stopping: no new connections/);
      assert.doesNotMatch(serve.stdout(), /unclean stop/);
    }
    assert.equal(await connectOutcome(httpsPort), 'ECONNREFUSED', 'serve itself has stopped');
  });

  test('SIGTERM: in-flight requests complete, new connections are refused, exit 0', async () => {
    // The app answers each request 500 ms after it arrives.
    const arrived: string[] = [];
    let onArrival: (() => void) | undefined;
    const app = http.createServer((req, res) => {
      arrived.push(req.url ?? '');
      onArrival?.();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`slow answer for ${req.url}`);
      }, 500);
    });
    await new Promise<void>((done) => app.listen(0, '127.0.0.1', done));
    const appPort = (app.address() as net.AddressInfo).port;

    // The serve process owns the store and only hears its own writes: configure the app first.
    const dataDir = tempDir('certgate-sigterm-');
    const store = new SqliteStore(join(dataDir, 'certgate.db'));
    try {
      const environment = await store.put(
        environmentDocument({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg', name: 'env1', defaultDomain: 'env1.certgate.localhost' }),
      );
      await store.put(
        appDocument({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg', name: 'slow', environmentId: environment.resource.id, ingress: { targetPort: appPort } }),
      );
    } finally {
      await store.close();
    }
    const host = 'slow.env1.certgate.localhost';

    const serve = await startServe(NODE, [MAIN, 'serve', '--data-dir', dataDir, '--https-port', '0', '--http-port', '0', '--management-port', '0'], cleanEnv());
    let session: http2.ClientHttp2Session | undefined;
    try {
      const bothArrived = new Promise<void>((done) => {
        onArrival = () => {
          if (arrived.length >= 2) done();
        };
      });
      // One HTTP/1.1 request (curl) and one HTTP/2 stream (Node) in flight.
      const h1 = curl({ host, port: serve.httpsPort, caFile: serve.caPath, http: '1.1', path: '/h1' });
      session = http2.connect(`https://${host}:${serve.httpsPort}`, { host: '127.0.0.1', servername: host, ca: readFileSync(serve.caPath) });
      session.on('error', () => {});
      const h2 = new Promise<{ status: number; body: string }>((done, fail) => {
        const stream = session!.request({ ':path': '/h2' });
        let status = 0;
        let body = '';
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
        stream.on('end', () => done({ status, body }));
        stream.on('error', fail);
      });
      await bothArrived;

      const signalled = Date.now();
      process.kill(serve.child.pid!, 'SIGTERM');
      let refusedAfter: number | undefined;
      while (Date.now() - signalled < 400) {
        if ((await connectOutcome(serve.httpsPort)) === 'ECONNREFUSED') {
          refusedAfter = Date.now() - signalled;
          break;
        }
        await new Promise((done) => setTimeout(done, 10));
      }
      assert.ok(refusedAfter !== undefined, 'new HTTPS connections are refused while requests are still in flight');
      assert.equal(await connectOutcome(serve.httpPort), 'ECONNREFUSED', 'the plain-HTTP port is closed too');

      const h1Result = await h1;
      assert.equal(h1Result.code, 0, h1Result.stderr);
      assert.deepEqual(curlResult(h1Result), { status: 200, httpVersion: '1.1', body: 'slow answer for /h1' });
      assert.deepEqual(await h2, { status: 200, body: 'slow answer for /h2' });
      const { code, signal } = await Promise.race([
        serve.exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('serve did not exit within 5 s of SIGTERM')), 5_000).unref()),
      ]);
      assert.equal(signal, null);
      assert.equal(code, 0, serve.stderr());
      assert.doesNotMatch(serve.stderr(), /\n\s+at /, 'no stack trace');
      assert.match(serve.stdout(), /stopping: no new connections/);
    } finally {
      session?.destroy();
      await new Promise<void>((done) => {
        app.closeAllConnections();
        app.close(() => done());
      });
    }
  });

  test('binding beyond loopback under certgate.localhost: a warning that says how to choose a domain', async (t) => {
    // Each server runs in a network namespace of its own (only a loopback there), so 0.0.0.0 exposes nothing.
    if ((await run('unshare', ['-n', 'true'])).code !== 0) {
      t.skip('network namespaces are not available');
      return;
    }
    const inNamespace = (args: string[]) =>
      startServe('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', NODE, MAIN, 'serve', '--data-dir', tempDir('certgate-bind-'), '--https-port', '0', '--http-port', '0', '--management-port', '0', ...args], cleanEnv());
    const [open, internal, named] = await Promise.all([
      inNamespace(['--bind', '0.0.0.0']),
      inNamespace(['--internal-bind', '::']),
      inNamespace(['--bind', '0.0.0.0', '--domain', 'apps.example.test']),
    ]);
    try {
      assert.match(open.stderr(), /WARNING: --bind 0\.0\.0\.0 listens beyond this machine, but apps are named under certgate\.localhost/);
      assert.match(open.stderr(), /--domain apps\.example\.com \(or CERTGATE_DOMAIN\)/);
      assert.match(internal.stderr(), /WARNING: --internal-bind :: listens beyond this machine/);
      assert.doesNotMatch(named.stderr(), /WARNING/, 'a domain of its own: no warning');
    } finally {
      await Promise.all([stop(open), stop(internal), stop(named)]);
    }
  });

  test('--proxy-protocol https --proxy-protocol-from 127.0.0.1: a connection must start with a PROXY header', async () => {
    const serve = await startServe(
      NODE,
      [MAIN, 'serve', '--data-dir', tempDir('certgate-proxy-'), '--https-port', '0', '--http-port', '0', '--management-port', '0', '--proxy-protocol', 'https', '--proxy-protocol-from', '127.0.0.1'],
      cleanEnv(),
    );
    try {
      assert.match(serve.stderr(), /PROXY protocol: on https, from 127\.0\.0\.1 only/);
      // A bare TLS client: closed before TLS, no answer at all.
      const bare = await curl({ host: '127.0.0.1', port: serve.httpsPort, extra: ['-k'] });
      assert.notEqual(bare.code, 0, 'no answer without a header');
      // With a header: the ingress speaks TLS after it (no SNI here: 404 naming the host).
      const raw = net.connect({ host: '127.0.0.1', port: serve.httpsPort });
      await once(raw, 'connect');
      raw.write('PROXY TCP4 192.0.2.1 127.0.0.1 5000 443\r\n');
      const socket = tls.connect({ socket: raw, rejectUnauthorized: false });
      await once(socket, 'secureConnect');
      socket.end('GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n');
      let response = '';
      socket.setEncoding('latin1').on('data', (chunk: string) => (response += chunk));
      await once(socket, 'close');
      assert.match(response, /^HTTP\/1\.1 404 /);
      // The plain-HTTP port was not listed: it takes no header.
      const plain = await curlHttp({ host: 'unknown.certgate.localhost', port: serve.httpPort });
      assert.equal(curlResult(plain).status, 404);
    } finally {
      await stop(serve);
    }
  });

  test('limit flags reach the ingress: --headers-timeout 700ms cuts trickled headers with 408 on both ports; CERTGATE_H2_MAX_CONCURRENT_STREAMS is advertised', async () => {
    const serve = await startServe(
      NODE,
      [MAIN, 'serve', '--data-dir', tempDir('certgate-limits-'), '--https-port', '0', '--http-port', '0', '--management-port', '0', '--headers-timeout', '700ms'],
      cleanEnv({ CERTGATE_H2_MAX_CONCURRENT_STREAMS: '7' }),
    );
    try {
      /** Sends a header line every 100 ms and never ends the head; resolves with the answer and when it came. */
      const trickle = async (socket: net.Socket | tls.TLSSocket) => {
        const began = performance.now();
        let answer = '';
        socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
        socket.on('error', () => {});
        socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
        const timer = setInterval(() => socket.writable && socket.write('x-slow: 1\r\n'), 100);
        await Promise.race([once(socket, 'close'), new Promise((done) => setTimeout(done, 10_000))]);
        clearInterval(timer);
        socket.destroy();
        return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0), ms: performance.now() - began };
      };
      const tlsSocket = tls.connect({ host: '127.0.0.1', port: serve.httpsPort, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
      await once(tlsSocket, 'secureConnect');
      const plainSocket = net.connect({ host: '127.0.0.1', port: serve.httpPort });
      await once(plainSocket, 'connect');
      const [overTls, overPlain] = await Promise.all([trickle(tlsSocket), trickle(plainSocket)]);
      for (const [label, result] of [['HTTPS', overTls], ['HTTP', overPlain]] as const) {
        assert.equal(result.status, 408, `${label}: ${JSON.stringify(result)}`);
        // 700 ms, checked every 700 ms: at most ~1.4 s (the default would be 20 s).
        assert.ok(result.ms < 3_000, `${label}: 408 after ${Math.round(result.ms)} ms`);
      }
      // The HTTP/2 bound from the environment variable, in the server's SETTINGS.
      const session = http2.connect(`https://127.0.0.1:${serve.httpsPort}`, { rejectUnauthorized: false });
      session.on('error', () => {});
      const [settings] = (await once(session, 'remoteSettings')) as [http2.Settings];
      session.destroy();
      assert.equal(settings.maxConcurrentStreams, 7);
    } finally {
      await stop(serve);
    }
  });

  describe('bad flag values: a one-line error, a non-zero exit, no stack trace', { concurrency: true }, () => {
    const cases: [string, string[], RegExp][] = [
      ['--https-port abc', ['--https-port', 'abc'], /--https-port.*'abc' is invalid/],
      ['--http-port 70000', ['--http-port', '70000'], /--http-port.*'70000' is invalid/],
      ['--domain "bad domain"', ['--domain', 'bad domain'], /--domain.*is invalid/],
      ['--log-level loud', ['--log-level', 'loud'], /--log-level.*'loud' is invalid/],
      ['an unknown option', ['--bogus'], /unknown option '--bogus'/],
      ['--proxy-protocol without --proxy-protocol-from', ['--proxy-protocol', 'https'], /--proxy-protocol' needs '--proxy-protocol-from/],
      ['--proxy-protocol with an unknown listener', ['--proxy-protocol', 'https,tls', '--proxy-protocol-from', '127.0.0.1'], /'tls' is not one of https, http, internal/],
      ['--proxy-protocol-from with a bad range', ['--proxy-protocol', 'https', '--proxy-protocol-from', '10.0.0.0/40'], /'10\.0\.0\.0\/40' is not an IPv4 or IPv6/],
      ['--internal-https-port abc', ['--internal-https-port', 'abc'], /--internal-https-port.*'abc' is invalid/],
      ['--headers-timeout 0', ['--headers-timeout', '0'], /--headers-timeout <duration>' argument '0' is invalid\. expected a duration from 1ms to 24h/],
      ['--upstream-max-connections-per-client above --upstream-max-connections', ['--upstream-max-connections', '4', '--upstream-max-connections-per-client', '8'], /'--upstream-max-connections-per-client' \(8\) cannot exceed '--upstream-max-connections' \(4\)/],
    ];
    for (const [label, args, expected] of cases) {
      test(label, async () => {
        const dataDir = tempDir('certgate-badflag-');
        const result = await run(NODE, [MAIN, 'serve', '--data-dir', dataDir, '--management-port', '0', ...args], undefined, 30_000);
        assert.equal(result.code, 2, 'a usage error, as az exits');
        const lines = result.stderr.trimEnd().split('\n');
        assert.ok(lines.length <= 2, `the error and a hint to --help: ${result.stderr}`);
        assert.match(lines[0]!, /^ERROR: /);
        if (lines[1] !== undefined) assert.match(lines[1], /^Try 'certgate serve --help'/);
        assert.match(lines[0]!, expected);
        assert.doesNotMatch(result.stderr, /\bat .*\.(ts|js):\d+/, 'no stack trace');
        assert.equal(result.stdout, '');
      });
    }

    test('a bad limit in an environment variable: the error names the variable', async () => {
      const result = await certgate(['serve', '--data-dir', tempDir('certgate-badenv-'), '--management-port', '0'], { env: { CERTGATE_UPSTREAM_QUEUE_TIMEOUT: 'soon' } });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^ERROR: option '--upstream-queue-timeout <duration>' value 'soon' from env 'CERTGATE_UPSTREAM_QUEUE_TIMEOUT' is invalid\. expected a duration/);
    });

    test('a port already in use: a one-line error, exit 1', async () => {
      const blocker = net.createServer();
      await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
      const busy = (blocker.address() as net.AddressInfo).port;
      try {
        const dataDir = tempDir('certgate-busy-');
        const result = await run(NODE, [MAIN, 'serve', '--data-dir', dataDir, '--https-port', String(busy), '--http-port', '0', '--management-port', '0'], undefined, 30_000);
        assert.equal(result.code, 1);
        const lines = result.stderr.trimEnd().split('\n');
        assert.equal(lines.length, 1, `one line: ${result.stderr}`);
        assert.match(lines[0]!, /^ERROR: the HTTPS ingress port 127\.0\.0\.1:\d+ is in use .*--https-port <port> or CERTGATE_HTTPS_PORT=<port>/);
        assert.doesNotMatch(result.stderr, /\bat .*\.(ts|js):\d+/, 'no stack trace');
      } finally {
        await new Promise<void>((done) => blocker.close(() => done()));
      }
    });
  });
});
