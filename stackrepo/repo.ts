// Reading the stacks repository through git: revisions, the stack files as they were at one, the working tree, and the check of a change.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ProxstackError } from "../lib/errors.js";
import { isStackFileName } from "../stackfiles/validate.js";
import { checkChange, type CheckOptions, type CheckReport, type StackTree } from "./check.js";
import { createGit, type Git } from "./git.js";
import { OWNERS_FILE } from "./owners.js";

const inTree = (name: string) => name === OWNERS_FILE || isStackFileName(name);

/** Opens the stacks directory as a git repository; a directory outside any repository is a `stall` error naming it. */
export async function openStackRepo(dir: string): Promise<Git> {
  const git = createGit(dir);
  if (!(await git.ok("rev-parse", "--is-inside-work-tree"))) {
    throw new ProxstackError("not-a-repository", `${dir} is not inside a git repository`, { kind: "stall" });
  }
  return git;
}

/** The full commit id of a revision, or undefined when git does not know it. */
export async function resolveRevision(git: Git, rev: string): Promise<string | undefined> {
  const r = await git.exec(["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Where the stacks directory sits in its repository, e.g. `stacks/` (empty at the top), for paths a reader recognises. */
export async function repoPrefix(git: Git): Promise<string> {
  return git.out("rev-parse", "--show-prefix");
}

/** The stack files (and OWNERS) of the stacks directory as committed at `commit`. */
export async function treeAtRevision(git: Git, commit: string): Promise<Map<string, Uint8Array>> {
  const names = (await git.out("ls-tree", "-z", "--name-only", commit, "--", ".")).split("\0").filter((n) => n !== "" && inTree(n));
  const out = new Map<string, Uint8Array>();
  for (const name of names) out.set(name, await git.bytes("show", `${commit}:./${name}`));
  return out;
}

/** The stack files (and OWNERS) of the stacks directory as they are on disk, committed or not. */
export async function workingTree(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const name of (await readdir(dir)).filter(inTree).sort()) {
    if ((await stat(join(dir, name))).isFile()) out.set(name, await readFile(join(dir, name)));
  }
  return out;
}

export interface RepoCheckOptions extends CheckOptions {
  /** The revision the change is compared with (a branch, tag or commit). */
  base: string;
}

/**
 * Checks the change between `base` and the working tree of the stacks directory (in CI the working tree
 * is the pull request's head). Throws `unknown-revision` (a usage problem) when git does not know `base`.
 */
export async function checkStackRepo(dir: string, opts: RepoCheckOptions): Promise<CheckReport> {
  const git = await openStackRepo(dir);
  const base = await resolveRevision(git, opts.base);
  if (base === undefined)
    throw new ProxstackError("unknown-revision", `git does not know the revision '${opts.base}' in ${dir} (fetch it first?)`, { kind: "stall" });
  const prefix = await repoPrefix(git);
  const before: StackTree = await treeAtRevision(git, base);
  const after: StackTree = await workingTree(dir);
  const head = await resolveRevision(git, "HEAD");
  const dirty = (await git.out("status", "--porcelain", "--", ".")) !== "";
  return checkChange(
    before,
    after,
    { base, head: head === undefined ? "working tree" : dirty ? `${head.slice(0, 12)} + working tree` : head },
    { ...opts, displayPrefix: prefix },
  );
}
