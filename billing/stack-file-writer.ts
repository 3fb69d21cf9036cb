// Billing's one drastic action as a stack-file edit: set or lift a suspension, or delete instances, committed with a system author.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeIfUnchanged } from "../engine/allocation-writer.js";
import { ProxstackError } from "../lib/errors.js";
import type { UserStackSpec } from "../schemas/index.js";
import { removeInstance, setSuspension } from "../stackfiles/edit.js";
import { parseStackFile } from "../stackfiles/parse.js";
import { commitFile, createGit } from "../stackrepo/git.js";

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
  const git = createGit(opts.stacksDir, opts.author ?? BILLING_AUTHOR);
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
      if (existsSync(join(opts.stacksDir, ".git"))) await commitFile(git, `${stack}.yaml`, message(next.result));
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
