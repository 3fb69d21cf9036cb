// The data directory (databases, keys, the stacks repository, Pulumi state): created private to its owner.
import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import type { Logger } from "../lib/logger.js";

/**
 * Creates the data directory with mode 0700 (parents as the umask says), whatever the umask. An
 * existing one is left as the operator made it, with a warning when other local users can read it.
 */
export function ensureDataDir(dir: string, log: Logger): void {
  if (!existsSync(dir)) {
    mkdirSync(path.dirname(dir), { recursive: true });
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o700);
    return;
  }
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    log.warn({ dataDir: dir, mode: mode.toString(8) }, `data directory ${dir} is open to other local users (mode ${mode.toString(8)}): run chmod 700 ${dir}`);
  }
}
