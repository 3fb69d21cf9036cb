// Syncing the stacks directory with its remote: fetch, fast-forward merged changes, rebase and push local commits (portal, billing,
// the engine's allocations); a conflict never loses either side and never touches the watched files; the outcome goes to <data dir>/sync.json.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock } from "../lib/clock.js";
import { chainMessage } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { Timers } from "../engine/timers.js";
import { SyncStatusSchema, type SyncStatus } from "../schemas/sync-status.js";
import { createGit, type Git } from "./git.js";

/** Where the status is kept, inside the data dir. */
export const SYNC_STATUS_FILE = "sync.json";

/** Branch prefix on the remote where the local side of a conflict is pushed for someone to resolve. */
export const CONFLICT_BRANCH_PREFIX = "proxstack/conflict-";

export interface SyncDeps {
  /** The stacks directory (inside a git repository). */
  dir: string;
  /** Where sync.json is written; nothing is written when absent. */
  dataDir?: string;
  clock: Clock;
  log?: Logger;
  /**
   * Serialises git work with the other writers of the repository (the portal's spec store, the engine's
   * allocation commits) when they share it. @default runs directly (git's index lock still guards each command)
   */
  gate?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * One sync. Never throws for git trouble: the outcome (including errors) is returned and written to
 * `<dataDir>/sync.json`. The watched working tree only ever moves by a fast-forward or by `reset --keep`
 * to an already rebased commit, both of which refuse to overwrite uncommitted edits; a rebase runs in a
 * throwaway worktree, so a conflict leaves the stacks directory exactly as it was (the engine keeps
 * applying the last good state) and the remote exactly as it was, and pushes the local side to
 * `proxstack/conflict-<sha>` on the remote so nothing lives only on this machine.
 */
export async function syncStackRepo(deps: SyncDeps): Promise<SyncStatus> {
  const gate = deps.gate ?? (<T>(fn: () => Promise<T>) => fn());
  const previous = deps.dataDir ? syncStatus(deps.dataDir) : undefined;
  let status: SyncStatus;
  try {
    status = await gate(() => syncOnce(createGit(deps.dir), deps.clock));
  } catch (err) {
    status = { state: "error", at: deps.clock.now().toISOString(), error: chainMessage(err) };
  }
  const ok = status.state !== "conflict" && status.state !== "error";
  status = { ...status, ...(ok ? { lastSuccessAt: status.at } : previous?.lastSuccessAt ? { lastSuccessAt: previous.lastSuccessAt } : {}) };
  if (deps.dataDir) writeStatus(deps.dataDir, status);
  const log = deps.log?.child({ component: "sync" });
  if (status.state === "conflict") log?.warn({ conflict: status.conflict }, status.conflict?.message ?? "sync conflict");
  else if (status.state === "error") log?.warn({ error: status.error }, `sync failed: ${status.error ?? ""}`);
  else log?.info({ state: status.state, head: status.head }, `stacks sync: ${status.state}`);
  return status;
}

/** The last sync's outcome as written by {@link syncStackRepo}; undefined when none was written or the file is unreadable. */
export function syncStatus(dataDir: string): SyncStatus | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, SYNC_STATUS_FILE), "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = SyncStatusSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function syncOnce(git: Git, clock: Clock): Promise<SyncStatus> {
  const at = () => clock.now().toISOString();
  const remotes = (await git.out("remote")).split("\n").filter(Boolean);
  const remote = remotes.includes("origin") ? "origin" : remotes[0];
  if (remote === undefined) return { state: "no-remote", at: at() };
  const branch = await git.out("symbolic-ref", "--quiet", "--short", "HEAD").catch(() => undefined);
  if (branch === undefined)
    return { state: "error", at: at(), remote, error: "the stacks repository is on a detached HEAD; check out its branch (e.g. git checkout main)" };
  const where = { remote, branch };

  await git.out("fetch", "--quiet", "--prune", remote);
  const local = await git.out("rev-parse", "HEAD");
  const upstream = await git.out("rev-parse", "--verify", "--quiet", `refs/remotes/${remote}/${branch}`).catch(() => undefined);
  if (upstream === undefined) {
    await git.out("push", "--quiet", remote, `HEAD:refs/heads/${branch}`);
    return { state: "pushed", at: at(), ...where, head: local, upstream: local };
  }
  if (local === upstream) return { state: "up-to-date", at: at(), ...where, head: local, upstream };

  if (await git.ok("merge-base", "--is-ancestor", local, upstream)) {
    const ff = await git.exec(["merge", "--ff-only", "--quiet", upstream]);
    if (ff.code !== 0) return blocked(at(), where, local, upstream, ff.stderr);
    return { state: "fast-forwarded", at: at(), ...where, head: upstream, upstream };
  }
  if (await git.ok("merge-base", "--is-ancestor", upstream, local)) {
    return push(git, at, where, local, upstream, "pushed");
  }

  const rebased = await rebaseAside(git, local, upstream);
  if (!rebased.ok) {
    const side = `${CONFLICT_BRANCH_PREFIX}${local.slice(0, 12)}`;
    const pushed = await git.ok("push", "--quiet", "--force", remote, `${local}:refs/heads/${side}`);
    return {
      state: "conflict",
      at: at(),
      ...where,
      head: local,
      upstream,
      conflict: {
        files: rebased.files,
        local,
        remote: upstream,
        ...(pushed ? { pushedTo: side } : {}),
        message:
          `local commits and ${remote}/${branch} both changed ${rebased.files.join(", ") || "the same lines"}; nothing was merged: the engine keeps applying ` +
          `the local state (${local.slice(0, 12)}) and ${remote}/${branch} stays at ${upstream.slice(0, 12)}. ` +
          (pushed
            ? `The local side is on ${remote} as branch ${side}: resolve it there with a pull request, and the next sync takes the result in.`
            : `Resolve it by merging ${remote}/${branch} into the stacks repository by hand.`),
      },
    };
  }
  // Only move the watched tree if nobody committed while the rebase ran; otherwise the next tick starts over.
  if ((await git.out("rev-parse", "HEAD")) !== local)
    return { state: "error", at: at(), ...where, head: local, upstream, error: "a local commit arrived during the sync; retried on the next tick" };
  const moved = await git.exec(["reset", "--keep", rebased.head]);
  if (moved.code !== 0) return blocked(at(), where, local, upstream, moved.stderr);
  return push(git, at, where, rebased.head, upstream, "rebased");
}

async function push(
  git: Git,
  at: () => string,
  where: { remote: string; branch: string },
  head: string,
  upstream: string,
  state: "pushed" | "rebased",
): Promise<SyncStatus> {
  const r = await git.exec(["push", "--quiet", where.remote, `${head}:refs/heads/${where.branch}`]);
  if (r.code !== 0) {
    // The remote moved again since the fetch (another merge): the next tick fetches and rebases again.
    return {
      state: "error",
      at: at(),
      ...where,
      head,
      upstream,
      error: `push to ${where.remote}/${where.branch} refused: ${r.stderr.trim().split("\n")[0] ?? ""}; retried on the next tick`,
    };
  }
  return { state, at: at(), ...where, head, upstream: head };
}

function blocked(at: string, where: { remote: string; branch: string }, local: string, upstream: string, stderr: string): SyncStatus {
  const files = [...stderr.matchAll(/^\s+(\S+)$/gm)].map((m) => m[1]).filter(Boolean);
  return {
    state: "error",
    at,
    ...where,
    head: local,
    upstream,
    error: `uncommitted edits in the stacks directory${files.length ? ` (${files.join(", ")})` : ""} would be overwritten by the merged changes; nothing was changed, retried on the next tick`,
  };
}

/** Rebases `local` onto `upstream` in a throwaway worktree: the stacks directory never sees a half-done rebase. */
async function rebaseAside(git: Git, local: string, upstream: string): Promise<{ ok: true; head: string } | { ok: false; files: string[] }> {
  const dir = join(tmpdir(), `proxstack-sync-${randomBytes(6).toString("hex")}`);
  await git.out("worktree", "add", "--quiet", "--detach", dir, local);
  const aside = createGit(dir);
  try {
    const r = await aside.exec(["rebase", "--quiet", upstream]);
    if (r.code === 0) return { ok: true, head: await aside.out("rev-parse", "HEAD") };
    const files = (await aside.out("diff", "--name-only", "--relative", "--diff-filter=U").catch(() => "")).split("\n").filter(Boolean);
    await aside.exec(["rebase", "--abort"]);
    return { ok: false, files };
  } finally {
    await git.exec(["worktree", "remove", "--force", dir]);
    await rm(dir, { recursive: true, force: true });
    await git.exec(["worktree", "prune"]);
  }
}

function writeStatus(dataDir: string, status: SyncStatus): void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, SYNC_STATUS_FILE);
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(tmp, JSON.stringify(status, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, file);
}

export interface SyncTimerDeps {
  /** One sync, e.g. `() => syncStackRepo(deps)`. */
  sync: () => Promise<unknown>;
  timers: Timers;
  /** Time between syncs. @default 60000 */
  intervalMs?: number;
  log?: Logger;
}

export interface SyncTimer {
  /** Syncs as soon as the running sync (if any) ends; several triggers meanwhile make one sync. The webhook calls this. */
  trigger(): void;
  /** Stops the timer and waits for a sync in flight. */
  stop(): Promise<void>;
}

/**
 * Serve's sync loop: a sync now, then every `intervalMs`; `trigger()` (the git webhook) brings the next one
 * forward. Never two syncs at once.
 */
export function startSyncTimer(deps: SyncTimerDeps): SyncTimer {
  const interval = deps.intervalMs ?? 60_000;
  let handle: unknown;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const schedule = () => {
    if (stopped) return;
    deps.timers.clearTimeout(handle);
    handle = deps.timers.setTimeout(() => fire(), interval);
  };
  const fire = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    deps.timers.clearTimeout(handle);
    running = deps
      .sync()
      .then(
        () => undefined,
        (err: unknown) => deps.log?.error({ err }, `stacks sync failed: ${chainMessage(err)}`),
      )
      .finally(() => {
        running = undefined;
        if (again && !stopped) {
          again = false;
          fire();
        } else schedule();
      });
  };
  fire();
  return {
    trigger: fire,
    async stop() {
      stopped = true;
      deps.timers.clearTimeout(handle);
      await running;
    },
  };
}
