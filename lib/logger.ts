// Structured logging (pino); child loggers carry `stack` and `run`. Secrets are redacted by key name.
import { pino, type Logger as PinoLogger, type DestinationStream } from "pino";

export type Logger = PinoLogger;

const REDACT = [
  "token", "password", "passphrase", "privateKey", "secret", "authorization",
  "*.token", "*.password", "*.passphrase", "*.privateKey", "*.secret", "*.authorization",
  "headers.authorization", "*.headers.authorization",
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: "[redacted]" } }, destination);
}

/** A logger that drops everything: for tests that do not assert on logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
