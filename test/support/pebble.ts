// Pebble, the ACME test server (Debian's `pebble`), on loopback with free ports: its own TLS
// certificate made at test time, `pebble-challtestsrv` as its DNS server (every name resolves to
// 127.0.0.1; `addA` points one elsewhere), and HTTP-01 validations sent to `httpPort` (certgate's
// plain-HTTP port). Short-lived certificates (`validitySeconds`) make renewals testable.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { createCa, issueCertificate } from '../../src/pki/issue.ts';

export interface Pebble {
  /** The ACME directory URL. */
  readonly directoryUrl: string;
  /** The CA of Pebble's own TLS (for --acme-ca-file). */
  readonly tlsCaPem: string;
  /** The root Pebble issues certificates under (from its management endpoint /roots/0). */
  rootPem(): Promise<string>;
  /** Makes `host` resolve to `address` for Pebble's validations. */
  addA(host: string, address: string): Promise<void>;
  close(): Promise<void>;
}

export async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export async function startPebble(options: { httpPort: number; validitySeconds?: number }): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-pebble-'));
  const ca = await createCa({ commonName: 'pebble TLS test CA' });
  const tlsCert = await issueCertificate({ issuer: ca, commonName: 'localhost', kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  writeFileSync(join(dir, 'cert.pem'), tlsCert.certPem);
  writeFileSync(join(dir, 'key.pem'), tlsCert.keyPem, { mode: 0o600 });
  const [listenPort, managementPort, tlsPort, dnsPort, dnsManagementPort] = await Promise.all([freeTcpPort(), freeTcpPort(), freeTcpPort(), freeUdpPort(), freeTcpPort()]);
  writeFileSync(
    join(dir, 'pebble-config.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listenPort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort: options.httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
      },
    }),
  );
  const children: ChildProcess[] = [];
  const output: string[] = [];
  const start = (command: string, args: string[], env: Record<string, string> = {}) => {
    const child = spawn(command, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.length > 200) output.shift();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    children.push(child);
    return child;
  };
  start('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagementPort}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '']);
  // No random sleeps before validations, no rejected nonces, and a fresh authorization per order (a renewal is validated again).
  start('pebble', ['-config', join(dir, 'pebble-config.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' });
  const dispatcher = new Agent({ connect: { ca: ca.certPem } });
  const directoryUrl = `https://127.0.0.1:${listenPort}/dir`;
  const close = async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
    await dispatcher.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const response = await request(directoryUrl, { dispatcher });
      await response.body.text();
      const dns = await request(`http://127.0.0.1:${dnsManagementPort}/clear-request-history`, { method: 'POST', body: '{"host":"x","type":"DNS"}' }).catch(() => undefined);
      await dns?.body.text();
      if (response.statusCode === 200 && dns) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`pebble did not start: ${output.join('')}`);
    }
    await sleep(100);
  }
  return {
    directoryUrl,
    tlsCaPem: ca.certPem,
    async rootPem() {
      const response = await request(`https://127.0.0.1:${managementPort}/roots/0`, { dispatcher });
      return response.body.text();
    },
    async addA(host, address) {
      const response = await request(`http://127.0.0.1:${dnsManagementPort}/add-a`, { method: 'POST', body: JSON.stringify({ host: host.endsWith('.') ? host : `${host}.`, addresses: [address] }) });
      await response.body.text();
      if (response.statusCode !== 200) throw new Error(`challtestsrv add-a: ${response.statusCode}`);
    },
    close,
  };
}
