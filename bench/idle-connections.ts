// Opens N mutual-TLS connections to a proxy (client certificate, SNI), sends one keep-alive request
// on each and reads its answer, then holds them all idle. Prints one JSON line when they are open,
// and closes them when its standard input ends, or after --hold seconds at most.
// Usage: node bench/idle-connections.ts --host=H --port=P --cert=F --key=F [--count=2000] [--parallel=50] [--hold=120]
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const argument = (name: string, fallback?: string): string => {
  const found = process.argv.find((value) => value.startsWith(`--${name}=`));
  const value = found ? found.slice(name.length + 3) : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
};

const host = argument('host');
const port = Number(argument('port'));
const count = Number(argument('count', '2000'));
const parallel = Number(argument('parallel', '50'));
const holdSeconds = Number(argument('hold', '120'));
const cert = readFileSync(argument('cert'));
const key = readFileSync(argument('key'));
const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);

const sockets: tls.TLSSocket[] = [];
let failed = 0;
let lastError = '';

function open(): Promise<void> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: host, cert, key, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let answered = false;
    const timer = setTimeout(() => done(new Error('no answer within 20 s')), 20_000);
    function done(error?: Error) {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (error) {
        failed++;
        lastError = error.message;
        socket.destroy();
      } else {
        sockets.push(socket);
      }
      resolve();
    }
    socket.once('secureConnect', () => socket.write(request));
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) done(/^HTTP\/1\.1 200/.test(head) ? undefined : new Error(head.split('\r\n')[0]));
    });
    socket.on('error', (error) => done(error));
    socket.on('close', () => done(new Error('closed before the answer')));
  });
}

const started = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(parallel, count) }, async () => {
    while (next < count) {
      next++;
      await open();
    }
  }),
);
// Count those the server has closed since.
let closedEarly = 0;
for (const socket of sockets) {
  socket.on('close', () => closedEarly++);
}
process.stdout.write(`${JSON.stringify({ open: sockets.length, failed, lastError, seconds: (performance.now() - started) / 1000 })}\n`);

const finish = () => {
  for (const socket of sockets) socket.destroy();
  process.stderr.write(`closed by the server while idle: ${closedEarly}\n`);
  process.exit(0);
};
setTimeout(finish, holdSeconds * 1000);
process.stdin.on('end', finish);
process.stdin.on('data', () => {});
process.stdin.resume();
