import { rmSync, renameSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { manualClock } from "../lib/clock.js";
import { ProxstackError } from "../lib/errors.js";
import { silentLogger } from "../lib/logger.js";
import { createEngine } from "./engine.js";
import { openStatusStore } from "./status/store.js";
import { createFakeRunner } from "./testing/fake-runner.js";
import { manualTimers } from "./timers.js";
import type { Engine } from "./engine.js";
import { engineOnFake, tempStacks, waitFor } from "./testing/engine-test-support.js";
import type { FakeRunner } from "./testing/fake-runner.js";
import type { Reason } from "./status/vocabulary.js";

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function started(opts: Parameters<typeof engineOnFake>[2] = {}) {
  const dir = tempStacks();
  const { engine, runner } = engineOnFake(dir.stacks, join(dir.root, "status.db"), opts);
  cleanups.push(
    () => dir.cleanup(),
    async () => {
      await engine.stop();
      engine.store.close();
    },
  );
  await engine.start();
  await waitFor(() => ["alice", "bob", "carol", "platform"].every((s) => engine.store.getStack(s)?.reason === "Applied"), "first convergence");
  await engine.idle();
  return { dir, engine, runner };
}

const reason = (e: Engine, s: string): Reason | undefined => e.store.getStack(s)?.reason;
const containers = (r: FakeRunner, s: string) => r.resources(s).map((x) => ({ name: x.name, ...x.inputs }) as { name: string } & Record<string, unknown>);
const ups = (r: FakeRunner, s: string) => r.calls.filter((c) => c.method === "up" && c.stack === s).length;

describe("engine on real files, chokidar and SQLite (fake runner)", () => {
  it("converges on start, allocates VMID and IP into the file keeping comments, and commits nothing outside git", async () => {
    const { dir, engine, runner } = await started();
    const carol = dir.read("carol");
    expect(carol).toContain("# Carol: a new instance with no vmid or ip yet");
    expect(carol).toMatch(/vmid: 2000\n/);
    expect(carol).toMatch(/ip: 10\.10\.0\.20\n/);
    expect(containers(runner, "carol")).toEqual([expect.objectContaining({ name: "carol/lab/container", vmId: 2000, ip: "10.10.0.20" })]);
    expect(engine.store.listInstances("carol")).toEqual([expect.objectContaining({ vmid: 2000, ip: "10.10.0.20", power: "running", state: "ready" })]);
    // bob is suspended: applied stopped.
    expect(containers(runner, "bob")[0]).toMatchObject({ started: false });
    await waitFor(() => reason(engine, "platform") === "Applied", "platform stack applied");
    expect(engine.store.mode).toBe("simulation");
    const run = engine.store.listRuns("alice", 1)[0];
    expect(run).toMatchObject({ state: "succeeded", action: "up" });
    expect(engine.store.runEvents(run!.id).some((e) => e.type === "summary")).toBe(true);
  });

  it("edit → converge; a resync of unchanged files runs nothing", async () => {
    const { dir, engine, runner } = await started();
    dir.write("alice", dir.read("alice").replace("power: stopped", "power: running"));
    await waitFor(() => containers(runner, "alice").find((c) => c.name === "alice/dev/container")?.started === true, "dev started");
    await waitFor(() => reason(engine, "alice") === "Applied", "alice applied");
    const before = runner.calls.length;
    const r = await engine.resync();
    expect(r.queued).toEqual([]);
    await engine.idle();
    expect(runner.calls.length).toBe(before);
  });

  it("delete an instance → its container is destroyed; rename → no replace of the others", async () => {
    const { dir, engine, runner } = await started();
    const text = dir.read("alice");
    dir.write("alice", text.slice(0, text.indexOf("  - name: dev")));
    await waitFor(() => containers(runner, "alice").length === 1, "dev destroyed");
    await waitFor(() => engine.store.listInstances("alice").length === 1, "instance row removed");

    // Renaming a protected instance would delete it: refused.
    dir.write(
      "alice",
      dir
        .read("alice")
        .replace("name: web", "name: site")
        .replace(/ *vmid: 2001\n/, "")
        .replace(/ *ip: 10\.10\.0\.21\n/, ""),
    );
    await waitFor(() => reason(engine, "alice") === "Protected", "rename of a protected instance refused", 3000).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${JSON.stringify(engine.store.getStack("alice"))} ${dir.read("alice")}`);
    });
    expect(containers(runner, "alice").map((c) => c.name)).toEqual(["alice/web/container"]);

    // Renaming an unprotected instance: that one is replaced by a new one; the others stay as they are.
    const carolText = dir.read("carol");
    dir.write("carol", `${carolText.trimEnd()}\n  - name: box\n    template: debian-12\n    plan: small\n`);
    await waitFor(() => containers(runner, "carol").length === 2, "carol has two instances");
    const boxBefore = containers(runner, "carol").find((c) => c.name === "carol/box/container");
    const labBefore = containers(runner, "carol").find((c) => c.name === "carol/lab/container");
    const upsBefore = ups(runner, "carol");
    dir.write(
      "carol",
      dir
        .read("carol")
        .replace("name: lab", "name: lab2")
        .replace(new RegExp(` *vmid: ${String(labBefore?.vmId)}\n`), "")
        .replace(new RegExp(` *ip: ${String(labBefore?.ip).replaceAll(".", "\\.")}\n`), ""),
    );
    await waitFor(
      () => containers(runner, "carol").some((c) => c.name === "carol/lab2/container") && reason(engine, "carol") === "Applied",
      "renamed instance created",
    );
    const lab2 = containers(runner, "carol").find((c) => c.name === "carol/lab2/container");
    // The renamed instance gets fresh values: the old container holds its own until the run deletes it.
    expect(lab2?.vmId).not.toBe(labBefore?.vmId);
    expect(containers(runner, "carol").find((c) => c.name === "carol/box/container")).toEqual(boxBefore);
    expect(containers(runner, "carol").some((c) => c.name === "carol/lab/container")).toBe(false);
    const runs = engine.store.listRuns("carol", 5).filter((r) => r.action === "up" && r.state === "succeeded");
    expect(ups(runner, "carol") - upsBefore).toBeGreaterThanOrEqual(1);
    for (const r of runs)
      expect(
        engine.store
          .runEvents(r.id)
          .filter((e) => e.op === "replace")
          .map((e) => `${r.id} ${e.urn ?? ""}`),
      ).toEqual([]);
  });

  it("an invalid file is never applied; the last good state stays; Stalled with the positioned message; fixing it clears", async () => {
    const { dir, engine, runner } = await started();
    const good = dir.read("alice");
    const upsBefore = ups(runner, "alice");
    const resourcesBefore = containers(runner, "alice");
    dir.write("alice", good.replace("plan: small", "plan: tiny"));
    await waitFor(() => reason(engine, "alice") === "InvalidSpec", "alice stalled");
    const s = engine.store.getStack("alice")!;
    expect(s.condition).toBe("Stalled");
    expect(s.message).toMatch(/alice\.yaml:\d+:\d+: .*tiny/);
    expect(ups(runner, "alice")).toBe(upsBefore);
    expect(containers(runner, "alice")).toEqual(resourcesBefore);
    dir.write("alice", good.replace("plan: small", "plan: medium"));
    await waitFor(() => reason(engine, "alice") === "Applied", "alice fixed and applied", 3000).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${JSON.stringify(engine.store.getStack("alice"))}`);
    });
    expect(containers(runner, "alice").find((c) => c.name === "alice/dev/container")?.plan).toBe("medium");
  });

  it("coalescing: 100 edits to one file while a run is in flight → at most 2 more runs", async () => {
    const { dir, engine, runner } = await started();
    const base = dir.read("carol");
    const upsBefore = ups(runner, "carol");
    const gate = runner.hold();
    dir.write("carol", base.replace("plan: small", "plan: medium"));
    await waitFor(() => runner.inFlight > 0, "a run in flight");
    for (let i = 0; i < 100; i++) {
      dir.write("carol", base.replace("plan: small", i % 2 ? "plan: large" : "plan: medium"));
      await new Promise((r) => setTimeout(r, 2));
    }
    dir.write("carol", base.replace("plan: small", "plan: large"));
    await new Promise((r) => setTimeout(r, 100));
    gate.release();
    await waitFor(() => containers(runner, "carol")[0]?.plan === "large" && reason(engine, "carol") === "Applied", "carol converged on the last edit");
    expect(ups(runner, "carol") - upsBefore).toBeLessThanOrEqual(2);
    expect(runner.overlaps).toBe(0);
  });

  it("refuses a plan that replaces a container the file did not ask to replace", async () => {
    const { dir, engine, runner } = await started();
    runner.forceOp("carol", "carol/lab/container", "replace");
    dir.write("carol", dir.read("carol").replace("plan: small", "plan: medium"));
    await waitFor(() => reason(engine, "carol") === "UnsafePlan", "carol refused");
    expect(engine.store.getStack("carol")?.message).toMatch(/replaces container carol\/lab\/container/);
    expect(containers(runner, "carol")[0]?.plan).toBe("small");
    // A resync does not try the refused spec again; only a change of the file does.
    const previews = runner.calls.filter((c) => c.method === "preview" && c.stack === "carol").length;
    expect((await engine.resync()).queued).toEqual([]);
    await engine.idle();
    expect(runner.calls.filter((c) => c.method === "preview" && c.stack === "carol").length).toBe(previews);
  });

  it("outputs that fail their schema fail the run as a bug (outputs-invalid): no instance takes the spec's values", async () => {
    const dir = tempStacks();
    const { createFakeRunner } = await import("./testing/fake-runner.js");
    const fake = createFakeRunner();
    // Outputs of the shape the fake runner used to return: a map of instances, no stack, no hostnames.
    const up: FakeRunner["up"] = async (t, o) => {
      const r = await fake.up(t, o);
      return t.name === "carol" ? { ...r, outputs: { instances: { lab: { vmid: 2000, ip: "10.10.0.20", power: "running" } } } } : r;
    };
    const runner: FakeRunner = { ...fake, up };
    const { engine } = engineOnFake(dir.stacks, join(dir.root, "status.db"), {
      runner,
      options: { backoff: { baseMs: 60_000, capMs: 60_000, stallAfter: 5 } },
    });
    cleanups.push(
      () => dir.cleanup(),
      async () => {
        await engine.stop();
        engine.store.close();
      },
    );
    await engine.start();
    await waitFor(() => reason(engine, "carol") === "Retrying", "carol's run failed");
    const run = engine.store.listRuns("carol", 1)[0];
    expect(run).toMatchObject({ state: "failed", errorCode: "outputs-invalid", outputs: undefined });
    expect(run?.errorMessage).toMatch(/^carol: run \d+: the outputs do not match their schema \(stack: /);
    expect(engine.store.listInstances("carol")).toEqual([]);
    expect(engine.store.getStack("carol")?.appliedHash).toBeUndefined();
  });

  it("a restart asks decide(): a refused spec is not previewed again", async () => {
    const { dir, engine, runner } = await started();
    runner.forceOp("carol", "carol/lab/container", "replace");
    dir.write("carol", dir.read("carol").replace("plan: small", "plan: medium"));
    await waitFor(() => reason(engine, "carol") === "UnsafePlan", "carol refused");
    await engine.stop();
    const again = engineOnFake(dir.stacks, join(dir.root, "status.db"), { runner });
    cleanups.push(async () => {
      await again.engine.stop();
      again.engine.store.close();
    });
    const previews = runner.calls.filter((c) => c.method === "preview" && c.stack === "carol").length;
    await again.engine.start();
    await again.engine.idle();
    expect(runner.calls.filter((c) => c.method === "preview" && c.stack === "carol").length).toBe(previews);
    expect(reason(again.engine, "carol")).toBe("UnsafePlan");
  });

  it("file removal: protected instances are never destroyed; unprotected stacks are", async () => {
    // No grace period and no brake here: what happens once a removal goes ahead (the brakes have their own tests below).
    const { dir, engine, runner } = await started({ options: { removalGraceMs: 0, removalHoldAboveShare: 1 } });
    rmSync(join(dir.stacks, "alice.yaml"));
    rmSync(join(dir.stacks, "carol.yaml"));
    await waitFor(() => reason(engine, "carol") === "Destroyed", "carol destroyed");
    await waitFor(() => reason(engine, "alice") === "Protected", "alice protected");
    expect(runner.resources("carol")).toEqual([]);
    expect(runner.resources("alice").length).toBe(2);
    expect(runner.calls.some((c) => c.method === "destroy" && c.stack === "alice")).toBe(false);
  });

  it("watcher: a pending removal becomes held as soon as more files go missing, and is released when they come back", async () => {
    const { dir, engine, runner } = await started({ options: { removalHoldAboveStacks: 1 } });
    const texts = { alice: dir.read("alice"), bob: dir.read("bob") };
    rmSync(join(dir.stacks, "carol.yaml"));
    await waitFor(() => reason(engine, "carol") === "PendingRemoval", "carol pending removal");
    expect(engine.store.getStack("carol")?.removalHeld).toBe(false);
    rmSync(join(dir.stacks, "alice.yaml"));
    rmSync(join(dir.stacks, "bob.yaml"));
    await waitFor(() => ["alice", "bob", "carol"].every((s) => engine.store.getStack(s)?.removalHeld === true), "all three held");
    dir.write("alice", texts.alice);
    dir.write("bob", texts.bob);
    const released = () =>
      reason(engine, "alice") === "Applied" && reason(engine, "bob") === "Applied" && engine.store.getStack("carol")?.removalHeld === false;
    await waitFor(released, "carol alone again, in its grace period");
    expect(reason(engine, "carol")).toBe("PendingRemoval");
    expect(runner.calls.filter((c) => c.method === "destroy")).toEqual([]);
  });

  it("a renamed file is a removal plus a new stack", async () => {
    const { dir, engine } = await started({ options: { removalGraceMs: 0 } });
    renameSync(join(dir.stacks, "carol.yaml"), join(dir.stacks, "dave.yaml"));
    // dave.yaml says name: carol: the validator refuses it, so dave is never applied.
    await waitFor(() => reason(engine, "dave") === "InvalidSpec", "dave refused");
    await waitFor(() => reason(engine, "carol") === "Destroyed", "carol destroyed");
  });

  it("editor temp files are ignored", async () => {
    const { dir, engine, runner } = await started();
    const before = runner.calls.length;
    for (const name of [".alice.yaml.swp", "alice.yaml~", ".#alice.yaml", "4913"]) {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(join(dir.stacks, name), "garbage: [");
    }
    await new Promise((r) => setTimeout(r, 200));
    await engine.idle();
    expect(runner.calls.length).toBe(before);
    expect(engine.store.getStack("alice")?.reason).toBe("Applied");
  });

  it("backoff: failures show Retrying then Stalled (RepeatedFailures), and clear on success", async () => {
    const { dir, engine, runner } = await started({ options: { backoff: { baseMs: 20, capMs: 80, stallAfter: 3 } } });
    const seen = new Set<string>();
    const off = engine.store.subscribe((e) => {
      if (e.type === "stack" && e.stack.name === "carol") seen.add(e.stack.reason);
    });
    runner.failNext(
      "up",
      4,
      () => new ProxstackError("pve-lock-timeout", "proxmox: can't lock file '/run/lock/lxc/pve-config-2000.conf' - got timeout", { kind: "retry" }),
      "carol",
    );
    dir.write("carol", dir.read("carol").replace("plan: small", "plan: medium"));
    await waitFor(() => reason(engine, "carol") === "Applied" && containers(runner, "carol")[0]?.plan === "medium", "carol converged after failures");
    off();
    expect(seen).toContain("Retrying");
    expect(seen).toContain("RepeatedFailures");
    expect(engine.store.getStack("carol")?.failures).toBe(0);
    const failed = engine.store.listRuns("carol", 10).filter((r) => r.state === "failed");
    expect(failed.length).toBe(4);
    expect(failed[0]?.errorCode).toBe("pve-lock-timeout");
  });

  it("post-deploy hook failure: degraded with a reason, retried, resources kept", async () => {
    let fail = 2;
    const calls: string[][] = [];
    const { engine, runner } = await started({
      hooks: {
        run: (ctx) => {
          calls.push(ctx.instances.filter((i) => i.changed).map((i) => i.name));
          const failed = ctx.stack === "carol" && fail-- > 0;
          const now = new Date().toISOString();
          return Promise.resolve([
            failed
              ? {
                  type: "ssh-harden",
                  status: "failed",
                  changed: false,
                  output: "",
                  error: { code: "ssh-unreachable", kind: "retry", reason: "connect ECONNREFUSED" },
                  startedAt: now,
                  finishedAt: now,
                  durationMs: 0,
                }
              : { type: "ssh-harden", status: "succeeded", changed: true, output: "ok", startedAt: now, finishedAt: now, durationMs: 0 },
          ]);
        },
      },
      options: { backoff: { baseMs: 20, capMs: 50, stallAfter: 5 } },
    });
    expect(engine.store.getStack("carol")?.reason).toBe("Applied");
    expect(fail).toBe(-1);
    expect(runner.calls.filter((c) => c.method === "destroy")).toEqual([]);
    expect(engine.store.listInstances("carol")[0]?.state).toBe("ready");
    expect(calls.some((c) => c.includes("lab"))).toBe(true);
  });

  it("500 domain edits across users → few platform runs", async () => {
    const { dir, engine, runner } = await started({ options: { platformQuietMs: 300, platformMaxWaitMs: 10_000 } });
    await waitFor(() => reason(engine, "platform") === "Applied", "platform applied");
    const before = ups(runner, "platform");
    const base = { alice: dir.read("alice"), carol: dir.read("carol") };
    for (let i = 0; i < 500; i++) {
      const who = i % 2 ? "alice" : "carol";
      const port = 1000 + i;
      const t =
        who === "alice"
          ? base.alice.replace("{ subdomain: api, port: 8080 }", `{ subdomain: api, port: ${port} }`)
          : base.carol.replace("plan: small", `plan: small\n    domains:\n      - { subdomain: www, port: ${port} }`);
      dir.write(who, t);
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(
      () =>
        ["alice", "carol"].every((s) => reason(engine, s) === "Applied") &&
        reason(engine, "platform") === "Applied" &&
        engine.store.getStack("platform")?.appliedHash === engine.index.platformHash(),
      "platform converged",
    );
    expect(ups(runner, "platform") - before).toBeLessThanOrEqual(3);
    expect(ups(runner, "platform") - before).toBeGreaterThanOrEqual(1);
  });

  it("20% faults across many stacks: Retrying and Stalled appear, and every stack converges", async () => {
    const dir = tempStacks();
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn x@y";
    for (let i = 0; i < 12; i++) {
      dir.write(
        `f${i}`,
        `apiVersion: proxstack.dev/v1\nkind: UserStack\nname: f${i}\nowner:\n  email: f${i}@example.com\nlinuxUser: f${i}\nsshKeys:\n  - ${key}\ninstances:\n  - name: a\n    template: debian-12\n    plan: small\n`,
      );
    }
    const { createFakeRunner } = await import("./testing/fake-runner.js");
    const runner = createFakeRunner();
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    runner.setFaultRate(0.2, () => new ProxstackError("pve-5xx", "proxmox: 500 simulated fault", { kind: "retry" }), random);
    // A stack that fails 3 times in a row shows Stalled, then clears.
    runner.failNext("up", 3, () => new ProxstackError("pve-timeout", "proxmox: timeout", { kind: "retry" }), "f0");
    const { engine } = engineOnFake(dir.stacks, join(dir.root, "status.db"), {
      runner,
      options: { backoff: { baseMs: 10, capMs: 40, stallAfter: 3 }, concurrency: 4 },
    });
    cleanups.push(
      () => dir.cleanup(),
      async () => {
        await engine.stop();
        engine.store.close();
      },
    );
    const seen = new Set<string>();
    engine.store.subscribe((e) => {
      if (e.type === "stack") seen.add(e.stack.reason);
    });
    await engine.start();
    const names = [...Array.from({ length: 12 }, (_, i) => `f${i}`), "alice", "bob", "carol", "platform"];
    await waitFor(() => names.every((n) => reason(engine, n) === "Applied"), "all stacks converged", 60_000);
    expect(seen).toContain("Retrying");
    expect(seen).toContain("RepeatedFailures");
    expect(engine.store.listStacks().every((s) => s.failures === 0)).toBe(true);
    expect(engine.store.listRuns(undefined, 500).some((r) => r.state === "failed" && r.errorCode === "pve-5xx")).toBe(true);
    const vmids = names.filter((n) => n !== "platform").flatMap((n) => engine.store.listInstances(n).map((i) => i.vmid));
    expect(new Set(vmids).size).toBe(vmids.length);
    expect(runner.overlaps).toBe(0);
  });
});

describe("a stack whose file goes missing (manual clock)", () => {
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn x@y";
  const GRACE = 10 * 60_000;

  /** An engine with the default removal brakes on a clock and timers the test moves; no watcher, so resync() stands for it. */
  async function manualEngine(extra = 0) {
    const dir = tempStacks();
    for (let i = 0; i < extra; i++) {
      const head = `apiVersion: proxstack.dev/v1\nkind: UserStack\nname: f${i}\nowner:\n  email: f${i}@example.com\nlinuxUser: f${i}\n`;
      dir.write(`f${i}`, `${head}sshKeys:\n  - ${key}\ninstances:\n  - name: a\n    template: debian-12\n    plan: small\n`);
    }
    const clock = manualClock(new Date("2026-11-30T10:00:00Z"));
    const timers = manualTimers(clock);
    const runner = createFakeRunner({ now: clock.now });
    const store = openStatusStore(join(dir.root, "status.db"), { clock });
    const engine = createEngine({
      stacksDir: dir.stacks,
      store,
      runner,
      clock,
      timers,
      log: silentLogger(),
      options: { watch: false, resyncIntervalMs: 0, refreshIntervalMs: 0, platformQuietMs: 10 },
    });
    cleanups.push(
      () => dir.cleanup(),
      async () => {
        await engine.stop();
        store.close();
      },
    );
    /** Lets runs finish (real I/O: files, SQLite), moving the manual clock 10 ms per look. */
    const settle = (cond: () => boolean, what: string) =>
      waitFor(() => {
        timers.advance(10);
        return cond();
      }, what);
    /** Moves the manual clock to `at` exactly (firing what falls due) and lets what that started run. */
    const advanceTo = async (at: number) => {
      timers.advance(at - clock.now().getTime());
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 2));
    };
    await engine.start();
    const users = ["alice", "bob", "carol", ...Array.from({ length: extra }, (_, i) => `f${i}`)];
    await settle(() => [...users, "platform"].every((s) => reason(engine, s) === "Applied"), "first convergence");
    const destroys = (s: string) => runner.calls.filter((c) => c.method === "destroy" && c.stack === s).length;
    return { dir, engine, runner, clock, settle, advanceTo, destroys };
  }

  it("is destroyed only after the grace period (10 minutes by default), shown as PendingRemoval with the time", async () => {
    const { dir, engine, runner, clock, settle, advanceTo, destroys } = await manualEngine();
    rmSync(join(dir.stacks, "carol.yaml"));
    const gone = clock.now().getTime();
    await engine.resync();
    await settle(() => reason(engine, "carol") === "PendingRemoval", "carol pending removal");
    const s = engine.store.getStack("carol")!;
    expect([s.condition, s.removalAt, s.removalHeld]).toEqual(["Reconciling", new Date(gone + GRACE).toISOString(), false]);
    const at = new Date(gone + GRACE).toISOString();
    expect(s.message).toBe(
      `carol.yaml is missing: its resources are destroyed at ${at} unless the file comes back; 'proxstack destroy carol' destroys them now`,
    );
    await advanceTo(gone + GRACE - 1);
    expect(destroys("carol")).toBe(0);
    expect(runner.resources("carol").length).toBe(1);
    expect(reason(engine, "carol")).toBe("PendingRemoval");
    await advanceTo(gone + GRACE);
    await settle(() => reason(engine, "carol") === "Destroyed", "carol destroyed after the grace period");
    expect(destroys("carol")).toBe(1);
    expect(runner.resources("carol")).toEqual([]);
  });

  it("a file that comes back during the grace period cancels the removal", async () => {
    const { dir, engine, runner, clock, settle, advanceTo, destroys } = await manualEngine();
    const text = dir.read("carol");
    rmSync(join(dir.stacks, "carol.yaml"));
    const gone = clock.now().getTime();
    await engine.resync();
    await settle(() => reason(engine, "carol") === "PendingRemoval", "carol pending removal");
    await advanceTo(gone + GRACE / 2);
    dir.write("carol", text);
    await engine.resync();
    await settle(() => reason(engine, "carol") === "Applied", "carol back to Applied");
    expect(engine.store.getStack("carol")?.removalAt).toBeUndefined();
    await advanceTo(gone + 2 * GRACE);
    expect(destroys("carol")).toBe(0);
    expect(runner.resources("carol").length).toBe(1);
    expect(reason(engine, "carol")).toBe("Applied");
  });

  it("more than 3 files (or more than 10% of the stacks) missing at once: none is destroyed until 'destroy' confirms one", async () => {
    const { dir, engine, clock, settle, advanceTo, destroys } = await manualEngine(5);
    const texts = { f1: dir.read("f1"), f2: dir.read("f2") };
    for (const f of ["f0", "f1", "f2", "f3"]) rmSync(join(dir.stacks, `${f}.yaml`));
    const gone = clock.now().getTime();
    await engine.resync();
    await settle(() => ["f0", "f1", "f2", "f3"].every((f) => reason(engine, f) === "PendingRemoval"), "four pending removals");
    for (const f of ["f0", "f1", "f2", "f3"]) {
      const s = engine.store.getStack(f)!;
      expect([s.removalHeld, s.removalAt]).toEqual([true, new Date(gone + GRACE).toISOString()]);
      expect(s.message).toBe(
        `${f}.yaml is missing and so are others: 4 of 8 stack files are missing at once (f0, f1, f2, f3; the brake holds above 3, or above 10% of the stacks). ` +
          `Nothing is destroyed until 'proxstack destroy ${f}' confirms it, or the files come back`,
      );
    }
    await advanceTo(gone + 3 * GRACE);
    expect(["f0", "f1", "f2", "f3"].map(destroys)).toEqual([0, 0, 0, 0]);

    // `proxstack destroy f0` confirms one; the other three stay held (3 of 7 is still more than 10%).
    await engine.destroy("f0");
    expect(reason(engine, "f0")).toBe("Destroyed");
    await engine.resync();
    await advanceTo(gone + 4 * GRACE);
    expect(["f0", "f1", "f2", "f3"].map(destroys)).toEqual([1, 0, 0, 0]);
    expect(["f1", "f2", "f3"].map((f) => engine.store.getStack(f)?.removalHeld)).toEqual([true, true, true]);

    // Two files come back: the one still missing is alone, its grace is long over, and it goes.
    dir.write("f1", texts.f1);
    dir.write("f2", texts.f2);
    await engine.resync();
    await settle(
      () => reason(engine, "f3") === "Destroyed" && reason(engine, "f1") === "Applied" && reason(engine, "f2") === "Applied",
      "f3 destroyed, f1 and f2 back",
    );
    expect(["f0", "f1", "f2", "f3"].map(destroys)).toEqual([1, 0, 0, 1]);
  });
});
