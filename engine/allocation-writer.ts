// Writes allocations back into a stack file, preserving comments and layout, with compare-and-swap on the file's content.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ProxstackError } from "../lib/errors.js";
import { setAllocation } from "../stackfiles/edit.js";
import { commitFile, createGit, ENGINE_IDENTITY } from "../stackrepo/git.js";
import type { Assignment } from "./allocation.js";

/** Sets `vmid` and `ip` of named instances, keeping comments and formatting (stackfiles/edit.ts). */
export function setInstanceAllocations(text: string, assignments: readonly Assignment[]): string {
  let out = text;
  for (const a of assignments) {
    out = setAllocation(out, a.instance, { ...(a.vmid !== undefined ? { vmid: a.vmid } : {}), ...(a.ip !== undefined ? { ip: a.ip } : {}) });
  }
  return out;
}

/** The result of a compare-and-swap write. */
export type CasResult = { ok: true; text: string } | { ok: false; reason: "changed" };

/**
 * Replaces the file only if it still holds `expected`: under the file's lock (see withFileLock),
 * re-reads just before an atomic rename, so an edit made since the engine read the file is never
 * overwritten (the caller re-reads and retries), and two proxstack writers never both pass the compare.
 */
export async function writeIfUnchanged(path: string, expected: string, next: string, lock: FileLockOptions = {}): Promise<CasResult> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  await writeFile(tmp, next, "utf8");
  try {
    return await withFileLock(
      path,
      async (): Promise<CasResult> => {
        const now = await readFile(path, "utf8").catch(() => undefined);
        if (now !== expected) return { ok: false, reason: "changed" };
        await rename(tmp, path);
        return { ok: true, text: next };
      },
      lock,
    );
  } finally {
    await rm(tmp, { force: true });
  }
}

export interface FileLockOptions {
  /** How long to wait for another writer's lock. @default 10000 */
  timeoutMs?: number;
  /** A lock file older than this is a crashed writer's and is taken over. @default 30000 */
  staleMs?: number;
}

/**
 * Runs `fn` holding the lock of `path`: the file `.<name>.lock` beside it, created exclusively, so every
 * proxstack writer of stack files (the engine's allocations, the portal's edits) takes turns, across
 * processes too. Editors do not take it; the compare in writeIfUnchanged covers them. The lock's name
 * starts with a dot, which the watcher ignores.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: FileLockOptions = {}): Promise<T> {
  const lock = join(dirname(path), `.${basename(path)}.lock`);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const staleMs = opts.staleMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new ProxstackError("stack-file-lock-failed", `cannot create the lock ${lock}: ${(err as Error).message}`, { kind: "retry", cause: err });
      }
      const held = await stat(lock).catch(() => undefined);
      // mtime is wall-clock time on disk, so it is compared with the wall clock.
      if (held && Date.now() - held.mtimeMs > staleMs) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new ProxstackError(
          "stack-file-locked",
          `${path} is being written by another proxstack process (lock ${lock} held over ${Math.round(timeoutMs / 1000)}s); try again`,
          {
            kind: "retry",
          },
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(5 + attempt * 5, 100)));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

/** Commits one file of the stacks directory when the directory is a git repository; a no-op otherwise. */
export async function commitStackFile(dir: string, file: string, message: string): Promise<boolean> {
  if (!existsSync(join(dir, ".git"))) return false;
  return commitFile(createGit(dir, ENGINE_IDENTITY), file, message);
}
