// Real git repositories for tests: a bare remote seeded with the checkout's stacks/ (plus OWNERS) and any number of clones, in a temp dir.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const CHECKOUT = resolve(import.meta.dirname, "../..");

export interface GitFixture {
  root: string;
  /** The bare repository every clone pushes to (a stand-in for GitHub). */
  remote: string;
  /** Clones the remote into `<root>/<name>`; returns the clone's top directory. */
  clone(name: string): string;
  /** Runs git in `dir` as `author` (`Name <email>`-style identity from the e-mail). */
  git(dir: string, args: string[], author?: string): string;
  /** Writes `<subdir>/<file>` of a clone. */
  write(clone: string, file: string, text: string): void;
  read(clone: string, file: string): string;
  /** `git add -A && git commit` in a clone; returns the new commit id. */
  commit(clone: string, message: string, author?: string): string;
  cleanup(): void;
}

export const DEFAULT_OWNERS = "# operators may change every file; each user their own stack file (owner.email)\n*  ops@example.com\n";

/**
 * A remote whose `main` holds this checkout's stack files plus an OWNERS file, as one commit: under `stacks/`
 * (a project repository, as in CI), or at the top with `subdir: ""` (the engine's `<data dir>/stacks`).
 */
export function createGitFixture(prefix = "stackrepo-", opts: { subdir?: string } = {}): GitFixture {
  const subdir = opts.subdir ?? "stacks";
  const root = mkdtempSync(join(tmpdir(), prefix));
  const git = (dir: string, args: string[], author = "ops@example.com"): string =>
    execFileSync("git", ["-C", dir, "-c", `user.name=${author.split("@")[0]}`, "-c", `user.email=${author}`, "-c", "init.defaultBranch=main", ...args], {
      encoding: "utf8",
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    }).replace(/\n$/, "");
  const seed = join(root, "seed");
  mkdirSync(seed);
  git(seed, ["init", "-q", "-b", "main"]);
  cpSync(join(CHECKOUT, "stacks"), join(seed, subdir), { recursive: true, filter: (src) => !src.endsWith("OWNERS") });
  writeFileSync(join(seed, subdir, "OWNERS"), DEFAULT_OWNERS);
  writeFileSync(join(seed, "README.md"), "stacks repository\n");
  git(seed, ["add", "-A"]);
  git(seed, ["commit", "-q", "-m", "initial stack files"]);
  const remote = join(root, "remote.git");
  execFileSync("git", ["clone", "-q", "--bare", seed, remote]);
  rmSync(seed, { recursive: true, force: true });
  const fx: GitFixture = {
    root,
    remote,
    clone(name) {
      const dir = join(root, name);
      execFileSync("git", ["clone", "-q", remote, dir]);
      return dir;
    },
    git,
    write(clone, file, text) {
      writeFileSync(join(clone, subdir, file), text);
    },
    read(clone, file) {
      return readFileSync(join(clone, subdir, file), "utf8");
    },
    commit(clone, message, author) {
      git(clone, ["add", "-A"], author);
      git(clone, ["commit", "-q", "-m", message], author);
      return git(clone, ["rev-parse", "HEAD"]);
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
  return fx;
}
