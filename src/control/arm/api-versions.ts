// Which api-version values are accepted. Clients pin a version per request; certgate serves one
// resource shape for all of them, so what matters is rejecting versions no client of these
// resources can mean (typos, future or ancient dates) with the list of what is supported.
import { errors } from './errors.ts';

/** Microsoft.App versions that carry clientCertificateMode, as published (stable and preview). */
export const APP_API_VERSIONS: readonly string[] = [
  '2022-10-01',
  '2022-11-01-preview',
  '2023-04-01-preview',
  '2023-05-01',
  '2023-05-02-preview',
  '2023-08-01-preview',
  '2023-11-02-preview',
  '2024-02-02-preview',
  '2024-03-01',
  '2024-08-02-preview',
  '2024-10-02-preview',
  '2024-11-01',
  '2025-01-01',
  '2025-02-02-preview',
  '2025-07-01',
  '2025-10-02-preview',
  '2026-01-01',
  '2026-07-01',
];

/** Microsoft.Resources (subscriptions, resource groups, providers) and the cloud metadata endpoint. */
export const RESOURCE_MANAGER_API_VERSIONS: readonly string[] = [
  '2015-01-01',
  '2016-06-01',
  '2016-09-01',
  '2018-05-01',
  '2019-10-01',
  '2019-11-01',
  '2020-01-01',
  '2020-06-01',
  '2021-01-01',
  '2021-04-01',
  '2022-01-01',
  '2022-09-01',
  '2022-12-01',
  '2023-07-01',
  '2024-03-01',
  '2024-07-01',
  '2024-11-01',
  '2025-01-01',
  '2025-03-01',
  '2025-04-01',
];

const DATE_VERSION = /^(\d{4}-\d{2}-\d{2})(-preview)?$/;

/**
 * Microsoft.App: the published versions from 2022-10-01 to 2026-07-01, and any other dated version
 * in that range (previews are published often). Microsoft.Resources: any dated version from
 * 2014-04-01 on, which covers every az and SDK release.
 */
export function checkApiVersion(version: string | undefined, family: 'app' | 'resources', resourceType: string): void {
  if (version === undefined || version === '') throw errors.missingApiVersion();
  const match = DATE_VERSION.exec(version);
  const date = match?.[1];
  const ok =
    date !== undefined &&
    !Number.isNaN(Date.parse(date)) &&
    (family === 'app' ? date >= '2022-10-01' && date <= '2026-07-01' : date >= '2014-04-01');
  if (!ok) {
    throw errors.invalidApiVersion(version, resourceType, family === 'app' ? APP_API_VERSIONS : RESOURCE_MANAGER_API_VERSIONS);
  }
}
