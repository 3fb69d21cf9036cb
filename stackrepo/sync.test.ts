// Sync on real git (a bare remote and clones): merged changes arrive, local commits are rebased and pushed, a conflict loses nothing.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { manualClock } from "../lib/clock.js";
import { openStatusStore } from "../engine/status/store.js";
import { manualTimers } from "../engine/timers.js";
import type { CliIo } from "../scripts/cli.js";
import { main } from "../scripts/proxstack.js";
import { CONFLICT_BRANCH_PREFIX, startSyncTimer, syncStackRepo, syncStatus } from "./sync.js";
import { createGitFixture, type GitFixture } from "./testing/git-fixture.js";

const clock = manualClock(new Date("2026-11-30T10:00:00.000Z"));
let fx: GitFixture | undefined;
afterEach(() => fx?.cleanup());

function setup() {
  fx = createGitFixture("sync-", { subdir: "" });
  const server = fx.clone("server");
  const pr = fx.clone("pr");
  const dataDir = join(fx.root, "data");
  const sync = () => syncStackRepo({ dir: server, dataDir, clock });
  const remoteHead = () => execFileSync("git", ["--git-dir", fx!.remote, "rev-parse", "main"], { encoding: "utf8" }).trim();
  const remoteFile = (file: string) => execFileSync("git", ["--git-dir", fx!.remote, "show", `main:${file}`], { encoding: "utf8" });
  return { fx, server, pr, dataDir, sync, remoteHead, remoteFile };
}

/** A pull request merged on the remote: commit in the PR clone and push to main. */
function merge(f: GitFixture, pr: string, file: string, edit: (t: string) => string, author = "bob@example.com"): string {
  f.git(pr, ["pull", "-q", "--ff-only"]);
  f.write(pr, file, edit(f.read(pr, file)));
  const sha = f.commit(pr, `PR: ${file}`, author);
  f.git(pr, ["push", "-q", "origin", "HEAD:main"]);
  return sha;
}

describe("syncStackRepo", () => {
  it("a directory without a remote: no-remote, written to sync.json", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sync-noremote-"));
    try {
      execFileSync("git", ["-C", dir, "init", "-q", "-b", "main"]);
      const data = join(dir, ".data");
      expect(await syncStackRepo({ dir, dataDir: data, clock })).toEqual({
        state: "no-remote",
        at: "2026-11-30T10:00:00.000Z",
        lastSuccessAt: "2026-11-30T10:00:00.000Z",
      });
      expect(syncStatus(data)?.state).toBe("no-remote");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a merged change reaches the stacks directory by fast-forward; the next sync is up to date", async () => {
    const { fx, server, pr, sync, dataDir } = setup();
    const sha = merge(fx, pr, "alice.yaml", (t) => t.replace("power: stopped", "power: running"));
    const s = await sync();
    expect(s).toMatchObject({ state: "fast-forwarded", remote: "origin", branch: "main", head: sha, upstream: sha });
    expect(fx.read(server, "alice.yaml")).toContain("    power: running\n    vmid: 2002");
    expect(syncStatus(dataDir)).toEqual(s);
    expect((await sync()).state).toBe("up-to-date");
  });

  it("local commits only: pushed", async () => {
    const { fx, server, sync, remoteHead } = setup();
    fx.write(server, "carol.yaml", fx.read(server, "carol.yaml").replace("plan: small", "plan: medium"));
    const local = fx.commit(server, "portal: carol resizes lab", "carol@example.com");
    expect(await sync()).toMatchObject({ state: "pushed", head: local });
    expect(remoteHead()).toBe(local);
  });

  it("a portal edit and a merged pull request on the same file, different lines: both survive, rebased and pushed", async () => {
    const { fx, server, pr, sync, remoteHead, remoteFile } = setup();
    const merged = merge(fx, pr, "alice.yaml", (t) => t.replace("power: stopped", "power: running"));
    fx.write(server, "alice.yaml", fx.read(server, "alice.yaml").replace("plan: medium", "plan: large"));
    fx.commit(server, "portal: alice resizes web", "alice@example.com");
    const s = await sync();
    expect(s.state).toBe("rebased");
    const text = fx.read(server, "alice.yaml");
    expect(text).toContain("plan: large");
    expect(text).toContain("    power: running\n    vmid: 2002");
    expect(remoteHead()).toBe(s.head);
    expect(remoteFile("alice.yaml")).toBe(text);
    // History kept, never rewritten on the remote: the merged commit is an ancestor, the portal's author kept.
    expect(fx.git(server, ["merge-base", "--is-ancestor", merged, "HEAD"])).toBe("");
    expect(fx.git(server, ["log", "-1", "--format=%ae %s"])).toBe("alice@example.com portal: alice resizes web");
  });

  it("both sides change the same line: the conflict is reported, the stacks directory and the remote keep their sides, the local side is pushed aside", async () => {
    const { fx, server, pr, sync, dataDir, remoteHead, remoteFile } = setup();
    expect((await sync()).state).toBe("up-to-date");
    const merged = merge(fx, pr, "alice.yaml", (t) => t.replace("plan: small", "plan: large"));
    fx.write(server, "alice.yaml", fx.read(server, "alice.yaml").replace("plan: small", "plan: medium"));
    const local = fx.commit(server, "portal: alice resizes dev", "alice@example.com");
    const before = readFileSync(join(server, "alice.yaml"), "utf8");

    clock.advance(60_000);
    const s = await sync();
    const side = `${CONFLICT_BRANCH_PREFIX}${local.slice(0, 12)}`;
    expect(s).toMatchObject({
      state: "conflict",
      head: local,
      upstream: merged,
      lastSuccessAt: "2026-11-30T10:00:00.000Z",
      conflict: { files: ["alice.yaml"], local, remote: merged, pushedTo: side },
    });
    expect(s.conflict?.message).toContain("the engine keeps applying the local state");
    expect(syncStatus(dataDir)).toEqual(s);
    // Nothing lost: the watched file is untouched (no conflict markers), the remote keeps the merge, the local commit is on the remote too.
    expect(readFileSync(join(server, "alice.yaml"), "utf8")).toBe(before);
    expect(fx.git(server, ["rev-parse", "HEAD"])).toBe(local);
    expect(fx.git(server, ["status", "--porcelain"])).toBe("");
    expect(remoteHead()).toBe(merged);
    expect(remoteFile("alice.yaml")).toContain("plan: large");
    expect(execFileSync("git", ["--git-dir", fx.remote, "rev-parse", side], { encoding: "utf8" }).trim()).toBe(local);
    expect(fx.git(server, ["worktree", "list"]).split("\n")).toHaveLength(1);

    // Resolved on the remote (the side branch merged by hand, keeping medium): the next sync takes it in.
    fx.git(pr, ["fetch", "-q"]);
    fx.git(pr, ["reset", "-q", "--hard", "origin/main"]);
    fx.git(pr, ["merge", "-q", "-s", "ours", `origin/${side}`, "-m", "resolve"]);
    fx.write(pr, "alice.yaml", before);
    fx.commit(pr, "resolve: dev stays medium");
    fx.git(pr, ["push", "-q", "origin", "HEAD:main"]);
    expect((await sync()).state).toBe("fast-forwarded");
    expect(fx.read(server, "alice.yaml")).toBe(before);
  });

  it("an uncommitted edit in the way of a merged change: nothing is changed, the error says why", async () => {
    const { fx, server, pr, sync } = setup();
    merge(fx, pr, "alice.yaml", (t) => t.replace("plan: small", "plan: large"));
    const editing = fx.read(server, "alice.yaml").replace("power: stopped", "power: running");
    writeFileSync(join(server, "alice.yaml"), editing);
    const s = await sync();
    expect(s.state).toBe("error");
    expect(s.error).toMatch(/uncommitted edits in the stacks directory \(alice\.yaml\) would be overwritten/);
    expect(fx.read(server, "alice.yaml")).toBe(editing);
  });

  it("a remote that cannot be reached: error, the stacks directory untouched", async () => {
    const { fx, server, sync } = setup();
    fx.git(server, ["remote", "set-url", "origin", join(fx.root, "gone.git")]);
    mkdirSync(join(fx.root, "gone.git"));
    const s = await sync();
    expect(s.state).toBe("error");
    expect(s.error).toMatch(/^git fetch --quiet --prune origin: /);
  });
});

describe("proxstack sync", () => {
  it("pulls a merged change (exit 0), reports a conflict (exit 1) with the status in <data dir>/sync.json", async () => {
    const { fx, server, pr, dataDir } = setup();
    let out = "";
    const io: CliIo = {
      stdout: (t) => void (out += t),
      stderr: () => undefined,
      env: { PROXSTACK_DATA_DIR: dataDir, PROXSTACK_STACKS_DIR: server, LOG_LEVEL: "silent" },
      cwd: fx.root,
    };
    const sha = merge(fx, pr, "bob.yaml", (t) => t.replace("plan: small", "plan: medium"));
    expect(await main(["sync"], io)).toBe(0);
    expect(out).toBe(`sync: fast-forwarded (origin/main) at ${sha.slice(0, 12)}\n`);
    merge(fx, pr, "bob.yaml", (t) => t.replace("plan: medium", "plan: large"));
    fx.write(server, "bob.yaml", fx.read(server, "bob.yaml").replace("plan: medium", "plan: small"));
    fx.commit(server, "portal: bob shrinks app", "bob@example.com");
    out = "";
    expect(await main(["sync", "--json"], io)).toBe(1);
    expect(JSON.parse(out)).toMatchObject({ state: "conflict", conflict: { files: ["bob.yaml"] } });
    expect(syncStatus(dataDir)?.state).toBe("conflict");
    expect(await main(["sync", "--bogus"], io)).toBe(2);

    // proxstack status shows the conflict beside the stacks.
    openStatusStore(join(dataDir, "engine.db"), { clock }).close();
    out = "";
    expect(await main(["status"], io)).toBe(0);
    expect(out).toMatch(
      /\nsync: conflict at \S+ \(origin\/main\)\n    conflict in bob\.yaml: local commits and origin\/main both changed bob\.yaml; nothing was merged/,
    );
    out = "";
    await main(["status", "--json"], io);
    expect((JSON.parse(out) as { sync: { state: string } }).sync.state).toBe("conflict");
  });
});

describe("startSyncTimer", () => {
  it("syncs at once, then every interval; triggers during a sync coalesce into one more; stop waits", async () => {
    const c = manualClock(new Date("2026-11-30T10:00:00.000Z"));
    const timers = manualTimers(c);
    const calls: string[] = [];
    let release: (() => void) | undefined;
    const timer = startSyncTimer({
      timers,
      intervalMs: 1000,
      sync: () => {
        calls.push(c.now().toISOString().slice(11, 19));
        return new Promise<void>((r) => (release = r));
      },
    });
    expect(calls).toEqual(["10:00:00"]);
    timer.trigger();
    timer.trigger();
    release?.();
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(["10:00:00", "10:00:00"]);
    release?.();
    await new Promise((r) => setImmediate(r));
    expect(timers.pending()).toBe(1);
    timers.advance(999);
    expect(calls).toHaveLength(2);
    timers.advance(1);
    expect(calls).toEqual(["10:00:00", "10:00:00", "10:00:01"]);
    timer.trigger();
    expect(calls).toHaveLength(3);
    const stopped = timer.stop();
    release?.();
    await stopped;
    expect(timers.pending()).toBe(0);
    timers.advance(5000);
    expect(calls).toHaveLength(3);
  });
});
