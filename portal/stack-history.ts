// The git history of one stack file in the stacks repository: what the portal shows as an instance's history.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ProxstackError } from "../lib/errors.js";

const run = promisify(execFile);

export interface StackCommit {
  sha: string;
  author: string;
  email: string;
  at: string;
  subject: string;
}

/** Newest first, at most `limit` commits that touched `<stack>.yaml`. */
export type StackHistory = (stack: string, limit: number) => Promise<StackCommit[]>;

const SEP = "\u001f";

export function gitStackHistory(stacksDir: string): StackHistory {
  return async (stack, limit) => {
    if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(stack))
      throw new ProxstackError("bad-stack-name", `not a stack name: ${JSON.stringify(stack)}`, { kind: "bug" });
    try {
      const { stdout } = await run(
        "git",
        ["-C", stacksDir, "log", `--max-count=${limit}`, `--format=%H${SEP}%an${SEP}%ae${SEP}%aI${SEP}%s`, "--", `${stack}.yaml`],
        {
          maxBuffer: 4 * 1024 * 1024,
        },
      );
      return stdout
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => {
          const [sha = "", author = "", email = "", at = "", subject = ""] = l.split(SEP);
          return { sha, author, email, at, subject };
        });
    } catch (err) {
      throw new ProxstackError("git-log-failed", `cannot read the history of ${stack}.yaml: ${(err as Error).message}`, { kind: "retry", cause: err });
    }
  };
}
