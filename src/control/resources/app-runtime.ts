// What belongs to running containers, which certgate does not do: a change to an app's `template`
// (images, scaling, volumes: what `az containerapp update --image/--min-replicas` sends), and the
// revisions, replicas, logs and actions below an app. Each is an ARM error that says so, never a
// silent success (the template an app was created with is stored as given: docs/management-api.md).
import { isPlainObject } from '../arm/merge-patch.ts';
import { errors } from '../arm/errors.ts';
import { dropNulls } from '../validation/validate.ts';

export function runtimeOperationRefused(method: string, segment: string, app: string): Error {
  return errors.operationNotSupported(
    `certgate runs no containers, so ${method} on '${segment}' of the container app '${app}' (revisions, replicas, logs, auth tokens, start/stop) has nothing to act on. The app is whatever listens at its ingress target; certgate only serves its ingress.`,
  );
}

/** The first path at which two JSON values differ ('' when equal). */
function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const found = firstDifference(a[key], b[key], `${path}.${key}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (const [index, item] of a.entries()) {
      const found = firstDifference(item, b[index], `${path}[${index}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? undefined : path;
}

/**
 * An existing app's `template` may be sent back as it is (a PUT of the whole app, a redeployed
 * template), or left out; a change is refused, naming the first changed member.
 */
export function checkTemplateUnchanged(given: unknown, stored: unknown): void {
  if (given === undefined) return;
  const changed = firstDifference(dropNulls(given), dropNulls(stored ?? {}), 'properties.template');
  if (changed === undefined) return;
  throw errors.operationNotSupported(
    `certgate runs no containers: a change to '${changed}' (images, scaling, revisions, volumes) would not take effect, so it is refused. The template stays as the app was created with; ingress settings can be changed.`,
    changed,
  );
}
