// The same tiny app (GET / answers with the verified client identity as JSON) on node:http,
// Express and Fastify, each guarded by the library's middleware for that framework.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import {
  clientIdentity,
  expressClientCertificate,
  fastifyClientCertificate,
  withClientCertificate,
} from '../src/app-auth/index.ts';
import type { ClientCertificateAuth } from '../src/app-auth/index.ts';

export const FRAMEWORKS = ['node', 'express', 'fastify'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export interface RunningApp {
  port: number;
  close(): Promise<void>;
}

export async function startApp(framework: Framework, auth: ClientCertificateAuth, port = 0, host = '127.0.0.1'): Promise<RunningApp> {
  switch (framework) {
    case 'node': {
      const server = http.createServer(
        withClientCertificate(auth, (_req, res, identity) => {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(identity));
        }),
      );
      await new Promise<void>((resolve) => server.listen(port, host, resolve));
      return running(server);
    }
    case 'express': {
      const app = express();
      app.use(expressClientCertificate(auth));
      app.get('/', (req, res) => {
        res.json(clientIdentity(req));
      });
      const server = await new Promise<http.Server>((resolve) => {
        const listening = app.listen(port, host, () => resolve(listening));
      });
      return running(server);
    }
    case 'fastify': {
      const app = Fastify();
      await app.register(fastifyClientCertificate(auth));
      app.get('/', async (request) => clientIdentity(request));
      await app.listen({ port, host });
      return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
    }
  }
}

function running(server: http.Server): RunningApp {
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** PORT, FRAMEWORK and TRUSTED_PROXIES (comma-separated; default loopback) from the environment. */
export function environment(): { port: number; framework: Framework; trustedProxies: string[] } {
  const framework = (process.env['FRAMEWORK'] ?? 'node') as Framework;
  if (!FRAMEWORKS.includes(framework)) throw new Error(`FRAMEWORK must be one of ${FRAMEWORKS.join(', ')}`);
  return {
    port: Number(process.env['PORT'] ?? 3000),
    framework,
    trustedProxies: (process.env['TRUSTED_PROXIES'] ?? '127.0.0.1,::1').split(',').map((entry) => entry.trim()),
  };
}
