// Writes the hand-made seeds of each target's corpus (fuzz/corpus/<target>/seed-*): valid inputs
// of every shape the targets understand, so fuzzing starts from deep paths. Run again after
// changing a target's input layout: node fuzz/seed-corpus.mjs. The fuzzers' own PKI (fuzz/pki) is
// made on the first run only (--new-pki to replace it; the corpus then refers to old certificates).
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { formatXfcc, percentEncode } from '../src/xfcc/index.ts';
import { derToPem } from '../src/xfcc/format.ts';
import { makeCertificate, makeChain, makeCrl } from '../src/app-auth/testing.ts';

const pki = new URL('./pki/', import.meta.url);
if (!existsSync(new URL('root.pem', pki)) || process.argv.includes('--new-pki')) {
  const { root, intermediate, leaf } = await makeChain();
  const revoked = await makeCertificate('CN=revoked client', { issuer: intermediate });
  mkdirSync(pki, { recursive: true });
  writeFileSync(new URL('root.pem', pki), root.pem);
  writeFileSync(new URL('intermediate.pem', pki), intermediate.pem);
  writeFileSync(new URL('leaf.pem', pki), leaf.pem);
  writeFileSync(new URL('revoked.pem', pki), revoked.pem);
  writeFileSync(new URL('intermediate.crl', pki), await makeCrl(intermediate, { revoked: [{ serialNumber: revoked.certificate.serialNumber }] }));
}
const { POOL } = await import('./fixtures.mjs');

const corpus = new URL('./corpus/', import.meta.url);
const vector = (name) => readFileSync(new URL(`../test/fixtures/xfcc-vectors/${name}`, import.meta.url), 'utf8').trimEnd();
const [leaf, int, , self, genLeaf, genInt] = POOL;
const b64 = (der) => Buffer.from(der).toString('base64');
const bytes = (...parts) => Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));
const albEncode = (text) => encodeURIComponent(text).replace(/%2B/g, '+').replace(/%3D/g, '=').replace(/%2F/g, '/');

/** The first bytes a real TLS client (Node's, OpenSSL underneath) sends, captured on loopback. */
async function clientHello(options) {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const client = tls.connect({ host: '127.0.0.1', port: server.address().port, rejectUnauthorized: false, ...options });
  client.on('error', () => {});
  const [socket] = await accepted;
  const [first] = await once(socket, 'data');
  client.destroy();
  socket.destroy();
  server.close();
  return first;
}

/** The same ClientHello with its handshake message split over two TLS records. */
function twoRecords(hello) {
  const handshake = hello.subarray(5);
  const half = Math.floor(handshake.length / 2);
  const record = (fragment) => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, fragment.length >> 8, fragment.length & 0xff]), fragment]);
  return Buffer.concat([record(handshake.subarray(0, half)), record(handshake.subarray(half))]);
}

const sniAlpn = await clientHello({ servername: 'shop.env1.certgate.localhost', ALPNProtocols: ['h2', 'http/1.1'] });
const tls12 = await clientHello({ servername: 'Shop.Example.Test', maxVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] });
const noSni = await clientHello({});
const crlf = '\r\n';

const seeds = {
  'xfcc-parse': {
    'leaf-with-intermediate': vector('expected-xfcc-leaf-with-intermediate.txt'),
    'self-signed': vector('expected-xfcc-self-signed.txt'),
    'envoy-docs': 'By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e;URI=http://frontend.lyft.com',
    'quoted-escapes': 'Note="say \\"hi\\", a;b=c \\\\";URI="spiffe://td/a;b";DNS=x.test;Issuer="CN=Issuing CA\\, Inc.";Subject="CN=a\\\\,O=b"',
    'trailing-semicolon': `Hash=${'ab'.repeat(32)};Cert="${percentEncode(derToPem(self))}";Chain="${percentEncode(derToPem(self))}";`,
    'unquoted-uri-semicolons': 'URI=spiffe://td/a;b;c;DNS=x.test;Cert="a%2Bb"',
  },
  'read-client-certificate': {
    xfcc: bytes([0x01], formatXfcc([leaf, int])),
    arr: bytes([0x02], b64(leaf)),
    rfc9440: bytes([0x0c], `:${b64(leaf)}:\n:${b64(int)}:, :${b64(self)}:`),
    nginx: bytes([0x10], encodeURIComponent(derToPem(leaf))),
    'aws-alb': bytes([0x20], albEncode(derToPem(leaf) + derToPem(int))),
    'xfcc-repeated': bytes([0x81], formatXfcc([self]), '\n', formatXfcc([leaf, int])),
    ambiguous: bytes([0x03], formatXfcc([leaf]), '\n', b64(leaf)),
  },
  verify: {
    'vector-chain': bytes([0x00], vector('expected-xfcc-leaf-with-intermediate.txt')),
    'generated-chain': bytes([0x00], formatXfcc([genLeaf, genInt])),
    'pool-vector-chain': bytes([0x01, 0b0000011, 0x00, 0x00, 0x00]),
    'pool-generated-chain': bytes([0x01, 0b0110000, 0x00, 0x00, 0x00]),
    'pool-tampered-hash': bytes([0x01, 0b0000011, 0x02, 0x00, 0x00]),
    'pool-patched-leaf': bytes([0x01, 0b0000011, 0x00, 0x40, 0x00], [0x05, 0x00]),
    'pool-two-elements': bytes([0x01, 0b0000011, 0x10, 0x00, 0x00]),
    arr: bytes([0x02, 0x00], b64(self)),
    rfc9440: bytes([0x02, 0x01], `:${b64(genLeaf)}:\n:${b64(genInt)}:`),
    nginx: bytes([0x02, 0x02], encodeURIComponent(derToPem(self))),
    'leaf-der': bytes([0x03], leaf),
    'generated-leaf-der': bytes([0x03], genLeaf),
    'revoked-chain': bytes([0x00], formatXfcc([new X509Certificate(readFileSync(new URL('revoked.pem', pki))).raw, genInt])),
  },
  // Byte 0: the size limit (bit 0: 512 bytes); then the client's bytes.
  clienthello: {
    'sni-alpn': bytes([0x00], sniAlpn),
    'tls12-mixed-case-sni': bytes([0x00], tls12),
    'no-sni': bytes([0x00], noSni),
    'two-records': bytes([0x00], twoRecords(sniAlpn)),
    'over-small-limit': bytes([0x01], sniAlpn),
    'plain-http': bytes([0x00], `GET / HTTP/1.1${crlf}Host: shop.env1.certgate.localhost${crlf}${crlf}`),
  },
  // Byte 0: bit 0 HEAD, bit 1 a 256-byte head limit; byte 1: the read size minus one; then the app's bytes.
  'http1-response': {
    'content-length': bytes([0x00, 0x06], `HTTP/1.1 200 OK${crlf}Content-Type: text/plain${crlf}Content-Length: 5${crlf}${crlf}hello`),
    chunked: bytes([0x00, 0x02], `HTTP/1.1 200 OK${crlf}Transfer-Encoding: chunked${crlf}${crlf}5;ext=1${crlf}hello${crlf}0${crlf}Trailer-A: b${crlf}${crlf}`),
    'continue-then-ok': bytes([0x00, 0xff], `HTTP/1.1 100 Continue${crlf}${crlf}HTTP/1.1 200 OK${crlf}content-length: 2${crlf}${crlf}ok`),
    'http10-until-close': bytes([0x00, 0x03], `HTTP/1.0 200 OK${crlf}Connection: keep-alive${crlf}${crlf}until the close`),
    'no-content': bytes([0x00, 0x00], `HTTP/1.1 204 No Content${crlf}Content-Length: 10${crlf}${crlf}`),
    'head-response': bytes([0x01, 0x10], `HTTP/1.1 200 OK${crlf}Content-Length: 1000${crlf}Connection: close${crlf}${crlf}`),
    'small-limit': bytes([0x02, 0x07], `HTTP/1.1 200 OK${crlf}X-Long: ${'a'.repeat(230)}${crlf}Content-Length: 0${crlf}${crlf}`),
    // A head of exactly the 256-byte limit, its CRLF CRLF split over two reads of 129 bytes.
    'head-at-limit-split': bytes([0x02, 0x80], `HTTP/1.1 200 OK${crlf}Content-Length: 0${crlf}X-Pad: ${'a'.repeat(256 - 43)}${crlf}${crlf}`),
    'repeated-length': bytes([0x00, 0x04], `HTTP/1.1 200 OK${crlf}Content-Length: 3, 3${crlf}Content-Length: 3${crlf}${crlf}abc`),
  },
};

for (const [target, files] of Object.entries(seeds)) {
  const dir = new URL(`${target}/`, corpus);
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(new URL(`seed-${name}`, dir), content);
}
console.log('seeds written to fuzz/corpus/');
