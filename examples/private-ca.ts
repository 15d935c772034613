// An app behind certgate that admits any client certificate issued by its private CA, verified
// through the chain the client sent (or known intermediates, for resumed TLS sessions whose
// Chain holds the leaf alone). Run: CA_FILE=ca.pem [INTERMEDIATES_FILE=int.pem] node examples/private-ca.ts
import { readFileSync } from 'node:fs';
import { createClientCertificateAuth } from '../src/app-auth/index.ts';
import { environment, startApp } from './frameworks.ts';
import type { Framework, RunningApp } from './frameworks.ts';

export function startPrivateCaApp(options: {
  caPem: string;
  intermediatesPem?: string;
  trustedProxies: string[];
  framework: Framework;
  port?: number;
}): Promise<RunningApp> {
  const auth = createClientCertificateAuth({
    trustedProxies: options.trustedProxies,
    verifier: {
      trustAnchors: [options.caPem],
      intermediates: options.intermediatesPem ? [options.intermediatesPem] : [],
    },
  });
  return startApp(options.framework, auth, options.port);
}

if (import.meta.main) {
  const { port, framework, trustedProxies } = environment();
  const caPem = readFileSync(process.env['CA_FILE'] ?? 'ca.pem', 'utf8');
  const intermediatesFile = process.env['INTERMEDIATES_FILE'];
  const intermediatesPem = intermediatesFile ? readFileSync(intermediatesFile, 'utf8') : undefined;
  const app = await startPrivateCaApp({ caPem, intermediatesPem, trustedProxies, framework, port });
  console.log(`private-ca (${framework}) listening on 127.0.0.1:${app.port}`);
}
