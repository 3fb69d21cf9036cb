// Writes allocations back into a stack file, preserving comments and layout, with compare-and-swap on the file's content.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { setAllocation } from "../stackfiles/edit.js";
import type { Assignment } from "./allocation.js";

const run = promisify(execFile);

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
 * Replaces the file only if it still holds `expected`: re-reads just before an atomic rename, so an
 * edit made since the engine read the file is never overwritten (the caller re-reads and retries).
 */
export async function writeIfUnchanged(path: string, expected: string, next: string): Promise<CasResult> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  await writeFile(tmp, next, "utf8");
  const now = await readFile(path, "utf8").catch(() => undefined);
  if (now !== expected) {
    await rm(tmp, { force: true });
    return { ok: false, reason: "changed" };
  }
  await rename(tmp, path);
  return { ok: true, text: next };
}

/** Commits one file of the stacks directory when the directory is a git repository; a no-op otherwise. */
export async function commitStackFile(dir: string, file: string, message: string): Promise<boolean> {
  try {
    await access(join(dir, ".git"));
  } catch {
    return false;
  }
  const git = async (...args: string[]) => {
    // Another writer (the portal) may hold the index lock for a moment: retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        return await run("git", ["-C", dir, "-c", "user.name=proxstack engine", "-c", "user.email=engine@proxstack.invalid", ...args]);
      } catch (err) {
        if (attempt >= 20 || !String((err as { stderr?: string }).stderr ?? "").includes("index.lock")) throw err;
        await new Promise((r) => setTimeout(r, 50 + attempt * 25));
      }
    }
  };
  await git("add", "--", file);
  const staged = await git("diff", "--cached", "--quiet", "--", file).then(() => false, () => true);
  if (!staged) return false;
  await git("commit", "-q", "-m", message, "--", file);
  return true;
}
