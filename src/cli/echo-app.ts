// `certgate echo-app`: a small demo app that answers every request with what it received, and the
// client certificate decoded from X-Forwarded-Client-Cert: what an app behind certgate sees.
// It verifies nothing: for that, see docs/app-library.md.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import { CliError } from './errors.ts';
import { decodeCertificates, parseXfcc } from '../xfcc/index.ts';

export function echoAppCommand(): Command {
  return new Command('echo-app')
    .description('Run a demo app that answers every request with its method, path, headers and the decoded client certificate, as JSON.')
    .requiredOption('--port <port>', 'Port to listen on.', (value: string) => {
      const port = Number(value);
      if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError('expected a port number.');
      return port;
    })
    .option('--host <address>', 'Address to listen on.', '127.0.0.1')
    // Not 8080: that is certgate serve's own plain-HTTP port.
    .addHelpText('after', '\nExamples:\n  certgate echo-app --port 3000\n  certgate containerapp create -n echo -g demo --environment env1 --ingress external --target-port 3000\n')
    .action(async (options: { port: number; host: string }) => {
      const server = http.createServer((req, res) => {
        const body = JSON.stringify(
          { method: req.method, path: req.url, headers: req.headers, clientCertificate: describeClientCertificate(req.headers['x-forwarded-client-cert']) },
          null,
          2,
        );
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, options)));
        server.listen(options.port, options.host, resolve);
      });
      process.stderr.write(`echo-app listening on http://${options.host}:${(server.address() as AddressInfo).port}\n`);
      const stop = () => server.close(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
}

/** A one-line error for a port that cannot be had (exit code 1), instead of Node's stack trace. */
function listenError(error: NodeJS.ErrnoException, options: { port: number; host: string }): Error {
  const where = `${options.host}:${options.port}`;
  if (error.code === 'EADDRINUSE') return new CliError(`${where} is in use by another program; choose another port with --port (and the same --target-port for the app)`, { cause: error });
  if (error.code === 'EACCES') return new CliError(`no permission to listen on ${where}; ports below 1024 need privileges: choose one above 1024 with --port`, { cause: error });
  if (error.code === 'EADDRNOTAVAIL') return new CliError(`${options.host} is not an address of this machine; choose another with --host`, { cause: error });
  return new CliError(`cannot listen on ${where}: ${error.message}`, { cause: error });
}

export function describeClientCertificate(header: string | string[] | undefined): unknown {
  if (header === undefined) return null;
  const parsed = parseXfcc(Array.isArray(header) ? header.join(',') : header);
  if (!parsed.ok) return { error: parsed.code, message: parsed.message };
  // The last element is the one the nearest proxy (certgate) added.
  const element = parsed.elements.at(-1)!;
  const decoded = element.cert ? decodeCertificates(element.cert) : undefined;
  const leaf = decoded?.ok ? decoded.certificates[0] : undefined;
  const chain = element.chain ? decodeCertificates(element.chain) : undefined;
  return {
    hash: element.hash,
    subject: leaf?.subject,
    issuer: leaf?.issuer,
    subjectAltName: leaf?.subjectAltName,
    serialNumber: leaf?.serialNumber,
    validFrom: leaf ? new Date(leaf.validFrom).toISOString() : undefined,
    validTo: leaf ? new Date(leaf.validTo).toISOString() : undefined,
    sha256: leaf?.fingerprint256.replace(/:/g, '').toLowerCase(),
    chainLength: chain?.ok ? chain.certificates.length : 0,
  };
}
