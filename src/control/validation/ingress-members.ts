// Every member of an app's `properties.configuration.ingress` and of an environment's
// `properties.ingressConfiguration`, and what certgate does with it. A member is never accepted and
// ignored: its author would believe the app is protected (an IP restriction, CORS, an internal
// app). `test/ingress-members.test.ts` walks the schemas and fails for a member missing here or in
// the `## Ingress settings` table of docs/ingress.md.
//
// - enforced: every value the schema accepts is applied by the ingress.
// - refused: the values certgate cannot apply get a 400 naming the JSON path (`refuse` says which
//   and why); the others are applied. When the ingress learns to apply a member, its `refuse` goes.
// - read-only: computed by the server; a client may send it back, it is not stored.
import { errors, type ArmError } from '../arm/errors.ts';

export type MemberStatus = 'enforced' | 'refused' | 'read-only';

export interface IngressMember {
  readonly status: MemberStatus;
  /** One line: what certgate does with it. */
  readonly does: string;
  /** The test file (from the repository root) that proves it. */
  readonly test: string;
  /** For refused values: why the ingress cannot apply `value`, or undefined when it can. */
  readonly refuse?: (value: unknown) => string | undefined;
  /** A value `refuse` refuses, for the test that sends it. */
  readonly refusedExample?: unknown;
}

const nonEmpty = (value: unknown) => Array.isArray(value) && value.length > 0;

export const APP_INGRESS_MEMBERS: Readonly<Record<string, IngressMember>> = {
  fqdn: { status: 'read-only', does: 'the default host name `<app>.<environment default domain>`, computed', test: 'test/control-api.test.ts' },
  external: {
    status: 'enforced',
    does: '`true` (or unset): served on the external and the internal listeners; `false`: only on the internal listener (`--internal-bind`, loopback by default)',
    test: 'test/ingress-listeners.test.ts',
  },
  targetPort: { status: 'enforced', does: 'the port the app listens on (with `targetHost`); unset: 503', test: 'test/ingress-upstream-failures.test.ts' },
  hsts: {
    status: 'enforced',
    does: "certgate extension: Strict-Transport-Security on the app's HTTPS responses, never on plain HTTP",
    test: 'test/ingress-tls-policy.test.ts',
  },
  targetPortHttpScheme: {
    status: 'enforced',
    does: 'preview api-versions only (400 on stable ones): `https` is TLS to the app (its certificate is not verified, as in ACA); `http` as unset',
    test: 'test/ingress-app-features.test.ts',
  },
  targetHost: { status: 'enforced', does: 'certgate extension: where the app listens, default 127.0.0.1', test: 'test/control-api.test.ts' },
  exposedPort: {
    status: 'enforced',
    does: 'transport tcp: the TCP port the app is served on (its own listener; internal apps on loopback only); 0 or unset for HTTP apps',
    test: 'test/ingress-app-features.test.ts',
  },
  transport: {
    status: 'enforced',
    does: '`auto`/`http`: HTTP/1.1 to the app; `http2`: h2c to the app; `tcp`: TCP proxying on `exposedPort` (mode must be ignore)',
    test: 'test/ingress-app-features.test.ts',
  },
  traffic: {
    status: 'refused',
    does: 'certgate has no revisions: only the latest revision at 100% is accepted (az sends it); any other split, and a `label` (its host name would not be served), refused',
    test: 'test/ingress-members.test.ts',
    refuse: (value) => {
      if (!Array.isArray(value) || value.length === 0) return undefined;
      const [only] = value as { weight?: number }[];
      return value.length === 1 && (only?.weight ?? 100) === 100 ? undefined : 'certgate runs one revision per app: traffic must be [{"latestRevision": true, "weight": 100}]';
    },
    refusedExample: [{ revisionName: 'app--v1', weight: 50 }, { latestRevision: true, weight: 50 }],
  },
  customDomains: {
    status: 'enforced',
    does: "served by SNI under the app's policy with an uploaded certificate that covers the name and that the ingress loads, or a managed (ACME) certificate for the name; `bindingType: Auto` claims the name at once and serves it when its managed certificate is issued",
    test: 'test/control-enforced.test.ts',
  },
  allowInsecure: { status: 'enforced', does: '`false`: plain HTTP answers 308 to HTTPS; `true`: the app is also served over HTTP', test: 'test/ingress-routing.test.ts' },
  ipSecurityRestrictions: {
    status: 'enforced',
    does: 'all Allow or all Deny (mixed: 400), CIDR v4/v6; checked per connection before the TLS handshake (alert access_denied) and per request on plain HTTP (403)',
    test: 'test/ingress-listeners.test.ts',
  },
  stickySessions: {
    status: 'refused',
    does: '`affinity: none` accepted (one target per app); `sticky` refused',
    test: 'test/ingress-members.test.ts',
    refuse: (value) => {
      const affinity = (value as { affinity?: unknown } | undefined)?.affinity;
      return typeof affinity === 'string' && affinity.toLowerCase() === 'sticky' ? "stickySessions affinity 'sticky' is not supported: certgate has no revisions or replicas, so there is only one backend to stick to and no affinity cookie is set. Use 'none'." : undefined;
    },
    refusedExample: { affinity: 'sticky' },
  },
  clientCertificateMode: { status: 'enforced', does: '`ignore`, `accept`, `require`, any casing (see Client-certificate modes)', test: 'test/ingress-modes.test.ts' },
  corsPolicy: {
    status: 'enforced',
    does: 'answered by the ingress: preflights for allowed origins never reach the app; Access-Control-* on responses; credentials with `*` refused',
    test: 'test/ingress-app-features.test.ts',
  },
  clientCertificateTrustAnchors: {
    status: 'enforced',
    does: 'certgate extension: ids of the environment\'s `ClientCertificateTrustAnchor` certificates; with `accept`/`require` the chain is verified once per connection (failures: 403 with the code)',
    test: 'test/ingress-verification.test.ts',
  },
  clientCertificateIntermediates: {
    status: 'enforced',
    does: 'certgate extension: ids of `ClientCertificateIntermediate` certificates used to build paths (a client may send only its leaf)',
    test: 'test/ingress-verification.test.ts',
  },
  clientCertificateRevocationLists: {
    status: 'enforced',
    does: 'certgate extension: ids of `ClientCertificateRevocationList` resources; a revoked certificate is refused (`REVOKED`), an expired CRL fails closed (`CRL_EXPIRED`)',
    test: 'test/ingress-verification.test.ts',
  },
  clientCertificateValidationMode: {
    status: 'enforced',
    does: 'certgate extension: `AllowValidOnly` (default) refuses a bad certificate; `AllowInsecureFallback` (mode `accept` only) forwards every request with the verdict headers',
    test: 'test/ingress-verification.test.ts',
  },
  clientCertificateAllow: {
    status: 'enforced',
    does: 'certgate extension: allow-lists of the leaf (`thumbprints`, `spkiSha256`, `subjects`, `sans`); thumbprint or SPKI pins work without anchors',
    test: 'test/ingress-verification.test.ts',
  },
  clientCertificateForwarding: {
    status: 'enforced',
    does: 'certgate extension: `Xfcc` (default, as ACA), `Rfc9440` (`Client-Cert` and `Client-Cert-Chain` instead), `Both`; needs mode `accept` or `require`',
    test: 'test/ingress-verification.test.ts',
  },
  clientCertificateNameAnchors: {
    status: 'enforced',
    does: 'certgate extension: `true`: the CertificateRequest names the trust anchors (browsers then offer only matching certificates); `false` (default): it names none',
    test: 'test/ingress-verification.test.ts',
  },
  clientCertificateRevocationMode: {
    status: 'enforced',
    does: 'certgate extension: when revocation status cannot be learned: `HardFail` (default) refuses with a CRL past its nextUpdate (`CRL_EXPIRED`) or an online status it could not learn (`REVOCATION_UNKNOWN`), `SoftFail` still uses the CRL and serves, `RequireCrl` also refuses an issuer no CRL covers (`CRL_MISSING`)',
    test: 'test/ingress-verification.test.ts',
  },
  clientCertificateOnlineRevocation: {
    status: 'enforced',
    does: "certgate extension: `Off` (default), `Crl` (fetch the CRL of the certificate's http distribution points) or `Ocsp` (ask its AIA OCSP responder; its CRL distribution point when it names none or the responder gives no answer); cached until the CRL's or response's nextUpdate; `REVOKED` when revoked",
    test: 'test/ingress-revocation.test.ts',
  },
  clientCertificateExemptPaths: {
    status: 'enforced',
    does: 'certgate extension: path prefixes forwarded whatever the verdict (health checks, `/.well-known/`), with the verdict headers; checked at HTTP, TLS 1.3 and HTTP/2 alike',
    test: 'test/ingress-verification.test.ts',
  },
  clientCertificateVerifiedPaths: {
    status: 'enforced',
    does: 'certgate extension: path prefixes that need a verified certificate (401 `cert_missing` without one, 403 with the code for a bad one), even under AllowInsecureFallback',
    test: 'test/ingress-verification.test.ts',
  },
  additionalPortMappings: {
    status: 'enforced',
    does: 'extra TCP ports, each with its own listener (external ones on --bind, internal ones on loopback); port conflicts 409/400',
    test: 'test/ingress-app-features.test.ts',
  },
};

export const ENVIRONMENT_INGRESS_MEMBERS: Readonly<Record<string, IngressMember>> = {
  workloadProfileName: {
    status: 'refused',
    does: 'certgate has no workload profiles',
    test: 'test/ingress-members.test.ts',
    refuse: (value) => (value === undefined ? undefined : 'certgate has no workload profiles'),
    refusedExample: 'Consumption',
  },
  requestIdleTimeout: {
    status: 'enforced',
    does: 'minutes the app may stay silent (response head and body pauses), for every app of the environment',
    test: 'test/ingress-app-features.test.ts',
  },
  headerCountLimit: {
    status: 'enforced',
    does: 'more header fields than this get 431 too_many_headers (HTTP/1.1, HTTP/2, WebSocket)',
    test: 'test/ingress-app-features.test.ts',
  },
  terminationGracePeriodSeconds: {
    status: 'enforced',
    does: 'the drain period on stop: the largest over the environments (10 s when none sets it)',
    test: 'test/ingress-app-features.test.ts',
  },
};

/** The first value in `settings` the ingress cannot apply, as the 400 to answer (target: `base.member`). */
export function refusedMember(settings: Readonly<Record<string, unknown>> | undefined, members: Readonly<Record<string, IngressMember>>, base: string): ArmError | undefined {
  for (const [name, value] of Object.entries(settings ?? {})) {
    const reason = members[name]?.refuse?.(value);
    if (reason !== undefined) return errors.invalidParameter(`${base}.${name}: ${reason}; the value is refused rather than stored and not enforced.`, `${base}.${name}`);
  }
  return undefined;
}
