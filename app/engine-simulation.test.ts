// The composed engine against the in-process simulators: edits make containers appear, change and disappear.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { createProxmoxClient, type ProxmoxClient } from "../clients/proxmox/client.js";
import { silentLogger } from "../lib/logger.js";
import { loadConfig } from "../schemas/config.js";
import { composeEngine, type ComposedEngine } from "./compose.js";
import { waitFor } from "../engine/testing/engine-test-support.js";

const REPO = resolve(import.meta.dirname, "..");
let composed: ComposedEngine | undefined;
let root: string | undefined;
afterEach(async () => {
  await composed?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  composed = undefined;
  root = undefined;
});

async function containers(pve: ProxmoxClient): Promise<{ vmid: number; status: string }[]> {
  return (await pve.listContainers("pve1"))
    .filter((c) => c.template !== 1)
    .map((c) => ({ vmid: c.vmid, status: c.status }))
    .sort((a, b) => a.vmid - b.vmid);
}

describe("engine + simulation runner + simulators", () => {
  it("fresh data dir: stacks repo created, everything applied; edits add, change and remove containers", async () => {
    root = mkdtempSync(join(tmpdir(), "engine-sim-"));
    const config = loadConfig({ PROXSTACK_DATA_DIR: join(root, "data") }, root);
    composed = await composeEngine(config, { log: silentLogger(), repoRoot: REPO, options: { debounceMs: 30, platformQuietMs: 100 } });
    expect(composed.mode).toBe("simulation");
    const { engine } = composed;
    await engine.start();
    const pve = createProxmoxClient({ endpoint: composed.simulators.pve!.url, token: composed.simulators.pve!.token, taskPollMs: 10 });
    await waitFor(() => ["alice", "bob", "carol", "platform"].every((s) => engine.store.getStack(s)?.reason === "Applied"), "first convergence", 60_000);
    expect(await containers(pve)).toEqual([
      { vmid: 2000, status: "running" },
      { vmid: 2001, status: "running" },
      { vmid: 2002, status: "stopped" },
      { vmid: 2003, status: "stopped" },
    ]);
    expect(engine.store.mode).toBe("simulation");
    expect(execFileSync("git", ["-C", config.stacksDir, "log", "--format=%s"], { encoding: "utf8" })).toMatch(
      /engine: allocate carol: lab vmid 2000 ip 10\.10\.0\.20/,
    );

    const carol = join(config.stacksDir, "carol.yaml");
    writeFileSync(carol, readFileSync(carol, "utf8").trimEnd() + "\n  - name: extra\n    template: ubuntu-24\n    plan: small\n");
    await waitFor(async () => (await containers(pve)).some((c) => c.vmid === 2004 && c.status === "running"), "new container running", 60_000);

    const alice = join(config.stacksDir, "alice.yaml");
    writeFileSync(alice, readFileSync(alice, "utf8").replace("power: stopped", "power: running"));
    await waitFor(async () => (await containers(pve)).find((c) => c.vmid === 2002)?.status === "running", "dev started", 60_000);

    const text = readFileSync(carol, "utf8");
    writeFileSync(carol, text.slice(0, text.indexOf("  - name: extra")));
    await waitFor(async () => !(await containers(pve)).some((c) => c.vmid === 2004), "removed container gone", 60_000);
    await waitFor(() => engine.store.getStack("carol")?.reason === "Applied", "carol applied", 60_000);
    expect(engine.store.listInstances("carol").map((i) => i.name)).toEqual(["lab"]);
  });

  it("drift: a container stopped behind the engine's back is found by the scheduled refresh and started again", async () => {
    root = mkdtempSync(join(tmpdir(), "engine-drift-"));
    const config = loadConfig({ PROXSTACK_DATA_DIR: join(root, "data") }, root);
    composed = await composeEngine(config, { log: silentLogger(), repoRoot: REPO, options: { debounceMs: 30, platformQuietMs: 100, refreshIntervalMs: 0 } });
    const { engine } = composed;
    await engine.start();
    const pve = createProxmoxClient({ endpoint: composed.simulators.pve!.url, token: composed.simulators.pve!.token, taskPollMs: 10 });
    await waitFor(() => ["alice", "bob", "carol", "platform"].every((s) => engine.store.getStack(s)?.reason === "Applied"), "first convergence", 60_000);
    const runsBefore = engine.store.listRuns("alice").length;

    // Nothing drifted: a refresh pass applies nothing.
    expect(engine.refresh()).toEqual(expect.arrayContaining(["alice", "bob", "carol", "platform"]));
    await engine.idle();
    expect(engine.store.listRuns("alice")).toHaveLength(runsBefore);

    await pve.stopContainer("pve1", 2001);
    expect((await containers(pve)).find((c) => c.vmid === 2001)?.status).toBe("stopped");
    engine.refresh();
    await waitFor(async () => (await containers(pve)).find((c) => c.vmid === 2001)?.status === "running", "alice/web started again", 30_000);
    await waitFor(() => engine.store.getStack("alice")?.reason === "Applied", "alice Applied again", 30_000);
    expect(engine.store.listRuns("alice").length).toBe(runsBefore + 1);
  });

  it("Proxmox faults at 20% (5xx and lock timeouts): every stack converges; a total outage shows Stalled, which clears", async () => {
    root = mkdtempSync(join(tmpdir(), "engine-sim-faults-"));
    const config = loadConfig({ PROXSTACK_DATA_DIR: join(root, "data") }, root);
    composed = await composeEngine(config, {
      log: silentLogger(),
      repoRoot: REPO,
      options: { debounceMs: 30, platformQuietMs: 100, backoff: { baseMs: 50, capMs: 300, stallAfter: 2 } },
    });
    const { engine } = composed;
    const sims = composed.simulators.pve!;
    const seen = new Set<string>();
    engine.store.subscribe((e) => {
      if (e.type === "stack") seen.add(e.stack.reason);
    });
    // Every request fails until the fault is cleared: runs fail, retry, and the stacks show Stalled.
    sims.setFaults({ errorRate: 1 });
    await engine.start();
    await waitFor(() => engine.store.getStack("alice")?.reason === "RepeatedFailures", "alice stalled on repeated failures", 60_000).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${JSON.stringify(engine.store.listStacks().map((s) => [s.name, s.reason, s.failures, s.message]))}`);
    });
    expect(engine.store.getStack("alice")?.condition).toBe("Stalled");
    expect(engine.store.getStack("alice")?.message).toMatch(/simulated fault|500/);
    sims.setFaults({ errorRate: 0.1, lockTimeoutRate: 0.1 });
    await waitFor(
      () => ["alice", "bob", "carol", "platform"].every((s) => engine.store.getStack(s)?.reason === "Applied"),
      "convergence under faults",
      120_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${JSON.stringify(engine.store.listStacks().map((s) => [s.name, s.reason, s.failures, s.message]))}`);
    });
    sims.setFaults({});
    const pve = createProxmoxClient({ endpoint: sims.url, token: sims.token, taskPollMs: 10 });
    expect((await containers(pve)).map((c) => c.vmid)).toEqual([2000, 2001, 2002, 2003]);
    expect(seen).toContain("Retrying");
    expect(engine.store.listStacks().every((s) => s.condition === "Ready" && s.failures === 0)).toBe(true);
  }, 300_000);
});
