// From pull request to applied change, in simulation: the engine watches a clone of a bare remote; a merged change arrives by sync and
// is applied, the engine's allocation commits are pushed back, and a rollback commit is applied like any other change.
import { afterAll, describe, expect, it } from "vitest";
import { composeEngine, type ComposedEngine } from "../app/compose.js";
import { createProxmoxClient } from "../clients/proxmox/client.js";
import { systemClock } from "../lib/clock.js";
import { silentLogger } from "../lib/logger.js";
import { loadConfig } from "../schemas/config.js";
import { waitFor } from "../engine/testing/engine-test-support.js";
import { commitRollback, planRollback } from "./rollback.js";
import { syncStackRepo } from "./sync.js";
import { CHECKOUT, createGitFixture } from "./testing/git-fixture.js";
import { join } from "node:path";
import { execFileSync } from "node:child_process";

const fx = createGitFixture("gitops-sim-", { subdir: "" });
let composed: ComposedEngine | undefined;
afterAll(async () => {
  await composed?.close();
  fx.cleanup();
});

describe("git as the interface, engine in simulation", () => {
  it("merged pull request → sync → applied; allocations pushed back; rollback → applied again", async () => {
    const server = fx.clone("server");
    const dataDir = join(fx.root, "data");
    const config = loadConfig({ PROXSTACK_DATA_DIR: dataDir, PROXSTACK_STACKS_DIR: server }, fx.root);
    composed = await composeEngine(config, {
      log: silentLogger(),
      repoRoot: CHECKOUT,
      options: { debounceMs: 30, platformQuietMs: 100, refreshIntervalMs: 0 },
    });
    const { engine } = composed;
    await engine.start();
    const pve = createProxmoxClient({ endpoint: composed.simulators.pve!.url, token: composed.simulators.pve!.token, taskPollMs: 10 });
    const power = async (vmid: number) => (await pve.listContainers("pve1")).find((c) => c.vmid === vmid)?.status;
    await waitFor(() => ["alice", "bob", "carol", "platform"].every((s) => engine.store.getStack(s)?.reason === "Applied"), "first convergence", 90_000);
    expect(await power(2000)).toBe("running");

    // The engine committed carol's allocation locally; sync pushes it so pull requests start from it.
    const sync = () => syncStackRepo({ dir: server, dataDir, clock: systemClock });
    expect((await sync()).state).toBe("pushed");
    expect(execFileSync("git", ["--git-dir", fx.remote, "show", "main:carol.yaml"], { encoding: "utf8" })).toContain("vmid: 2000");

    // A pull request stops carol's lab; merged on the remote; sync brings it; the engine applies it.
    const pr = fx.clone("pr");
    fx.write(pr, "carol.yaml", fx.read(pr, "carol.yaml").replace("plan: small", "plan: small\n    power: stopped"));
    const merged = fx.commit(pr, "carol: stop lab", "carol@example.com");
    fx.git(pr, ["push", "-q", "origin", "HEAD:main"]);
    expect(await sync()).toMatchObject({ state: "fast-forwarded", head: merged });
    await waitFor(async () => (await power(2000)) === "stopped", "carol's lab stopped by the merged change", 60_000);
    await waitFor(() => engine.store.getStack("carol")?.reason === "Applied", "carol applied", 60_000);

    // Rolling carol back to before the pull request starts the lab again.
    const plan = await planRollback(server, "carol", `${merged}~1`);
    expect(plan.report.stacks.map((s) => ({ stack: s.stack, changed: s.changed }))).toEqual([
      { stack: "carol", changed: [{ instance: "lab", fields: ["power"] }] },
    ]);
    await commitRollback(server, plan, { name: "proxstack rollback", email: "rollback@proxstack.invalid" });
    await waitFor(async () => (await power(2000)) === "running", "carol's lab running again after the rollback", 60_000);
    expect((await sync()).state).toBe("pushed");
    expect(execFileSync("git", ["--git-dir", fx.remote, "log", "-1", "--format=%s", "main"], { encoding: "utf8" })).toMatch(
      /^rollback carol to [0-9a-f]{40}~1/,
    );
  }, 240_000);
});
