// The administrator's credentials file the control plane writes on its first start and
// `certgate login --data-dir` reads. Its own module so the CLI can read it without loading the
// management server (Fastify, Ajv and the PKI libraries cost `certgate login` most of a second).
export interface AdminCredentials {
  readonly endpoint: string;
  readonly tenantId: string;
  readonly subscriptionId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly caCertificate: string;
}

export const ADMIN_CREDENTIALS_FILE = 'admin-credentials.json';
