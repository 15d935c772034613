// The example apps behind a real certgate: curl presents client certificates to the ingress, the
// ingress forwards X-Forwarded-Client-Cert, and each example, under each framework's middleware,
// admits or refuses. Plus requests that bypass certgate, and resumed TLS sessions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startThumbprintApp } from '../examples/by-thumbprint.ts';
import { FRAMEWORKS } from '../examples/frameworks.ts';
import type { Framework, RunningApp } from '../examples/frameworks.ts';
import { startPrivateCaApp } from '../examples/private-ca.ts';
import { formatXfcc } from '../src/xfcc/index.ts';
import { curl, curlResult, run } from './support/clients.ts';
import { startTestGateway } from './support/gateway.ts';
import type { TestGateway } from './support/gateway.ts';
import { makeTestPki } from './support/pki.ts';
import type { TestPki } from './support/pki.ts';

const EXAMPLES = ['thumbprint', 'private-ca'] as const;
type Example = (typeof EXAMPLES)[number];

let gw: TestGateway;
let pki: TestPki;
let caFile: string;
/** The test's keys and certificates: removed after. */
let dir: string | undefined;
const apps: RunningApp[] = [];
const hosts = new Map<string, string>();
const ports = new Map<string, number>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-app-library-'));
  pki = await makeTestPki(dir);
  gw = await startTestGateway();
  caFile = join(dir, 'gateway-ca.pem');
  writeFileSync(caFile, gw.caPem);
  await gw.createEnvironment('apps');
  // The ingress connects to apps from 127.0.0.1: that address alone may send the header.
  const trustedProxies = ['127.0.0.1'];
  for (const framework of FRAMEWORKS) {
    const started: Record<Example, RunningApp> = {
      thumbprint: await startThumbprintApp({ framework, trustedProxies, thumbprints: [pki.selfSigned.thumbprint.toUpperCase().match(/../g)!.join(':')] }),
      'private-ca': await startPrivateCaApp({ framework, trustedProxies, caPem: pki.root.issued.certPem }),
    };
    for (const example of EXAMPLES) {
      const app = started[example];
      apps.push(app);
      const name = `${example}-${framework}`;
      ports.set(name, app.port);
      // accept: a client without a certificate reaches the app, which answers 401.
      hosts.set(name, await gw.putApp(name, 'apps', { targetPort: app.port, clientCertificateMode: 'accept' }));
    }
  }
});

after(async () => {
  await gw?.close();
  await Promise.all(apps.map((app) => app.close()));
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function request(example: Example, framework: Framework, client?: { cert: string; key: string }) {
  const result = await curl({ host: hosts.get(`${example}-${framework}`)!, port: gw.httpsPort, caFile, cert: client?.cert, key: client?.key });
  assert.equal(result.code, 0, result.stderr);
  const { status, body } = curlResult(result);
  return { status, json: JSON.parse(body) as Record<string, unknown> };
}

for (const framework of FRAMEWORKS) {
  describe(`by-thumbprint example, ${framework}`, () => {
    test('admits the listed self-signed certificate with its identity', async () => {
      const { status, json } = await request('thumbprint', framework, { cert: pki.selfSigned.certPath, key: pki.selfSigned.keyPath });
      assert.equal(status, 200);
      assert.equal(json['thumbprint'], pki.selfSigned.thumbprint);
      assert.equal(json['subject'], 'CN=test self-signed client');
      assert.equal(json['source'], 'xfcc');
    });

    test('refuses a certificate not on the list, even one a real CA issued', async () => {
      const { status, json } = await request('thumbprint', framework, { cert: pki.client.chainPath, key: pki.client.keyPath });
      assert.equal(status, 403);
      assert.equal(json['error'], 'THUMBPRINT_NOT_ALLOWED');
    });

    test('answers 401 without a certificate', async () => {
      const { status, json } = await request('thumbprint', framework);
      assert.equal(status, 401);
      assert.equal(json['error'], 'CERT_MISSING');
    });
  });

  describe(`private-ca example, ${framework}`, () => {
    test('admits a client of the CA that sends its intermediate', async () => {
      const { status, json } = await request('private-ca', framework, { cert: pki.client.chainPath, key: pki.client.keyPath });
      assert.equal(status, 200);
      assert.equal(json['thumbprint'], pki.client.thumbprint);
      assert.deepEqual(
        (json['path'] as { subject: string }[]).map((entry) => entry.subject),
        ['CN=test client', 'CN=certgate test intermediate CA', 'CN=certgate test root CA'],
      );
    });

    test('admits a client the root issued directly', async () => {
      const { status, json } = await request('private-ca', framework, { cert: pki.clientDirect.certPath, key: pki.clientDirect.keyPath });
      assert.equal(status, 200);
      assert.equal(json['subject'], 'CN=test client (issued by root)');
    });

    test('refuses a self-signed certificate', async () => {
      const { status, json } = await request('private-ca', framework, { cert: pki.selfSigned.certPath, key: pki.selfSigned.keyPath });
      assert.equal(status, 403);
      assert.equal(json['error'], 'UNTRUSTED_ISSUER');
    });

    test('refuses an expired certificate of the CA', async () => {
      const { status, json } = await request('private-ca', framework, { cert: pki.expired.certPath, key: pki.expired.keyPath });
      assert.equal(status, 403);
      assert.equal(json['error'], 'CERT_EXPIRED');
    });

    test('refuses a leaf without its intermediate (no known intermediates configured)', async () => {
      const { status, json } = await request('private-ca', framework, { cert: pki.client.certPath, key: pki.client.keyPath });
      assert.equal(status, 403);
      assert.equal(json['error'], 'UNTRUSTED_ISSUER');
    });

    test('answers 401 without a certificate', async () => {
      const { status, json } = await request('private-ca', framework);
      assert.equal(status, 401);
      assert.equal(json['error'], 'CERT_MISSING');
    });
  });

  describe(`bypassing certgate, ${framework}`, () => {
    // What an attacker who reaches the app directly sends: a valid header for a real, admitted
    // certificate (public data), from an address that is not the ingress's.
    const forged = {
      thumbprint: () => formatXfcc([pki.selfSigned.issued.certificate.raw]),
      'private-ca': () => formatXfcc([pki.client.issued.certificate.raw, pki.intermediate.issued.certificate.raw]),
    };
    for (const example of EXAMPLES) {
      test(`${example}: a forged header from another address is refused with 403`, async () => {
        const result = await direct(ports.get(`${example}-${framework}`)!, [`X-Forwarded-Client-Cert: ${forged[example]()}`]);
        assert.equal(result.status, 403);
        assert.equal(result.json['error'], 'UNTRUSTED_PROXY');
      });

      test(`${example}: a request from another address without the header is unauthenticated (401)`, async () => {
        const result = await direct(ports.get(`${example}-${framework}`)!, []);
        assert.equal(result.status, 401);
        assert.equal(result.json['error'], 'CERT_MISSING');
      });
    }
  });
}

/** Plain HTTP straight to the app, from 127.0.0.2 (Linux routes all of 127/8 to loopback). */
async function direct(port: number, headers: string[]) {
  const args = ['-sS', '--max-time', '10', '--interface', '127.0.0.2', '-w', '\n%{http_code}'];
  for (const header of headers) args.push('-H', header);
  const result = await run('curl', [...args, `http://127.0.0.1:${port}/`]);
  assert.equal(result.code, 0, result.stderr);
  const newline = result.stdout.lastIndexOf('\n');
  return { status: Number(result.stdout.slice(newline + 1)), json: JSON.parse(result.stdout.slice(0, newline)) as Record<string, unknown> };
}

describe('resumed TLS sessions (Chain holds the leaf alone)', () => {
  // curl resumes the TLS 1.3 session of its first connection on the second (HTTP/1.1 with
  // Connection: close forces a second connection): certgate then forwards the session's leaf alone.
  async function twoConnections(host: string): Promise<{ statuses: number[]; bodies: Record<string, unknown>[] }> {
    const url = `https://${host}:${gw.httpsPort}/`;
    const result = await run('curl', [
      '-sS', '--max-time', '15', '--resolve', `${host}:${gw.httpsPort}:127.0.0.1`, '--cacert', caFile,
      '--cert', pki.client.chainPath, '--key', pki.client.keyPath, '--tlsv1.3', '--http1.1', '-H', 'Connection: close',
      '-w', '\n%{http_code}\n', url, url,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    return { statuses: [Number(lines[1]), Number(lines[3])], bodies: [JSON.parse(lines[0]!), JSON.parse(lines[2]!)] };
  }

  test('a leaf whose intermediate is configured as known verifies on the resumed connection too', async () => {
    const app = await startPrivateCaApp({
      framework: 'node',
      trustedProxies: ['127.0.0.1'],
      caPem: pki.root.issued.certPem,
      intermediatesPem: pki.intermediate.issued.certPem,
    });
    try {
      const host = await gw.putApp('resumed-known', 'apps', { targetPort: app.port, clientCertificateMode: 'require' });
      const { statuses, bodies } = await twoConnections(host);
      assert.deepEqual(statuses, [200, 200]);
      for (const body of bodies) {
        assert.equal(body['thumbprint'], pki.client.thumbprint);
        assert.equal((body['path'] as unknown[]).length, 3);
      }
    } finally {
      await app.close();
    }
  });

  test('without known intermediates the resumed connection is refused: the chain is incomplete', async () => {
    const host = hosts.get('private-ca-node')!;
    const { statuses, bodies } = await twoConnections(host);
    assert.deepEqual(statuses, [200, 403]);
    assert.equal(bodies[1]!['error'], 'UNTRUSTED_ISSUER');
  });
});
