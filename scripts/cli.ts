// What every `proxstack` command shares: its I/O, flag parsing with usage errors, and exit codes.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ProxstackError } from "../lib/errors.js";
import { createLogger, type Logger } from "../lib/logger.js";
import { faultsForAbsentSimulators, parseFaults } from "../sim/faults.js";
import type { SimulatorFaults } from "../sim/start.js";

/** Exit codes: 0 success, 1 a failed check, 2 a usage error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Whether stderr is a terminal: logs are then pretty, else JSON lines. @default false */
  stderrIsTTY?: boolean;
}

/** The logger of a command: logs go to stderr only, so stdout stays what a script pipes; pretty at a terminal, JSON lines otherwise. */
export function cliLogger(io: CliIo, level: string): Logger {
  return createLogger(level, { write: (s: string) => io.stderr(s) }, { pretty: io.stderrIsTTY === true });
}

export interface Command {
  /** One line for the command list. */
  summary: string;
  /** Full --help text. */
  help: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/** A bad command line: printed with a pointer to --help, exit 2. */
export class UsageError extends ProxstackError {
  override name = "UsageError";
  constructor(message: string) {
    super("cli.usage", message, { kind: "stall" });
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses flags strictly; unknown flags and missing values become a UsageError. */
export function parseFlags<O extends Options>(args: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.replace(/\. To specify.*$/s, "") : String(err));
  }
}

/**
 * Reads `--faults LIST` for the simulators that run (`which`); a bad list, or a fault for a provider
 * that is real, is a UsageError.
 */
export function faultsFlag(value: string | undefined, which: { pve: boolean; cloudflare: boolean }): SimulatorFaults | undefined {
  if (value === undefined) return undefined;
  let faults: SimulatorFaults;
  try {
    faults = parseFaults(value);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const absent = faultsForAbsentSimulators(faults, which);
  if (absent.length > 0) throw new UsageError(`--faults: no simulator runs for ${absent.join(", ")}; a real provider gets no injected faults`);
  return faults;
}

/** Reads a whole-number flag such as --port; a UsageError names the flag when it is not one. */
export function intFlag(value: string | undefined, flag: string, min = 0, max = 65535): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got '${value}'`);
  }
  return Number(value);
}
