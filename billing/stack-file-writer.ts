// Billing's one drastic action as a stack-file edit: set or lift a suspension, or delete instances, committed with a system author.
import { execFile } from "node:child_process";
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { writeIfUnchanged } from "../engine/allocation-writer.js";
import { ProxstackError } from "../lib/errors.js";
import type { UserStackSpec } from "../schemas/index.js";
import { removeInstance, setSuspension } from "../stackfiles/edit.js";
import { parseStackFile } from "../stackfiles/parse.js";

const run = promisify(execFile);

/**
 * The narrow interface billing changes desired state through; the portal's spec store can replace it.
 * Every method is idempotent: it reads the file first and does nothing when the change is already there.
 */
export interface SuspensionWriter {
  /** Records `suspension: {reason: points-exhausted, since}`; false when the file already has a suspension. */
  suspend(stack: string, since: string): Promise<boolean>;
  /** Removes a points-exhausted suspension; false when there is none (an admin suspension is never lifted here). */
  resume(stack: string): Promise<boolean>;
  /** Removes every instance that is not protected; returns the names removed. */
  removeUnprotectedInstances(stack: string): Promise<string[]>;
}

export const BILLING_AUTHOR = { name: "proxstack billing", email: "billing@proxstack.invalid" } as const;

export function createStackFileWriter(opts: { stacksDir: string; author?: { name: string; email: string } }): SuspensionWriter {
  const author = opts.author ?? BILLING_AUTHOR;
  const fileOf = (stack: string): string => join(opts.stacksDir, `${stack}.yaml`);

  /** Re-reads, edits and compare-and-swaps until the edit lands on the file as it is now; then commits. */
  const edit = async <T>(
    stack: string,
    change: (text: string, spec: UserStackSpec) => { text: string; result: T } | undefined,
    message: (r: T) => string,
  ): Promise<T | undefined> => {
    const file = fileOf(stack);
    for (let attempt = 0; attempt < 5; attempt++) {
      const text = await readFile(file, "utf8").catch((err: unknown) => {
        throw new ProxstackError("stackfile-missing", `cannot edit ${stack}.yaml: ${(err as Error).message}`, { kind: "retry", cause: err });
      });
      const parsed = parseStackFile(`${stack}.yaml`, text);
      if (!parsed.ok || parsed.kind !== "UserStack") {
        throw new ProxstackError(
          "stackfile-invalid",
          `cannot edit ${stack}.yaml: it does not validate (${parsed.ok ? "not a user stack" : (parsed.errors[0]?.message ?? "invalid")})`,
          { kind: "retry" },
        );
      }
      const next = change(text, parsed.spec);
      if (!next) return undefined;
      const written = await writeIfUnchanged(file, text, next.text);
      if (!written.ok) continue;
      await commit(opts.stacksDir, `${stack}.yaml`, message(next.result), author);
      return next.result;
    }
    throw new ProxstackError("stackfile-busy", `${stack}.yaml kept changing while billing edited it; retried 5 times`, { kind: "retry" });
  };

  return {
    suspend: async (stack, since) =>
      (await edit(
        stack,
        (text, spec) => (spec.suspension ? undefined : { text: setSuspension(text, { reason: "points-exhausted", since }), result: true }),
        () => `billing: suspend ${stack} (points exhausted)`,
      )) ?? false,
    resume: async (stack) =>
      (await edit(
        stack,
        (text, spec) => (spec.suspension?.reason !== "points-exhausted" ? undefined : { text: setSuspension(text, undefined), result: true }),
        () => `billing: resume ${stack} (points added)`,
      )) ?? false,
    removeUnprotectedInstances: async (stack) =>
      (await edit(
        stack,
        (text, spec) => {
          const names = spec.instances.filter((i) => !i.protect).map((i) => i.name);
          if (names.length === 0) return undefined;
          return { text: names.reduce((t, n) => removeInstance(t, n), text), result: names };
        },
        (names) => `billing: delete ${names.join(", ")} of ${stack} (suspended for points past the grace period)`,
      )) ?? [],
  };
}

/** Commits one file with the given author when the directory is a git repository. */
async function commit(dir: string, file: string, message: string, author: { name: string; email: string }): Promise<void> {
  try {
    await access(join(dir, ".git"));
  } catch {
    return;
  }
  const git = async (...args: string[]) => {
    // The engine or the portal may hold the index lock for a moment: retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        return await run("git", ["-C", dir, "-c", `user.name=${author.name}`, "-c", `user.email=${author.email}`, ...args]);
      } catch (err) {
        if (attempt >= 20 || !String((err as { stderr?: string }).stderr ?? "").includes("index.lock")) throw err;
        await new Promise((r) => setTimeout(r, 50 + attempt * 25));
      }
    }
  };
  await git("add", "--", file);
  const staged = await git("diff", "--cached", "--quiet", "--", file).then(
    () => false,
    () => true,
  );
  if (staged) await git("commit", "-q", "-m", message, "--", file);
}
