// The app behind certgate in the "under attack" bench: plain HTTP/1.1 that reads every request
// body to its end before it answers (as most apps do), so slow uploads hold its connections.
// Usage: node bench/attack-upstream.ts --port=P
import http from 'node:http';

const port = Number(process.argv.find((value) => value.startsWith('--port='))?.slice(7));
const server = http.createServer((request, response) => {
  let bytes = 0;
  request.on('data', (chunk: Buffer) => (bytes += chunk.length));
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'text/plain', 'x-xfcc': request.headers['x-forwarded-client-cert'] ? 'yes' : 'no' });
    response.end(`read ${bytes} bytes\n`);
  });
  request.on('error', () => response.destroy());
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening on ${port}\n`));
process.on('SIGTERM', () => process.exit(0));
