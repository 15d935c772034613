// The upstream and the proxies under test, each configured the same way: TLS on loopback with the
// bench's ECDSA P-256 certificate, a client certificate requested and any accepted, the certificate
// forwarded to the upstream in a header (with X-Forwarded-For/-Proto/-Host and a request id, as
// certgate sets them), keep-alive connections to the upstream, and one worker.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { BenchPki } from './pki.ts';
import { run, sleep, startService, type Service } from './system.ts';

export const APP_HOST = 'app.certgate-bench.test';
export const MODE_HOST = 'mode.certgate-bench.test';
export const PATCH_HOST = 'patch.certgate-bench.test';
export const BENCH_HOSTS = [APP_HOST, MODE_HOST, PATCH_HOST];

/** The upstream's answer; it also says whether it received a client-certificate header. */
export const UPSTREAM_BODY = 'hello from the upstream\n';

export interface ProxyContext {
  readonly pki: BenchPki;
  readonly dir: string;
  readonly port: number;
  readonly upstreamPort: number;
  /** CPUs the proxy is pinned to (undefined: not pinned). */
  readonly cpus: string | undefined;
  /** Worker processes or threads. */
  readonly workers: number;
  readonly log: (line: string) => void;
  /** certgate only: extra Node.js flags (the profiler's). */
  readonly nodeArgs?: readonly string[];
}

export interface RunningProxy {
  readonly name: string;
  readonly service: Service;
  /** Extra facts (certgate: management API endpoint and credentials). */
  readonly extra?: Record<string, unknown>;
  stop(): Promise<void>;
}

export interface ProxyDefinition {
  readonly name: string;
  /** The commands the proxy needs, and the Debian package that has each. */
  readonly needs: Readonly<Record<string, string>>;
  version(): Promise<string>;
  start(context: ProxyContext): Promise<RunningProxy>;
}

export async function waitForPort(port: number, timeoutMs: number, service?: Service): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (service && (service.child.exitCode !== null || service.child.signalCode !== null)) {
      throw new Error(`${service.name} exited: ${service.output().slice(-2000)}`);
    }
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms${service ? `: ${service.output().slice(-2000)}` : ''}`);
    await sleep(50);
  }
}

export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port }, () => server.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------------------------------------
// The upstream: nginx answering a fixed body, pinned with the load generator.

export async function startUpstream(dir: string, port: number, cpus: string | undefined): Promise<Service> {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'upstream.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${dir}/upstream.pid;
error_log ${dir}/upstream-error.log warn;
events { worker_connections 10000; }
http {
  access_log off;
  ${tempPaths(dir)}
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  default_type text/plain;
  map $http_x_forwarded_client_cert $xfcc { "" no; default yes; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      add_header x-xfcc $xfcc;
      return 200 "${UPSTREAM_BODY.replace('\n', '\\n')}";
    }
  }
}
`,
  );
  const service = startService('upstream', 'nginx', ['-c', conf, '-p', dir], { cpus });
  await waitForPort(port, 10_000, service);
  return service;
}

function tempPaths(dir: string): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `${kind}_temp_path ${dir}/${kind}-temp;`).join('\n  ');
}

// ---------------------------------------------------------------------------------------------

const nginx: ProxyDefinition = {
  name: 'nginx',
  needs: { nginx: 'nginx-light' },
  async version() {
    const result = await run('nginx', ['-v']);
    return result.stderr.trim().replace(/^nginx version:\s*/, '');
  },
  async start(context) {
    const dir = join(context.dir, 'nginx');
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      `daemon off;
master_process on;
worker_processes ${context.workers};
worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 10000; }
http {
  access_log off;
  ${tempPaths(dir)}
  keepalive_requests 1000000000;
  keepalive_timeout 120s;
  upstream app {
    server 127.0.0.1:${context.upstreamPort};
    keepalive 256;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:${context.port} ssl http2 backlog=4096;
    ssl_certificate ${context.pki.serverCert};
    ssl_certificate_key ${context.pki.serverKey};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_verify_client optional_no_ca;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Request-Id $request_id;
      proxy_set_header X-Forwarded-Client-Cert $ssl_client_escaped_cert;
    }
  }
}
`,
    );
    const service = startService('nginx', 'nginx', ['-c', conf, '-p', dir], { cpus: context.cpus });
    await waitForPort(context.port, 10_000, service);
    return { name: 'nginx', service, stop: () => service.stop() };
  },
};

const haproxy: ProxyDefinition = {
  name: 'haproxy',
  needs: { haproxy: 'haproxy' },
  async version() {
    const result = await run('haproxy', ['-v']);
    return /version (\S+)/i.exec(result.stdout)?.[1] ?? result.stdout.split('\n')[0]!.trim();
  },
  async start(context) {
    const dir = join(context.dir, 'haproxy');
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'haproxy.cfg');
    writeFileSync(
      conf,
      `global
  nbthread ${context.workers}
  maxconn 9000
  ssl-default-bind-options ssl-min-ver TLSv1.2

defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-request 20s
  timeout http-keep-alive 120s
  option http-keep-alive
  option forwardfor
  http-reuse always

frontend bench
  bind 127.0.0.1:${context.port} ssl crt ${context.pki.serverCombined} verify optional ca-file ${context.pki.caCert} crt-ignore-err all ca-ignore-err all alpn h2,http/1.1
  unique-id-format %[uuid()]
  http-request set-header X-Request-Id %[unique-id]
  http-request set-header X-Forwarded-Proto https
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request del-header X-Forwarded-Client-Cert
  http-request set-header X-Forwarded-Client-Cert %[ssl_c_der,base64] if { ssl_c_used }
  default_backend app

backend app
  server app 127.0.0.1:${context.upstreamPort}
`,
    );
    const service = startService('haproxy', 'haproxy', ['-f', conf, '-db'], { cpus: context.cpus });
    await waitForPort(context.port, 10_000, service);
    return { name: 'haproxy', service, stop: () => service.stop() };
  },
};

const caddy: ProxyDefinition = {
  name: 'caddy',
  needs: { caddy: 'caddy' },
  async version() {
    const result = await run('caddy', ['version']);
    return result.stdout.trim().split(/\s+/)[0] ?? '';
  },
  async start(context) {
    const dir = join(context.dir, 'caddy');
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'Caddyfile');
    writeFileSync(
      conf,
      `{
  admin off
  auto_https off
  log {
    level WARN
  }
  servers {
    strict_sni_host insecure_off
    protocols h1 h2
  }
}

https://:${context.port} {
  bind 127.0.0.1
  tls ${context.pki.serverCert} ${context.pki.serverKey} {
    client_auth {
      mode request
    }
  }
  reverse_proxy 127.0.0.1:${context.upstreamPort} {
    header_up X-Forwarded-Client-Cert {http.request.tls.client.certificate_der_base64}
    header_up X-Forwarded-Host {host}
    header_up X-Request-Id {http.request.uuid}
  }
}
`,
    );
    const env = {
      ...process.env,
      HOME: dir,
      XDG_DATA_HOME: join(dir, 'data'),
      XDG_CONFIG_HOME: join(dir, 'config'),
      GOMAXPROCS: String(context.workers),
    };
    const service = startService('caddy', 'caddy', ['run', '--config', conf, '--adapter', 'caddyfile'], { cpus: context.cpus, env });
    await waitForPort(context.port, 15_000, service);
    return { name: 'caddy', service, stop: () => service.stop() };
  },
};

// ---------------------------------------------------------------------------------------------
// certgate: `certgate serve` as a user runs it, configured through its management API.

const REPO = new URL('../../', import.meta.url).pathname;
const API = 'api-version=2025-01-01';

export interface CertgateApi {
  readonly endpoint: string;
  readonly caPem: string;
  readonly subscription: string;
  readonly appPath: (name: string) => string;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: any }>;
  close(): Promise<void>;
}

export async function certgateSupportsWorkers(): Promise<boolean> {
  const result = await run(process.execPath, [join(REPO, 'src/main.ts'), 'serve', '--help'], { cwd: REPO, timeoutMs: 30_000 });
  return result.stdout.includes('--workers');
}

const certgate: ProxyDefinition = {
  name: 'certgate',
  needs: {},
  async version() {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    const commit = await run('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']).catch(() => undefined);
    const dirty = await run('git', ['-C', REPO, 'status', '--porcelain', 'src']).catch(() => undefined);
    return `${pkg.version} (${commit?.stdout.trim() ?? '?'}${dirty?.stdout.trim() ? ', with uncommitted changes in src/' : ''}; Node ${process.version})`;
  },
  async start(context) {
    const dir = join(context.dir, `certgate-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    const managementPort = context.port + 2;
    const args = [
      ...(context.nodeArgs ?? []),
      join(REPO, 'src/main.ts'), 'serve',
      '--data-dir', dir,
      '--bind', '127.0.0.1',
      '--https-port', String(context.port),
      '--http-port', String(context.port + 1),
      '--management-port', String(managementPort),
    ];
    if (await certgateSupportsWorkers()) args.push('--workers', String(context.workers));
    else if (context.workers > 1) throw new Error('this certgate has no --workers');
    const service = startService('certgate', process.execPath, args, {
      cpus: context.cpus,
      cwd: REPO,
      env: { ...process.env, ...(context.workers > 1 ? {} : { CERTGATE_WORKERS: '1' }) },
    });
    await waitForPort(managementPort, 30_000, service);
    await waitForPort(context.port, 30_000, service);
    // The banner comes last, once the administrator's credentials are written.
    for (let waited = 0; !service.output().includes('certgate is running'); waited += 50) {
      if (waited > 30_000) throw new Error(`certgate did not start: ${service.output().slice(-2000)}`);
      await sleep(50);
    }
    const api = await certgateApi(dir);
    try {
      await configureCertgate(api, context);
    } catch (error) {
      await api.close();
      await service.stop();
      throw error;
    }
    return {
      name: 'certgate',
      service,
      extra: { api, dataDir: dir },
      async stop() {
        await api.close();
        await service.stop();
      },
    };
  },
};

async function certgateApi(dataDir: string): Promise<CertgateApi> {
  const { armClient } = await import('../../test/support/arm.ts');
  const credentials = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8'));
  const caPem = readFileSync(join(dataDir, 'ca', 'ca.pem'), 'utf8');
  const arm = await armClient(credentials, caPem);
  return {
    endpoint: arm.endpoint,
    caPem,
    subscription: arm.subscription,
    appPath: (name) => `/subscriptions/${arm.subscription}/resourceGroups/bench/providers/Microsoft.App/containerApps/${name}`,
    call: (method, path, body) => arm.call(method, path, body),
    close: () => arm.close(),
  };
}

async function configureCertgate(api: CertgateApi, context: ProxyContext): Promise<void> {
  const check = (result: { status: number; text: string }, what: string) => {
    if (result.status >= 300) throw new Error(`certgate: ${what} failed (${result.status}): ${result.text}`);
  };
  const group = `/subscriptions/${api.subscription}/resourceGroups/bench`;
  check(await api.call('PUT', `${group}?api-version=2021-04-01`, { location: 'local' }), 'resource group');
  const env = await api.call('PUT', `${group}/providers/Microsoft.App/managedEnvironments/bench?${API}`, { location: 'local', properties: {} });
  check(env, 'environment');
  const envId = env.json.id as string;
  const certificateId = `${envId}/certificates/bench`;
  const value = readFileSync(context.pki.serverP12).toString('base64');
  check(await api.call('PUT', `${certificateId}?${API}`, { location: 'local', properties: { value, password: context.pki.serverP12Password } }), 'certificate upload');
  for (const [name, host] of [['app', APP_HOST], ['mode', MODE_HOST], ['patch', PATCH_HOST]] as const) {
    const body = {
      location: 'local',
      properties: {
        managedEnvironmentId: envId,
        configuration: {
          ingress: {
            external: true,
            targetPort: context.upstreamPort,
            clientCertificateMode: 'accept',
            customDomains: [{ name: host, bindingType: 'SniEnabled', certificateId }],
          },
        },
        template: { containers: [{ name: 'main', image: 'bench/upstream:1' }] },
      },
    };
    check(await api.call('PUT', `${api.appPath(name)}?${API}`, body), `app ${name}`);
  }
}

export const PROXIES: readonly ProxyDefinition[] = [nginx, haproxy, caddy, certgate];

// A reference measured with the proxies: Node's HTTPS server answering by itself, with certgate's
// TLS settings. Not a proxy: it shows certgate's floor (bench/node-floor-server.ts).
const nodeFloor: ProxyDefinition = {
  name: 'node-floor',
  needs: {},
  async version() {
    return `Node ${process.version}, no proxying`;
  },
  async start(context) {
    const args = [
      ...(context.nodeArgs ?? []),
      `--openssl-config=${join(REPO, 'src/ingress/listener/openssl.cnf')}`,
      join(REPO, 'bench/node-floor-server.ts'),
      String(context.port),
      context.pki.serverCert,
      context.pki.serverKey,
    ];
    const service = startService('node-floor', process.execPath, args, { cpus: context.cpus, cwd: REPO });
    await waitForPort(context.port, 30_000, service);
    return { name: 'node-floor', service, stop: () => service.stop() };
  },
};

/** Every definition a run measures by default: the proxies, then the Node floor. */
export const ALL_DEFINITIONS: readonly ProxyDefinition[] = [...PROXIES, nodeFloor];
