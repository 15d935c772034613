// Starts test/support/wsgi_app.py (python3's wsgiref) and collects what it saw, by request path.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface WsgiRequest {
  path: string;
  /** The environ's HTTP_* entries, as a WSGI app reads them. */
  environ: Record<string, string>;
}

export interface WsgiApp {
  port: number;
  received: WsgiRequest[];
  /** The request the app saw at `path` (waits briefly: the app's line may trail the response). */
  seen(path: string): Promise<WsgiRequest>;
  close(): Promise<void>;
}

export async function startWsgiApp(): Promise<WsgiApp> {
  const child: ChildProcess = spawn('/usr/bin/python3', [join(import.meta.dirname, 'wsgi_app.py')], { stdio: ['ignore', 'pipe', 'ignore'] });
  const received: WsgiRequest[] = [];
  let buffered = '';
  const port = await new Promise<number>((resolve, reject) => {
    let first = true;
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (first) {
          first = false;
          resolve(Number(line));
        } else {
          received.push(JSON.parse(line) as WsgiRequest);
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`wsgi_app.py exited ${code}`)));
  });
  return {
    port,
    received,
    async seen(path) {
      for (let i = 0; i < 100; i++) {
        const found = received.find((request) => request.path === path);
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`the WSGI app saw no request for ${path}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
