import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { serverSide } from '../../../test/support/loopback.ts';
import { CLIENT_CERTIFICATE_POLICIES } from '../../model/ingress.ts';
import { ClientCertificateHeaders } from './client-certificate.ts';

const vectors = new URL('../../../test/fixtures/xfcc-vectors/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, vectors), 'utf8');
const der = (name: string): Buffer => new X509Certificate(read(name)).raw;

/** The server side of one real handshake in which the client sent `cert` (leaf first). */
function serverSocketWith(cert: string, key: string) {
  const server = tls.createServer({ cert: read('self.pem'), key: read('self.key'), requestCert: true, rejectUnauthorized: false });
  return serverSide<tls.TLSSocket>(server, 'secureConnection', (port) => tls.connect({ port, host: '127.0.0.1', cert, key, rejectUnauthorized: false }));
}

test('decided from the handshake: the certificate the client sent, byte for byte; none under ignore', async () => {
  const peer = await serverSocketWith(read('self.pem'), read('self.key'));
  try {
    const headers = new ClientCertificateHeaders();
    assert.equal(headers.decide(peer.socket, CLIENT_CERTIFICATE_POLICIES.accept), read('expected-xfcc-self-signed.txt').trimEnd());
    assert.equal(headers.decide(peer.socket, CLIENT_CERTIFICATE_POLICIES.require), read('expected-xfcc-self-signed.txt').trimEnd());
    assert.equal(headers.decide(peer.socket, CLIENT_CERTIFICATE_POLICIES.ignore), undefined);
    assert.equal(headers.size, 1, 'the same chain is formatted once');
  } finally {
    peer.close();
  }
});

test('each ingress has its own cache: one gateway never reads or fills another\'s', () => {
  const first = new ClientCertificateHeaders();
  const second = new ClientCertificateHeaders();
  first.forChain([der('self.pem')]);
  assert.equal(first.size, 1);
  assert.equal(second.size, 0);
});

test('bounded: a client with a new certificate on every connection never grows the cache past its capacity', () => {
  const headers = new ClientCertificateHeaders(2);
  const self = der('self.pem');
  const leaf = der('leaf.pem');
  const intermediate = der('int.pem');
  const a = headers.forChain([self]);
  headers.forChain([leaf]);
  headers.forChain([leaf, intermediate]);
  assert.equal(headers.size, 2);
  // The oldest (self) was dropped; it is made again, equal to the first time.
  assert.equal(headers.forChain([self]), a);
  assert.equal(headers.size, 2);
  assert.equal(headers.forChain([self]), read('expected-xfcc-self-signed.txt').trimEnd());
});

test('a chain is formatted leaf first, in the order sent', () => {
  assert.equal(new ClientCertificateHeaders().forChain([der('leaf.pem'), der('int.pem')]), read('expected-xfcc-leaf-with-intermediate.txt').trimEnd());
});
