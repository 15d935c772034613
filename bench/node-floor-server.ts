// Not a proxy: Node's own HTTPS server answering by itself, with certgate's TLS settings (the same
// ECDSA certificate, a client certificate requested and any accepted, AES-128-GCM preferred, one
// TLS 1.3 ticket per handshake through certgate's OpenSSL configuration). What it costs per
// request, per handshake and per idle connection is the floor under certgate, which adds the
// proxying (a second socket, the app's answer parsed and relayed) on top of exactly this.
// Usage: node --openssl-config=src/ingress/listener/openssl.cnf bench/node-floor-server.ts PORT CERT KEY
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

const [port, certFile, keyFile] = process.argv.slice(2);
const body = 'hello from the upstream\n';
const server = https.createServer(
  {
    cert: readFileSync(certFile!),
    key: readFileSync(keyFile!),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    ciphers: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
    honorCipherOrder: true,
    ALPNProtocols: ['http/1.1'],
  },
  (req, res) => {
    // The bench checks that the answer saw a client certificate, as it does for the proxies.
    const socket = req.socket as TLSSocket & { hadCertificate?: boolean };
    socket.hadCertificate ??= socket.getPeerX509Certificate() !== undefined;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-xfcc': socket.hadCertificate ? 'yes' : 'no' });
    res.end(body);
  },
);
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
