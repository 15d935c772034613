// Structured logs (pino, JSON lines). Secrets never reach a log: the redact list is the last line of
// defence, not the first (code never logs credentials on purpose).
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env['CERTGATE_LOG_LEVEL'] ?? 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['*.password', '*.secret', '*.clientSecret', '*.client_secret', '*.token', '*.authorization', '*.headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
