// `certgate serve`'s options and defaults: shared by the command (serve.ts, flags and help) and what
// it runs (serve-run.ts), so neither imports the other.
import type { ProxyProtocolListener } from '../ingress/listener/proxy-accept.ts';
import type { LimitSettings } from './serve-limits.ts';

export const DEFAULT_BASE_DOMAIN = 'certgate.localhost';
/** The internal listener's ports: next to the external ones, clear of 8443, 8080 and 9443. */
export const DEFAULT_INTERNAL_HTTPS_PORT = 8444;
export const DEFAULT_INTERNAL_HTTP_PORT = 8081;

export interface ServeOptions {
  dataDir: string;
  /** A postgres:// URL: several replicas share this database; unset, the SQLite file in dataDir. */
  store: string | undefined;
  /** This replica's name among those sharing the store (default: the host name). */
  replicaName: string | undefined;
  /** The file of the keys that encrypt the shared store's secrets (else CERTGATE_STORE_KEY). */
  storeKeyFile: string | undefined;
  bind: string;
  httpsPort: number;
  httpPort: number;
  managementPort: number;
  managementBind: string;
  domain: string;
  logLevel: string;
  workers: number;
  internalBind: string;
  /** Unset: the default port, or 0 (any free port) when the external port is 0. */
  internalHttpsPort: number | undefined;
  internalHttpPort: number | undefined;
  proxyProtocol: ProxyProtocolListener[] | undefined;
  proxyProtocolFrom: string[] | undefined;
  tlsCiphers: 'modern' | 'compatible';
  /** ACME directory for managed certificates (`--acme-directory`); unset: managedCertificates are refused. */
  acmeDirectory?: string;
  /** PEM file with the trust roots of the directory's TLS (`--acme-ca-file`). */
  acmeCaFile?: string;
  acmeEmail?: string;
  /** The limit flags given (serve-limits.ts), set by the action. */
  limits?: LimitSettings;
}
