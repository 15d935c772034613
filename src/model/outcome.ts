// What compiling a store revision into the ingress's route snapshot gave: shared by the gateway
// (which compiles), the worker pool (which merges its workers' outcomes) and the control plane
// (which answers a write only when the ingress enforces it).
import { defineCatalog } from './error-catalog.ts';
import { resourceKey } from './resources.ts';

/**
 * Why the snapshot left part of a resource out: the codes of ConfigurationNotEnforced's `details`
 * (docs/management-api.md "Error codes"), logged as `reason` by the gateway.
 */
export const CONFIGURATION_PROBLEMS = defineCatalog({
  hostname_taken: { status: undefined, meaning: 'a host name of the app is already served by another app; left out' },
  hostname_invalid: { status: undefined, meaning: 'a custom domain is not a valid host name; left out' },
  certificate_missing: { status: undefined, meaning: 'a custom domain has no usable certificate; left out' },
  certificate_unusable: { status: undefined, meaning: "the ingress's TLS cannot use a custom domain's certificate; left out" },
  environment_missing: { status: undefined, meaning: "the app's environment does not exist; the app is left out" },
  environment_certificate_missing: { status: undefined, meaning: "the environment has no server certificate; the app's default domain is not served" },
  transport_unsupported: { status: undefined, meaning: 'transport tcp is not served by the HTTP ingress; the app is left out' },
  mode_invalid: { status: undefined, meaning: 'the clientCertificateMode is not valid; the app is left out' },
  ip_rules_invalid: { status: undefined, meaning: "the app's ipSecurityRestrictions cannot be compiled; the app is left out" },
  cors_invalid: { status: undefined, meaning: "the app's corsPolicy cannot be compiled; the app is left out" },
  verification_invalid: { status: undefined, meaning: "the app's client-certificate verification cannot be compiled (trust material missing or unreadable): the app is left out, never served unverified" },
  port_missing: { status: undefined, meaning: 'a TCP mapping names no exposed or target port; left out' },
  port_taken: { status: undefined, meaning: 'an exposed TCP port is already served for another app; left out' },
  port_unavailable: { status: undefined, meaning: 'an exposed TCP port cannot be listened on (another process holds it); not served' },
});

export type ConfigurationProblemCode = keyof typeof CONFIGURATION_PROBLEMS;

/** Something the snapshot left out, naming the resource whose configuration is not served. */
export interface ConfigurationProblem {
  /** The resource not (completely) served, mostly an app. */
  readonly resource: string;
  /** Resources the problem comes from besides it (the certificate of a domain, the environment). */
  readonly related?: readonly string[];
  /** Stable lower_snake_case code (CONFIGURATION_PROBLEMS), logged as `reason`. */
  readonly reason: ConfigurationProblemCode;
  readonly message: string;
}

/**
 * The outcome of one compilation, which covers every revision up to `revision`. With `error` no
 * snapshot was built and the previous one keeps serving; otherwise the snapshot was swapped in,
 * without what `problems` names.
 */
export interface RevisionOutcome {
  readonly revision: number;
  readonly error?: string;
  readonly problems: readonly ConfigurationProblem[];
  /** Replicas sharing the store that stopped heartbeating: not waited for (src/gateway/replicated-host.ts). */
  readonly staleReplicas?: readonly string[];
}

/** The problems that concern `id` (as the resource not served or as a related one). */
export function problemsConcerning(outcome: RevisionOutcome, id: string): ConfigurationProblem[] {
  const key = resourceKey(id);
  return outcome.problems.filter(
    (problem) => resourceKey(problem.resource) === key || (problem.related ?? []).some((related) => resourceKey(related) === key),
  );
}

/** The problems of `id` itself: the parts of it the snapshot left out. */
export function problemsOf(outcome: RevisionOutcome, id: string): ConfigurationProblem[] {
  const key = resourceKey(id);
  return outcome.problems.filter((problem) => resourceKey(problem.resource) === key);
}

/** One outcome for several compilations of the same store (the workers): the worst of them. */
export function mergeOutcomes(outcomes: readonly RevisionOutcome[]): RevisionOutcome {
  const revision = Math.min(...outcomes.map((outcome) => outcome.revision));
  const error = outcomes.find((outcome) => outcome.error !== undefined)?.error;
  const seen = new Set<string>();
  const problems: ConfigurationProblem[] = [];
  for (const problem of outcomes.flatMap((outcome) => outcome.problems)) {
    const key = `${resourceKey(problem.resource)}\n${problem.reason}\n${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return error === undefined ? { revision, problems } : { revision, error, problems };
}
