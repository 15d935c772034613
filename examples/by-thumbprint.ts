// An app behind certgate (clientCertificateMode accept or require) that admits only the client
// certificates it lists by SHA-256 thumbprint: pinning, no CA involved, so self-signed device
// certificates work. Run: ALLOWED_THUMBPRINTS=<hex>,<hex> node examples/by-thumbprint.ts
import { createClientCertificateAuth } from '../src/app-auth/index.ts';
import { environment, startApp } from './frameworks.ts';
import type { Framework, RunningApp } from './frameworks.ts';

export function startThumbprintApp(options: { thumbprints: string[]; trustedProxies: string[]; framework: Framework; port?: number }): Promise<RunningApp> {
  const auth = createClientCertificateAuth({
    trustedProxies: options.trustedProxies, // certgate's address: nobody else may send the header
    verifier: { allow: { thumbprints: options.thumbprints } },
  });
  return startApp(options.framework, auth, options.port);
}

if (import.meta.main) {
  const { port, framework, trustedProxies } = environment();
  const thumbprints = (process.env['ALLOWED_THUMBPRINTS'] ?? '').split(',').filter(Boolean);
  const app = await startThumbprintApp({ thumbprints, trustedProxies, framework, port });
  console.log(`by-thumbprint (${framework}) listening on 127.0.0.1:${app.port}`);
}
