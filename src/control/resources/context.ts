// What a resource handler gets from the HTTP layer, and what it answers.
import type { Store } from '../../store/store.ts';
import type { RevisionOutcome } from '../../model/outcome.ts';
import type { ArmPath } from '../arm/path.ts';
import type { TokenIssuer } from '../auth/tokens.ts';
import type { ObservedHost } from '../../observe/observed-host.ts';

export interface ControlContext {
  readonly store: Store;
  readonly tokens: TokenIssuer;
  /** The base domain environments get their default domains under. */
  readonly baseDomain: string;
  /** Resolves once the ingress compiled the store at `revision`, with the outcome (see enforced.ts). */
  readonly applied: (revision: number) => Promise<RevisionOutcome>;
  /** The last compilation's outcome: what a read reports as not enforced (provisioningState Failed). */
  readonly outcome: () => RevisionOutcome;
  /** Set when `certgate serve --acme-directory` names an ACME directory: managed certificates can be issued. */
  readonly acme?: { readonly directoryUrl: string };
  /** Ports the gateway itself listens on (HTTPS, HTTP, management): no app may expose them. */
  readonly reservedPorts?: () => readonly number[];
  /** The gateway's readiness and recent refusals (the Gateway status API); undefined: not served. */
  readonly observed?: ObservedHost;
}

export interface ArmRequest {
  readonly method: string;
  readonly path: ArmPath;
  /** The normalised request path (for nextLink). */
  readonly pathname: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly ifMatch: string | undefined;
  readonly ifNoneMatch: string | undefined;
  /** `https://host:port` as the client addressed it, for absolute links. */
  readonly baseUrl: string;
  /** The authenticated principal's client id. */
  readonly actor: string;
}

export interface ArmResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}
