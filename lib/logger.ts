// Structured logging (pino); child loggers carry `stack` and `run`. Secrets are redacted by key name.
import { pino, type Logger as PinoLogger, type DestinationStream } from "pino";
import { prettyFactory } from "pino-pretty";

export type Logger = PinoLogger;

const REDACT = [
  "token",
  "password",
  "passphrase",
  "privateKey",
  "secret",
  "authorization",
  "*.token",
  "*.password",
  "*.passphrase",
  "*.privateKey",
  "*.secret",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
];

export interface LoggerOptions {
  /** One coloured line per entry for a person at a terminal (pino-pretty) instead of JSON lines. @default false */
  pretty?: boolean;
}

/**
 * A logger writing to `destination` (default: stderr, so stdout stays free for machine output).
 * Redaction happens before formatting, so pretty output never shows a secret either.
 */
export function createLogger(level: string, destination: DestinationStream = process.stderr, opts: LoggerOptions = {}): Logger {
  const options = { level, redact: { paths: REDACT, censor: "[redacted]" } };
  if (!opts.pretty) return pino(options, destination);
  const prettify = prettyFactory({ colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" });
  return pino(options, { write: (line: string) => destination.write(prettify(line)) });
}

/** A logger that drops everything: for tests that do not assert on logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
