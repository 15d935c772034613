import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, createServer } from 'node:tls';
import type { ConnectionOptions, Server, TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { makeTestPki } from '../../test/support/pki.ts';
import type { TestPki } from '../../test/support/pki.ts';
import { sha256Thumbprint, tlsOptions } from './issue.ts';
import { exportPkcs12 } from './pkcs12.ts';

const execFileAsync = promisify(execFile);

type PeerInfo = {
  authorized: boolean;
  authorizationError: string | null;
  subject: string | null;
  issuer: string | null;
  thumbprint: string | null;
};

function peerInfo(socket: TLSSocket): PeerInfo {
  const peer = socket.getPeerCertificate(true);
  const present = peer.raw !== undefined;
  return {
    authorized: socket.authorized,
    authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
    subject: present ? String(peer.subject.CN) : null,
    issuer: present ? String(peer.issuer.CN) : null,
    thumbprint: present ? sha256Thumbprint(peer.raw) : null,
  };
}

describe('TLS with issued certificates', () => {
  let dir: string;
  let pki: TestPki;
  let tlsServer: Server;
  let httpsServer: ReturnType<typeof createHttpsServer>;
  let tlsPort: number;
  let httpsPort: number;

  // The server asks for a client certificate but lets every handshake finish, and answers with
  // what it saw, so that tests can check both accepted and refused certificates.
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certgate-tls-'));
    pki = await makeTestPki(dir);
    const serverOptions = {
      ...tlsOptions(pki.server.issued),
      ca: pki.root.issued.certPem,
      requestCert: true,
      rejectUnauthorized: false,
    };
    tlsServer = createServer(serverOptions, (socket) => {
      // A failing assertion helper must fail the client's read, not leave it waiting.
      try {
        socket.end(JSON.stringify(peerInfo(socket)));
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    tlsPort = (tlsServer.address() as AddressInfo).port;
    httpsServer = createHttpsServer(serverOptions, (request, response) => {
      response.end(JSON.stringify(peerInfo(request.socket as TLSSocket)));
    });
    httpsServer.listen(0, '127.0.0.1');
    await once(httpsServer, 'listening');
    httpsPort = (httpsServer.address() as AddressInfo).port;
  });

  after(async () => {
    tlsServer.close();
    httpsServer.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function handshake(options: ConnectionOptions): Promise<{ serverAuthorized: boolean; peer: PeerInfo }> {
    const socket = connect({ host: '127.0.0.1', port: tlsPort, servername: 'localhost', ca: pki.root.issued.certPem, ...options });
    await once(socket, 'secureConnect');
    const serverAuthorized = socket.authorized;
    let body = '';
    socket.setEncoding('utf8');
    for await (const chunk of socket) body += chunk;
    return { serverAuthorized, peer: JSON.parse(body) as PeerInfo };
  }

  test('a client trusting the root verifies the server; the server verifies leaf + intermediate', async () => {
    const { serverAuthorized, peer } = await handshake(tlsOptions(pki.client.issued));
    assert.equal(serverAuthorized, true);
    assert.deepEqual(peer, {
      authorized: true,
      authorizationError: null,
      subject: 'test client',
      issuer: 'certgate test intermediate CA',
      thumbprint: pki.client.thumbprint,
    });
  });

  test('a client certificate from exportPkcs12 works as pfx + passphrase, modern and legacy', async () => {
    for (const legacy of [false, true]) {
      const pfx = await exportPkcs12({ ...pki.client.issued, password: 'pfx-pass', legacy });
      const { peer } = await handshake({ pfx: Buffer.from(pfx), passphrase: 'pfx-pass' });
      assert.equal(peer.authorized, true, `legacy=${legacy}`);
      assert.equal(peer.thumbprint, pki.client.thumbprint);
      assert.equal(peer.issuer, 'certgate test intermediate CA');
    }
    const { peer } = await handshake({ pfx: await readFile(pki.client.opensslP12Path), passphrase: pki.password });
    assert.equal(peer.authorized, true);
  });

  test('the server tells issued-by-root, self-signed, expired and missing client certificates apart', async () => {
    const direct = await handshake(tlsOptions(pki.clientDirect.issued));
    assert.equal(direct.peer.authorized, true);
    assert.equal(direct.peer.thumbprint, pki.clientDirect.thumbprint);

    const selfSigned = await handshake(tlsOptions(pki.selfSigned.issued));
    assert.equal(selfSigned.peer.authorized, false);
    assert.equal(selfSigned.peer.authorizationError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(selfSigned.peer.thumbprint, pki.selfSigned.thumbprint);

    const expired = await handshake(tlsOptions(pki.expired.issued));
    assert.equal(expired.peer.authorizationError, 'CERT_HAS_EXPIRED');

    const leafOnly = await handshake({ cert: pki.client.issued.certPem, key: pki.client.issued.keyPem });
    assert.equal(leafOnly.peer.authorizationError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');

    const none = await handshake({});
    assert.equal(none.peer.thumbprint, null);
    assert.equal(none.peer.authorized, false);
  });

  test('curl presents PEM and PKCS#12 client certificates made here', async () => {
    const curl = async (...args: string[]): Promise<PeerInfo> => {
      const { stdout } = await execFileAsync('curl', [
        '-sS', '--fail', '--resolve', `localhost:${httpsPort}:127.0.0.1`, '--cacert', pki.root.certPath,
        ...args, `https://localhost:${httpsPort}/`,
      ]);
      return JSON.parse(stdout) as PeerInfo;
    };
    const pem = await curl('--cert', pki.client.chainPath, '--key', pki.client.keyPath);
    assert.equal(pem.authorized, true);
    assert.equal(pem.thumbprint, pki.client.thumbprint);
    for (const p12 of [pki.client.p12Path, pki.client.opensslP12Path, pki.client.legacyP12Path]) {
      const peer = await curl('--cert-type', 'P12', '--cert', `${p12}:${pki.password}`);
      assert.equal(peer.authorized, true, p12);
      assert.equal(peer.thumbprint, pki.client.thumbprint);
    }
  });
});
