// The real `git` run on the stacks repository (execFile, no library reimplementing it); its failures become ProxstackError here, at one boundary.
import { execFile } from "node:child_process";
import { ProxstackError } from "../lib/errors.js";

/** Who commits when nobody else is named (rollback, sync bookkeeping). */
export interface GitIdentity {
  name: string;
  email: string;
}

export const ENGINE_IDENTITY: GitIdentity = { name: "proxstack engine", email: "engine@proxstack.invalid" };

export interface GitResult {
  stdout: string;
  stderr: string;
  /** Exit code; 0 on success. */
  code: number;
}

export interface Git {
  /** The directory git runs in (`git -C dir`); paths are relative to it where git allows. */
  readonly dir: string;
  /** Runs git; a non-zero exit is returned, not thrown (the caller decides what it means). */
  exec(args: readonly string[], opts?: { input?: string }): Promise<GitResult>;
  /** Runs git and returns stdout with the trailing newline removed; throws `git-failed` on a non-zero exit. */
  out(...args: string[]): Promise<string>;
  /** Runs git and returns stdout as bytes (file contents); throws `git-failed` on a non-zero exit. */
  bytes(...args: string[]): Promise<Buffer>;
  /** Whether git exits 0. */
  ok(...args: string[]): Promise<boolean>;
}

/** How long git may keep going before it is stopped: a fetch from a dead remote must not hang a timer. */
const GIT_TIMEOUT_MS = 120_000;

/**
 * A git runner for one directory. The identity is passed per command (`-c user.name=…`), never written
 * into the repository's config; prompts are off so a remote asking for a password fails instead of hanging.
 */
export function createGit(dir: string, identity: GitIdentity = ENGINE_IDENTITY): Git {
  const base = ["-C", dir, "-c", `user.name=${identity.name}`, "-c", `user.email=${identity.email}`];
  // The child's environment, not configuration: no prompts, no editors, and English messages (stderr is matched below).
  const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", GIT_EDITOR: "true", GIT_MERGE_AUTOEDIT: "no" };

  const raw = (args: readonly string[], input: string | undefined, encoding: "utf8" | "buffer") =>
    new Promise<{ stdout: string | Buffer; stderr: string; code: number }>((resolve, reject) => {
      const child = execFile("git", [...base, ...args], { env, encoding, maxBuffer: 64 * 1024 * 1024, timeout: GIT_TIMEOUT_MS }, (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
        if (e && typeof e.code !== "number") {
          reject(new ProxstackError("git-unavailable", `git ${args[0] ?? ""}: ${e.message}`, { kind: "retry", cause: e }));
          return;
        }
        resolve({ stdout, stderr: String(stderr), code: e ? Number(e.code) : 0 });
      });
      if (input !== undefined) child.stdin?.end(input);
    });

  // Another writer (the engine's allocation commit, the portal) may hold the index lock a moment.
  const withLockRetry = async (args: readonly string[], input: string | undefined, encoding: "utf8" | "buffer") => {
    for (let attempt = 0; ; attempt++) {
      const r = await raw(args, input, encoding);
      if (r.code === 0 || attempt >= 20 || !r.stderr.includes("index.lock")) return r;
      await new Promise((res) => setTimeout(res, 50 + attempt * 25));
    }
  };

  const failed = (args: readonly string[], r: { stderr: string; code: number }) =>
    new ProxstackError("git-failed", `git ${args.join(" ")}: ${firstLines(r.stderr) || `exit ${r.code}`}`, { kind: "retry" });

  return {
    dir,
    async exec(args, opts = {}) {
      const r = await withLockRetry(args, opts.input, "utf8");
      return { stdout: String(r.stdout), stderr: r.stderr, code: r.code };
    },
    async out(...args) {
      const r = await withLockRetry(args, undefined, "utf8");
      if (r.code !== 0) throw failed(args, r);
      return String(r.stdout).replace(/\n$/, "");
    },
    async bytes(...args) {
      const r = await withLockRetry(args, undefined, "buffer");
      if (r.code !== 0) throw failed(args, r);
      return r.stdout as Buffer;
    },
    async ok(...args) {
      return (await withLockRetry(args, undefined, "utf8")).code === 0;
    },
  };
}

/**
 * Commits one file of the repository as it is on disk (written, changed or deleted); false when it holds no
 * change. One git process for a file git tracks; a new file is added first. The runner's identity commits;
 * `author` (`Name <email>`) is whom the change is from when someone else asked for it.
 */
export async function commitFile(git: Git, file: string, message: string, opts: { author?: GitIdentity } = {}): Promise<boolean> {
  const author = opts.author ? ["--author", `${opts.author.name} <${opts.author.email}>`] : [];
  const commit = ["commit", "-q", "--no-verify", ...author, "-m", message, "--", file];
  let r = await git.exec(commit);
  if (r.code !== 0 && /did not match any file/.test(r.stderr)) {
    await git.out("add", "--", file);
    r = await git.exec(commit);
  }
  if (r.code === 0) return true;
  if (/nothing to commit|nothing added to commit|no changes added to commit/.test(r.stdout + r.stderr)) return false;
  throw new ProxstackError("git-failed", `git commit -- ${file}: ${firstLines(r.stderr) || `exit ${r.code}`}`, { kind: "retry" });
}

function firstLines(text: string): string {
  return text.trim().split("\n").slice(0, 3).join("; ");
}
