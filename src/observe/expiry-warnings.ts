// Expiry warnings, once a day (and at start): a log line for each uploaded server certificate and
// each client certificate seen whose notAfter is within the warning window. The metrics carry the
// same facts continuously (certgate_*_certificate_expiry_timestamp_seconds); the CLI views are
// `containerapp env certificate list` (expirationDate) and
// `containerapp client-certificate list --expiring-within 30d`.
import type { Logger } from 'pino';
import { CERTIFICATE_TYPE } from '../model/resources.ts';
import type { Store } from '../store/store.ts';

const DAY_MS = 86_400_000;
export const EXPIRY_WARNING_DAYS = 30;
/** Lines per check at most: a fleet of expiring certificates must not flood the log. */
const MAX_LINES = 100;

export interface ExpiryWarning {
  readonly kind: 'server' | 'client';
  readonly resource: string;
  readonly thumbprint: string;
  readonly subject?: string;
  readonly notAfter: string;
  readonly daysLeft: number;
}

/** What expires within the window, soonest first (pure of I/O but for the store reads). */
export async function expiringCertificates(store: Store, now: number, windowDays = EXPIRY_WARNING_DAYS): Promise<ExpiryWarning[]> {
  const before = now + windowDays * DAY_MS;
  const daysLeft = (notAfter: number) => Math.floor((notAfter - now) / DAY_MS);
  const warnings: ExpiryWarning[] = [];
  for (const certificate of await store.list({ type: CERTIFICATE_TYPE })) {
    const notAfter = Date.parse(String(certificate.properties['expirationDate'] ?? ''));
    if (Number.isNaN(notAfter) || notAfter > before) continue;
    warnings.push({ kind: 'server', resource: certificate.id, thumbprint: String(certificate.properties['thumbprintSha256'] ?? certificate.properties['thumbprint'] ?? ''), ...(certificate.properties['subjectName'] ? { subject: String(certificate.properties['subjectName']) } : {}), notAfter: new Date(notAfter).toISOString(), daysLeft: daysLeft(notAfter) });
  }
  for (const seen of await store.inventory.expiring(new Date(before).toISOString(), MAX_LINES)) {
    warnings.push({ kind: 'client', resource: seen.app, thumbprint: seen.thumbprint, subject: seen.subject, notAfter: seen.notAfter, daysLeft: daysLeft(Date.parse(seen.notAfter)) });
  }
  return warnings.sort((a, b) => (a.notAfter < b.notAfter ? -1 : 1)).slice(0, MAX_LINES);
}

/** Logs the warnings now and every day; returns the stop function. */
export function startExpiryWarnings(store: Store, log: Logger): () => void {
  const check = () =>
    void expiringCertificates(store, Date.now()).then(
      (warnings) => {
        for (const warning of warnings) log.warn({ ...warning, event: warning.daysLeft < 0 ? 'certificate_expired' : 'certificate_expires_soon' }, warning.daysLeft < 0 ? 'certificate expired' : `certificate expires in ${warning.daysLeft} days`);
      },
      (error: unknown) => log.warn({ err: error }, 'expiry check failed'),
    );
  const first = setTimeout(check, 5_000);
  const daily = setInterval(check, DAY_MS);
  first.unref();
  daily.unref();
  return () => {
    clearTimeout(first);
    clearInterval(daily);
  };
}
