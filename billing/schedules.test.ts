// Scheduled snapshots and backups against the Proxmox simulator; and the minute job: clock injected, never two runs at once.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createProxmoxClient, type ProxmoxClient } from "../clients/proxmox/client.js";
import type { InstanceStatus } from "../engine/status/store.js";
import { manualClock } from "../lib/clock.js";
import { silentLogger } from "../lib/logger.js";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { simulatorSeedFromPlatform } from "../sim/seed.js";
import { startProxmoxSimulator, type ProxmoxSimulator } from "../sim/proxmox/server.js";
import { parseStackFile } from "../stackfiles/parse.js";
import { latestSlot } from "./cron-slot.js";
import { createBillingJobs } from "./jobs.js";
import { openLedgerRepository, type LedgerRepository } from "./ledger-repository.js";
import type { BillingNotice } from "./notifier.js";
import { runSchedules, type ScheduleDeps } from "./schedules.js";

const REPO = resolve(import.meta.dirname, "..");
const parse = <T>(file: string): T => {
  const r = parseStackFile(file, readFileSync(join(REPO, "stacks", file), "utf8"));
  if (!r.ok) throw new Error(`${file} does not parse`);
  return r.spec as T;
};

let dir: string | undefined;
let sim: ProxmoxSimulator | undefined;
let repo: LedgerRepository | undefined;
afterEach(async () => {
  repo?.close();
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  sim = undefined;
  repo = undefined;
});

describe("latestSlot", () => {
  const iso = (m: number | undefined) => (m === undefined ? undefined : new Date(m * 60_000).toISOString());
  it.each([
    ["0 3 * * *", "2026-11-30T10:00:00Z", "2026-11-30T03:00:00.000Z"],
    ["0 3 * * *", "2026-11-30T02:59:59Z", "2026-11-29T03:00:00.000Z"],
    ["30 3 * * *", "2026-11-30T03:30:00Z", "2026-11-30T03:30:00.000Z"],
    ["0 4 * * 0", "2026-11-30T10:00:00Z", "2026-11-29T04:00:00.000Z"],
    ["*/15 2-4 1,15 * mon", "2026-11-30T10:00:00Z", "2026-06-15T04:45:00.000Z"],
    ["0 0 1 1 *", "2026-11-30T10:00:00Z", "2026-01-01T00:00:00.000Z"],
  ])("%s at %s → %s", (expr, now, slot) => {
    expect(iso(latestSlot(expr, new Date(now)))).toBe(slot);
  });
});

describe("scheduled snapshots and backups (Proxmox simulator)", () => {
  it("a schedule first seen starts from its latest slot; missed slots run once; only proxstack's own snapshots and backups are pruned to keep", async () => {
    dir = mkdtempSync(join(tmpdir(), "billing-sched-"));
    const platform = parse<PlatformSpec>("platform.yaml");
    let simNow = Date.parse("2026-11-30T10:00:00Z");
    sim = await startProxmoxSimulator({ dbPath: join(dir, "pve.db"), ...simulatorSeedFromPlatform(platform).proxmox, taskDelayMs: 0, now: () => simNow });
    const pve: ProxmoxClient = createProxmoxClient({ endpoint: sim.url, token: sim.token, taskPollMs: 5 });
    await pve.createContainer("pve1", { vmid: 2001, ostemplate: "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst", hostname: "web" });
    await pve.createSnapshot("pve1", 2001, "mine", "taken by the user");

    const alice = parse<UserStackSpec>("alice.yaml");
    const web = { ...alice.instances[0]!, snapshots: { schedule: "0 3 * * *", keep: 2 }, backups: { schedule: "0 4 * * *", keep: 1 } };
    const spec: UserStackSpec = { ...alice, instances: [web] };
    const status: InstanceStatus[] = [
      { stack: "alice", name: "web", vmid: 2001, ip: "10.10.0.21", power: "running", state: "ready", updatedAt: "2026-11-01T00:00:00.000Z" },
    ];
    repo = openLedgerRepository(join(dir, "billing.db"), { now: new Date("2026-11-30T10:00:00Z") });
    const notices: BillingNotice[] = [];
    const deps: ScheduleDeps = {
      repo,
      pve,
      log: silentLogger(),
      specs: { load: async () => ({ platform, users: new Map([["alice", spec]]) }) },
      instances: () => status,
      notifier: { notify: async (n) => void notices.push(n) },
    };

    const at = (iso: string): Date => {
      simNow = Date.parse(iso);
      return new Date(iso);
    };
    expect(await runSchedules(deps, at("2026-11-30T10:00:00Z"))).toEqual([]);
    // Down for three days: each schedule runs once, not once per missed slot.
    const missed = await runSchedules(deps, at("2026-12-03T10:00:00Z"));
    expect(missed.map((o) => [o.kind, o.ok, o.detail, o.pruned])).toEqual([
      ["snapshot", true, "pxs_auto_202612030300", []],
      ["backup", true, "vzdump-lxc-2001-2026_12_03-10_00_00.tar.zst", []],
    ]);
    expect(await runSchedules(deps, at("2026-12-03T10:30:00Z"))).toEqual([]);
    await runSchedules(deps, at("2026-12-04T05:00:00Z"));
    const third = await runSchedules(deps, at("2026-12-05T05:00:00Z"));
    expect(third.map((o) => [o.kind, o.pruned.length])).toEqual([
      ["snapshot", 1],
      ["backup", 1],
    ]);
    expect(third[0]?.pruned).toEqual(["pxs_auto_202612030300"]);
    expect(
      (await pve.listSnapshots("pve1", 2001))
        .map((s) => s.name)
        .filter((n) => n !== "current")
        .sort(),
    ).toEqual(["mine", "pxs_auto_202612040300", "pxs_auto_202612050300"]);
    expect(third[1]?.pruned).toEqual(["vzdump-lxc-2001-2026_12_04-05_00_00.tar.zst"]);
    // The pruned archives are gone from the simulator's storage; the one kept is still there.
    for (const day of ["2026_12_03-10_00_00", "2026_12_04-05_00_00"]) {
      await expect(pve.deleteVolume("pve1", "local", `local:backup/vzdump-lxc-2001-${day}.tar.zst`)).rejects.toThrow(/does not exist/);
    }
    expect((await pve.deleteVolume("pve1", "local", "local:backup/vzdump-lxc-2001-2026_12_05-05_00_00.tar.zst")).exitstatus).toBe("OK");
    expect(repo.ownBackups("alice", "web")).toHaveLength(1);
    expect(repo.events("alice").map((e) => e.type)).toEqual(["backup", "snapshot", "backup", "snapshot", "backup", "snapshot"]);
    expect(notices.every((n) => n.type === "snapshot" || n.type === "backup")).toBe(true);
  }, 60_000);
});

describe("billing jobs", () => {
  it("run at start and every scheduled minute with the injected clock; a run still going makes the next one skip", async () => {
    const clock = manualClock(new Date("2026-11-30T10:00:00Z"));
    const ticks: string[] = [];
    let release: (() => void) | undefined;
    let fire: (() => Promise<void>) | undefined;
    const jobs = createBillingJobs({
      clock,
      log: silentLogger(),
      tick: async (now) => {
        ticks.push(now.toISOString());
        if (ticks.length === 2) await new Promise<void>((r) => (release = r));
      },
      scheduler: (expr, run) => {
        expect(expr).toBe("* * * * *");
        fire = run;
        return { stop: () => (fire = undefined) };
      },
    });
    await jobs.start();
    expect(ticks).toEqual(["2026-11-30T10:00:00.000Z"]);
    clock.advance(60_000);
    const slow = fire!();
    clock.advance(60_000);
    expect(await jobs.runOnce()).toBe(false);
    release!();
    await slow;
    expect(await jobs.runOnce()).toBe(true);
    expect(ticks).toEqual(["2026-11-30T10:00:00.000Z", "2026-11-30T10:01:00.000Z", "2026-11-30T10:02:00.000Z"]);
    await jobs.stop();
    expect(fire).toBeUndefined();
  });
});
