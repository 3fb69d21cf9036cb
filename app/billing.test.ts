// End to end with the engine in simulation: a user runs out → the stack file shows the suspension → containers stop → top-up → exactly those run again.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createProxmoxClient, type ProxmoxClient } from "../clients/proxmox/client.js";
import type { BillingNotice } from "../billing/notifier.js";
import { waitFor } from "../engine/testing/engine-test-support.js";
import { manualClock } from "../lib/clock.js";
import { silentLogger } from "../lib/logger.js";
import { loadConfig } from "../schemas/config.js";
import { openBilling, startBilling, type OpenedBilling } from "./billing.js";
import { composeEngine, type ComposedEngine } from "./compose.js";

const REPO = resolve(import.meta.dirname, "..");
let composed: ComposedEngine | undefined;
let opened: OpenedBilling | undefined;
let root: string | undefined;
afterEach(async () => {
  opened?.close();
  await composed?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  composed = undefined;
  opened = undefined;
  root = undefined;
});

async function containers(pve: ProxmoxClient): Promise<Record<number, string>> {
  const out: Record<number, string> = {};
  for (const c of await pve.listContainers("pve1")) if (c.template !== 1) out[c.vmid] = c.status;
  return out;
}

describe("billing with the engine in simulation", () => {
  it("points run out: suspension in the stack file, containers stopped; a top-up resumes exactly the instances that were running", async () => {
    root = mkdtempSync(join(tmpdir(), "billing-e2e-"));
    const config = loadConfig({ PROXSTACK_DATA_DIR: join(root, "data") }, root);
    composed = await composeEngine(config, { log: silentLogger(), repoRoot: REPO, options: { debounceMs: 30, platformQuietMs: 100 } });
    const { engine } = composed;
    await engine.start();
    const pve = createProxmoxClient({ endpoint: composed.simulators.pve!.url, token: composed.simulators.pve!.token, taskPollMs: 10 });
    await waitFor(() => ["alice", "bob", "carol", "platform"].every((s) => engine.store.getStack(s)?.reason === "Applied"), "first convergence", 60_000);
    const before = await containers(pve);
    expect(before).toEqual({ 2000: "running", 2001: "running", 2002: "stopped", 2003: "stopped" });

    const clock = manualClock(new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000));
    const notices: BillingNotice[] = [];
    // Wired as `serve` wires it: the engine's status and the engine's index of the stack files.
    opened = openBilling(config, {
      log: silentLogger(),
      clock,
      status: engine.store,
      index: engine.index,
      notifier: { notify: async (n) => void notices.push(n) },
    });
    const { billing } = opened;
    const at = (minutes: number) => new Date(clock.now().getTime() + minutes * 60_000);

    // Signup bonus of 100 points, then all but 0.01 taken: about 12 s of runway at 74 points/day.
    await billing.tick(at(0));
    await billing.grant("alice", "-99.99", "test: nearly empty", at(0));
    const last = await billing.tick(at(1));
    expect(last.stacks.find((s) => s.stack === "alice")).toMatchObject({ dueMicro: 51_388n, chargedMicro: 10_000n, balanceMicro: 0n });
    expect(last.suspended).toEqual(["alice"]);
    expect(notices.map((n) => [n.type, n.stack])).toEqual([
      ["runway-warning", "alice"],
      ["suspended", "alice"],
    ]);

    const alice = join(config.stacksDir, "alice.yaml");
    expect(readFileSync(alice, "utf8")).toContain(`suspension:\n  reason: points-exhausted\n  since: ${at(1).toISOString()}\n`);
    expect(execFileSync("git", ["-C", config.stacksDir, "log", "-1", "--format=%an <%ae>|%s"], { encoding: "utf8" }).trim()).toBe(
      "proxstack billing <billing@proxstack.invalid>|billing: suspend alice (points exhausted)",
    );
    await waitFor(async () => (await containers(pve))[2001] === "stopped", "alice/web stopped by the engine", 60_000);
    await waitFor(() => engine.store.getStack("alice")?.reason === "Applied", "alice applied", 60_000);
    expect(await containers(pve)).toEqual({ 2000: "running", 2001: "stopped", 2002: "stopped", 2003: "stopped" });

    // Suspended and stopped: nothing more is charged, and a tick does not suspend again.
    const idle = await billing.tick(at(30));
    expect(idle.stacks.find((s) => s.stack === "alice")).toMatchObject({ dueMicro: 0n, burnPerDayMicro: 0n });
    expect([idle.suspended, idle.resumed]).toEqual([[], []]);

    await billing.grant("alice@example.com", "50", "test: top-up", at(31));
    const resumed = await billing.tick(at(32));
    expect(resumed.resumed).toEqual(["alice"]);
    expect(readFileSync(alice, "utf8")).toBe(readFileSync(join(REPO, "stacks", "alice.yaml"), "utf8"));
    await waitFor(async () => (await containers(pve))[2001] === "running", "alice/web running again", 60_000);
    await waitFor(() => engine.store.getStack("alice")?.reason === "Applied", "alice applied", 60_000);
    expect(await containers(pve)).toEqual(before);
    expect(notices.map((n) => n.type)).toEqual(["runway-warning", "suspended", "resumed"]);
    const status = await billing.status(at(32), "alice");
    expect(status.users[0]).toMatchObject({ stack: "alice", balanceMicro: 50_000_000n, suspended: false });
    expect(opened.repo.account("alice")?.balanceMicro).toBe(opened.repo.ledgerSum("alice"));
  }, 240_000);
});

describe("startBilling", () => {
  it("ticks once at start with the injected clock, then on each scheduled minute; stop waits and closes", async () => {
    root = mkdtempSync(join(tmpdir(), "billing-start-"));
    const config = loadConfig({ PROXSTACK_DATA_DIR: join(root, "data") }, root);
    cpSync(join(REPO, "stacks"), config.stacksDir, { recursive: true });
    const clock = manualClock(new Date("2027-01-04T10:00:00Z"));
    const status = [
      { stack: "alice", name: "web", vmid: 2001, ip: "10.10.0.21", power: "running" as const, state: "ready" as const, updatedAt: "2027-01-04T10:00:00.000Z" },
    ];
    let fire: (() => Promise<void>) | undefined;
    const started = await startBilling(config, {
      log: silentLogger(),
      clock,
      status: { listInstances: () => status },
      notifier: { notify: async () => undefined },
      scheduler: (_expr, run) => {
        fire = run;
        return { stop: () => (fire = undefined) };
      },
    });
    expect(started.repo.account("alice")?.balanceMicro).toBe(100_000_000n);
    clock.advance(60 * 60_000);
    await fire!();
    expect(started.repo.account("alice")?.balanceMicro).toBe(100_000_000n - 3_000_000n - 83_333n);
    await started.stop();
    expect(fire).toBeUndefined();
  });
});
