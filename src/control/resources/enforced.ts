// A write is acknowledged only when the ingress enforces it: after the store commits, the handler
// waits for the ingress (every worker) to compile the revision, and turns a failed compilation, or
// a part of the written resource the snapshot left out, into an ARM error instead of a 200.
import { problemsConcerning } from '../../model/outcome.ts';
import { errors } from '../arm/errors.ts';
import type { ControlContext } from './context.ts';

/**
 * Waits until the ingress compiled `revision`; throws when it does not enforce the resource `id`.
 * Returns the headers the answer carries: the replicas not waited for (they stopped heartbeating).
 */
export async function awaitEnforced(context: ControlContext, revision: number, id: string, name: string): Promise<Record<string, string>> {
  const outcome = await context.applied(revision);
  if (outcome.error !== undefined) throw errors.ingressApplyFailed(revision, outcome.error);
  const problems = problemsConcerning(outcome, id);
  if (problems.length > 0) {
    throw errors.notEnforced(id, name, problems.map((problem) => ({ code: problem.reason, message: problem.message, target: problem.resource })));
  }
  return outcome.staleReplicas?.length ? { [STALE_REPLICAS_HEADER]: outcome.staleReplicas.join(', ') } : {};
}

/** Names the replicas sharing the store that a write did not wait for (docs/scale-out.md). */
export const STALE_REPLICAS_HEADER = 'x-certgate-stale-replicas';
