// The billing service over a real stacks git repository: resume runway, admins exempt, deletion after the grace period step by step.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createStackIndex } from "../engine/stack-index.js";
import type { InstanceStatus } from "../engine/status/store.js";
import { silentLogger } from "../lib/logger.js";
import { openLedgerRepository, type LedgerRepository } from "./ledger-repository.js";
import type { BillingNotice } from "./notifier.js";
import { createBilling, specsFromIndex, type Billing } from "./service.js";
import { removeInstance } from "../stackfiles/edit.js";
import { createStackFileWriter } from "./stack-file-writer.js";

const REPO = resolve(import.meta.dirname, "..");
const T0 = new Date("2026-11-30T10:00:00Z");
const min = (m: number) => new Date(T0.getTime() + m * 60_000);

let root: string | undefined;
let repo: LedgerRepository | undefined;
afterEach(() => {
  repo?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  repo = undefined;
  root = undefined;
});

function setup(opts: { exempt?: string[]; platformExtra?: string; without?: string[] } = {}) {
  root = mkdtempSync(join(tmpdir(), "billing-svc-"));
  const stacks = join(root, "stacks");
  cpSync(join(REPO, "stacks"), stacks, { recursive: true });
  for (const s of opts.without ?? []) rmSync(join(stacks, `${s}.yaml`));
  if (opts.platformExtra) writeFileSync(join(stacks, "platform.yaml"), readFileSync(join(stacks, "platform.yaml"), "utf8") + opts.platformExtra);
  const git = (...args: string[]) => execFileSync("git", ["-C", stacks, "-c", "user.name=t", "-c", "user.email=t@t.invalid", ...args], { encoding: "utf8" });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "seed");
  const status: InstanceStatus[] = [
    { stack: "alice", name: "web", vmid: 2001, ip: "10.10.0.21", power: "running", state: "ready", updatedAt: T0.toISOString() },
    { stack: "alice", name: "dev", vmid: 2002, ip: "10.10.0.22", power: "stopped", state: "ready", updatedAt: T0.toISOString() },
    { stack: "carol", name: "lab", vmid: 2000, ip: "10.10.0.20", power: "running", state: "ready", updatedAt: T0.toISOString() },
  ];
  repo = openLedgerRepository(join(root, "billing.db"), { now: T0 });
  const notices: BillingNotice[] = [];
  const billing: Billing = createBilling({
    repo,
    instances: () => status,
    specs: specsFromIndex(createStackIndex(stacks)),
    writer: createStackFileWriter({ stacksDir: stacks }),
    notifier: { notify: async (n) => void notices.push(n) },
    isExempt: (s) => (opts.exempt ?? []).includes(s),
    log: silentLogger(),
  });
  const stop = (stack: string, name: string, at: Date) => {
    const i = status.find((s) => s.stack === stack && s.name === name)!;
    Object.assign(i, { power: "stopped", updatedAt: at.toISOString() });
  };
  return { stacks, status, billing, notices, git, stop, repo };
}

describe("billing service", () => {
  it("admins are never billed; the example bob (already suspended, no account) gets no bonus and stays suspended", async () => {
    const { billing, repo } = setup({ exempt: ["carol"] });
    await billing.tick(T0);
    const r = await billing.tick(min(600));
    expect(r.stacks.find((s) => s.stack === "carol")).toMatchObject({ dueMicro: 0n, burnPerDayMicro: 0n });
    expect(r.stacks.find((s) => s.stack === "alice")).toMatchObject({ chargedMicro: 30_833_333n });
    expect(repo.account("bob")).toBeUndefined();
    expect(r.resumed).toEqual([]);
    expect((await billing.status(min(600), "bob")).users[0]).toEqual({
      stack: "bob",
      balanceMicro: 0n,
      burnPerDayMicro: 0n,
      runwaySeconds: null,
      suspended: true,
      instances: [{ name: "app", billedUntil: null }],
    });
  });

  it("a suspension is lifted only once the balance covers the resume runway of what the file wants running", async () => {
    const { billing, stacks, stop, notices } = setup();
    await billing.tick(T0);
    await billing.grant("alice", "-100", "empty", T0);
    const s = await billing.tick(min(1));
    expect(s.suspended).toEqual(["alice"]);
    // The engine stops web 20 s later, within the minute billed already: nothing more is charged.
    stop("alice", "web", new Date(min(1).getTime() + 20_000));
    // web wants 74 points/day: one hour is 3.083334 points.
    await billing.grant("alice", "3", "not quite", min(3));
    expect((await billing.tick(min(4))).resumed).toEqual([]);
    await billing.grant("alice", "0.083334", "enough", min(5));
    expect((await billing.tick(min(6))).resumed).toEqual(["alice"]);
    expect(readFileSync(join(stacks, "alice.yaml"), "utf8")).toBe(readFileSync(join(REPO, "stacks", "alice.yaml"), "utf8"));
    expect(notices.map((n) => n.type)).toEqual(["runway-warning", "suspended", "resumed"]);
  });

  it("an instance its file no longer lists is billed at its last rate while the engine reports it running, and stops with it", async () => {
    const { billing, stacks, status, git } = setup();
    await billing.tick(T0);
    // A merged pull request drops alice's protected web (74 points/day) from her file: the engine refuses to destroy
    // it, so the container keeps running on her behalf.
    const file = join(stacks, "alice.yaml");
    writeFileSync(file, removeInstance(readFileSync(file, "utf8"), "web"));
    git("commit", "-qam", "alice drops web");
    const hour = await billing.tick(min(60));
    expect(hour.stacks.find((s) => s.stack === "alice")).toMatchObject({ dueMicro: 3_083_333n, burnPerDayMicro: 74_000_000n });
    // An operator lifts the protection and the engine destroys it at minute 90: billed up to then, not after.
    Object.assign(
      status.find((i) => i.stack === "alice" && i.name === "web")!,
      { state: "destroyed", updatedAt: min(90).toISOString() },
    );
    const gone = await billing.tick(min(120));
    expect(gone.stacks.find((s) => s.stack === "alice")).toMatchObject({ dueMicro: 4_625_000n - 3_083_333n, burnPerDayMicro: 0n });
    expect((await billing.tick(min(180))).stacks.find((s) => s.stack === "alice")).toMatchObject({ dueMicro: 0n });
  });

  it("deletion after the grace period: notice a day before, then non-protected instances removed; each step persisted and done once", async () => {
    const { billing, stacks, stop, notices, git, repo } = setup({ platformExtra: "billing:\n  deleteAfterSuspendedDays: 3\n", without: ["alice", "bob"] });
    // carol's lab: 24 points/day, 100 points of bonus, taken away.
    await billing.tick(T0);
    await billing.grant("carol", "-100", "empty", T0);
    expect((await billing.tick(min(1))).suspended).toEqual(["carol"]);
    stop("carol", "lab", new Date(min(1).getTime() + 20_000));
    const day = 1440;
    expect((await billing.tick(min(2 * day))).deleted).toEqual([]);
    expect(repo.suspensionStep("carol")?.step).toBe("suspended");
    await billing.tick(min(2 * day + 1));
    expect(repo.suspensionStep("carol")?.step).toBe("deletion-notified");
    await billing.tick(min(2 * day + 2));
    expect(notices.filter((n) => n.type === "deletion-scheduled")).toEqual([
      { type: "deletion-scheduled", stack: "carol", email: "carol@example.com", deleteAt: min(3 * day + 1).toISOString() },
    ]);
    const del = await billing.tick(min(3 * day + 1));
    expect(del.deleted).toEqual([{ stack: "carol", instances: ["lab"] }]);
    expect(readFileSync(join(stacks, "carol.yaml"), "utf8")).not.toContain("name: lab");
    expect(readFileSync(join(stacks, "carol.yaml"), "utf8")).toContain("reason: points-exhausted");
    expect((await billing.tick(min(3 * day + 2))).deleted).toEqual([]);
    expect(notices.filter((n) => n.type === "deleted")).toHaveLength(1);
    expect(git("log", "--format=%an|%s").trim().split("\n")).toEqual([
      "proxstack billing|billing: delete lab of carol (suspended for points past the grace period)",
      "proxstack billing|billing: suspend carol (points exhausted)",
      "t|seed",
    ]);
  });
});
