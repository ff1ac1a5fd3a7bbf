/**
 * Logging: one pino root logger passed in by the user, a child per component.
 * Silent by default. Bindings hold trusted data only ({node, actor, ...});
 * peer data goes under a single key and payloads are logged at debug or below.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

let silent: Logger | undefined;

/** The logger used when none is given: level `silent`, so nothing is formatted or written. */
export function nullLogger(): Logger {
  silent ??= pino({ level: 'silent' });
  return silent;
}

/** Keys whose values are never logged. Used as pino `redact` paths by {@link createLogger}. */
export const REDACT_PATHS = [
  'token',
  'pass',
  'password',
  'nkey',
  'seed',
  'authenticator',
  'tls.key',
  'tls.keyFile',
  '*.token',
  '*.pass',
  '*.password',
  '*.nkey',
  '*.seed',
  '*.authenticator',
];

/** A convenience pino root logger with Halyard's redaction paths set. */
export function createLogger(options: { level?: string; name?: string } = {}, destination?: pino.DestinationStream): Logger {
  const opts = { level: options.level ?? 'info', name: options.name, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(opts, destination) : pino(opts);
}
