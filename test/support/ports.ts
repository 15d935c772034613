// Free TCP ports on loopback, for servers a test starts with fixed ports (a child process, HAProxy).
import net from 'node:net';

/** Free ports: bound on port 0 by the OS, then released for the test's server to take. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = net.createServer();
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      return server;
    }),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise<void>((done) => server.close(() => done()))));
  return ports;
}

/**
 * `certgate serve` on free ports, as CERTGATE_* variables (one process, internal listener on any
 * port), for tests that start it as an operator would, by its environment; plus the app's port.
 */
export async function serveOnFreePorts(extra: Record<string, string>): Promise<{ env: Record<string, string>; https: number; app: number }> {
  const [https, http, management, app] = (await freePorts(4)) as [number, number, number, number];
  const env = {
    CERTGATE_HTTPS_PORT: String(https),
    CERTGATE_HTTP_PORT: String(http),
    CERTGATE_MANAGEMENT_PORT: String(management),
    CERTGATE_INTERNAL_HTTPS_PORT: '0',
    CERTGATE_INTERNAL_HTTP_PORT: '0',
    // The admin listener's default port (9464) too: other gateways of the suite run at the same time.
    CERTGATE_ADMIN_PORT: '0',
    CERTGATE_WORKERS: '1',
    ...extra,
  };
  return { env, https, app };
}
