// The ledger repository and points arithmetic: rows with reasons, the balance moved in the same transaction, no floats.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { openLedgerRepository, type LedgerRepository } from "./ledger-repository.js";
import { advanceMeter as advance, billedUntil, runTick, runwaySeconds, warningLevel, type Observation } from "./metering.js";
import { microToPoints, mulDivFloor, pointsToMicro } from "./money.js";

const T0 = new Date("2026-11-30T10:00:00Z");
let dir: string | undefined;
let repo: LedgerRepository | undefined;
afterEach(() => {
  repo?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  repo = undefined;
  dir = undefined;
});
const open = (now = T0): LedgerRepository => {
  dir = mkdtempSync(join(tmpdir(), "ledger-"));
  repo = openLedgerRepository(join(dir, "billing.db"), { now });
  return repo;
};

describe("points arithmetic", () => {
  it("mulDivFloor is exact on both sides of 2^53", () => {
    expect(mulDivFloor(240_000_000, 1439, 1440)).toBe(239_833_333);
    expect(mulDivFloor(10_000_000_000, 10_000_007, 1440)).toBe(Number((10_000_000_000n * 10_000_007n) / 1440n));
    expect(() => mulDivFloor(10 ** 15, 10 ** 9, 1440)).toThrow(/beyond/);
    expect(mulDivFloor(9_007_199_254_740_991, 1, 1440)).toBe(Number(9_007_199_254_740_991n / 1440n));
  });
  it.each([
    ["12", 12_000_000n],
    ["12.5", 12_500_000n],
    ["-0.000001", -1n],
    ["0.1", 100_000n],
    [0.1, 100_000n],
    [72, 72_000_000n],
    [1e-6, 1n],
    [1e21, 10n ** 27n],
  ] as const)("pointsToMicro(%s) = %s", (input, micro) => {
    expect(pointsToMicro(input)).toBe(micro);
  });
  it.each(["", "1.2.3", "abc", "0.0000001", "1e3"])("refuses %j", (input) => {
    expect(() => pointsToMicro(input)).toThrow(/points/);
  });
  it("prints micro-points as decimal points", () => {
    expect([microToPoints(12_500_000n), microToPoints(-1n), microToPoints(0n), microToPoints(100n * 1_000_000n)]).toEqual(["12.5", "-0.000001", "0", "100"]);
  });
});

describe("ledger repository", () => {
  it("each post is a row with its reason; the balance moves with it and equals the ledger sum; a take below zero is refused", () => {
    const repo = open();
    const at = T0.toISOString();
    expect(repo.ensureAccount("alice", 100_000_000n, at).balanceMicro).toBe(100_000_000n);
    expect(repo.ensureAccount("alice", 100_000_000n, at).balanceMicro).toBe(100_000_000n);
    expect(repo.post({ stack: "alice", amountMicro: 5_000_000n, reason: "admin-grant", note: "thanks", at }).balanceMicro).toBe(105_000_000n);
    expect(() => repo.post({ stack: "alice", amountMicro: -105_000_001n, reason: "admin-grant", note: "too much", at })).toThrow(/below zero/);
    expect(repo.post({ stack: "alice", amountMicro: -105_000_000n, reason: "admin-grant", note: "all", at }).balanceMicro).toBe(0n);
    expect(repo.entries("alice").map((e) => [e.reason, e.amountMicro, e.note])).toEqual([
      ["admin-grant", -105_000_000n, "all"],
      ["admin-grant", 5_000_000n, "thanks"],
      ["signup-bonus", 100_000_000n, "signup bonus from the platform file"],
    ]);
    expect(repo.account("alice")?.balanceMicro).toBe(repo.ledgerSum("alice"));
  });

  it("a post with a key is written once", () => {
    const repo = open();
    const e = { stack: "bob", amountMicro: 1n, reason: "refund" as const, note: "r", at: T0.toISOString(), key: "refund-1" };
    expect(repo.post(e).created).toBe(true);
    expect(repo.post(e).created).toBe(false);
    expect(repo.account("bob")?.balanceMicro).toBe(1n);
  });
  it("a database from before the shared cursor is migrated: each meter keeps its minutes, the old billed-up-to minute becomes the cursor", () => {
    dir = mkdtempSync(join(tmpdir(), "ledger-"));
    const file = join(dir, "billing.db");
    const minute = T0.getTime() / 60_000;
    const old = new Database(file);
    old.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta VALUES ('epoch_minute', '${minute - 1000}');
      CREATE TABLE meters (stack TEXT NOT NULL, instance TEXT NOT NULL, billed_until INTEGER NOT NULL, running INTEGER NOT NULL,
        plan_rate INTEGER NOT NULL, plan_minutes INTEGER NOT NULL, plan_charged INTEGER NOT NULL,
        domain_rate INTEGER NOT NULL, domain_minutes INTEGER NOT NULL, domain_charged INTEGER NOT NULL, PRIMARY KEY (stack, instance)) WITHOUT ROWID;
      INSERT INTO meters VALUES ('alice', 'web', ${minute}, 1, 24000000, 100, 1666666, 2000000, 100, 138888);
      INSERT INTO meters VALUES ('alice', 'old', ${minute - 500}, 0, 24000000, 7, 116666, 0, 7, 0);`);
    old.close();
    repo = openLedgerRepository(file, { now: T0 });
    expect(repo.cursor()).toBe(minute);
    expect(repo.meters("alice").map((m) => [m.instance, m.running, billedUntil(m, repo?.cursor()), m.plan.minutes])).toEqual([
      ["old", false, minute, 7],
      ["web", true, minute, 100],
    ]);
    const web: Observation = { stack: "alice", instance: "web", running: true, sinceMs: 0, planRateMicroPerDay: 24_000_000, domainRateMicroPerDay: 2_000_000 };
    const old2: Observation = { ...web, instance: "old", running: false };
    const r = runTick(repo, [web, old2], new Date(T0.getTime() + 10 * 60_000), { signupBonusMicro: 1_000_000_000n });
    // Ten more minutes on the cumulative floor: floor(24e6 × 110 / 1440) − 1,666,666 and floor(2e6 × 110 / 1440) − 138,888.
    expect(r.stacks[0]?.dueMicro).toBe(1_833_333n - 1_666_666n + (152_777n - 138_888n));
  });
});

describe("metering", () => {
  const obs = (o: Partial<Observation>): Observation => ({
    stack: "alice",
    instance: "web",
    running: true,
    sinceMs: T0.getTime(),
    planRateMicroPerDay: 24_000_000,
    domainRateMicroPerDay: 2_000_000,
    ...o,
  });
  const minute = (d: Date) => d.getTime() / 60_000;
  const advanceMeter = (...args: Parameters<typeof advance> extends [...infer A, unknown] ? A : never) => {
    const due = { plan: 0, domains: 0 };
    const meter = advance(...args, due);
    return { meter, planDue: due.plan, domainDue: due.domains };
  };

  it("cumulative floor: 1 micro-point per day charged minute by minute totals exactly floor(minutes / 1440), without rewriting the meter", () => {
    const first = advanceMeter(undefined, obs({ planRateMicroPerDay: 1, domainRateMicroPerDay: 0 }), minute(T0), undefined, minute(T0));
    let total = first.planDue;
    for (let i = 1; i <= 2880; i++) {
      const r = advanceMeter(first.meter, obs({ planRateMicroPerDay: 1, domainRateMicroPerDay: 0 }), minute(T0) + i, minute(T0) + i - 1, minute(T0));
      expect(r.meter).toBe(first.meter);
      total += r.planDue;
    }
    expect(total).toBe(2);
  });

  it("a rate change bills the elapsed minutes at the old rate and starts a new segment", () => {
    const first = advanceMeter(undefined, obs({}), minute(T0), undefined, minute(T0));
    const r = advanceMeter(first.meter, obs({ planRateMicroPerDay: 48_000_000 }), minute(T0) + 60, minute(T0), minute(T0));
    expect([r.planDue, r.domainDue]).toEqual([1_000_000, 83_333]);
    expect(r.meter).toMatchObject({ running: true, mark: minute(T0) + 60, plan: { rateMicroPerDay: 48_000_000, minutes: 0 } });
    expect(r.meter.domains).toEqual({ rateMicroPerDay: 2_000_000, minutes: 60 });
    const r2 = advanceMeter(r.meter, obs({ planRateMicroPerDay: 48_000_000 }), minute(T0) + 120, minute(T0) + 60, minute(T0));
    expect([r2.planDue, r2.domainDue]).toEqual([2_000_000, 83_333]);
  });

  it("a stop bills up to when the engine recorded it and folds the minutes into the meter; a start bills from when it started", () => {
    const first = advanceMeter(undefined, obs({}), minute(T0), undefined, minute(T0));
    // Billed up to the cursor (T0 + 20); the engine saw it stop at T0 + 30; the tick runs at T0 + 45.
    const stop = advanceMeter(first.meter, obs({ running: false, sinceMs: T0.getTime() + 30 * 60_000 }), minute(T0) + 45, minute(T0) + 20, minute(T0));
    expect([stop.planDue, stop.domainDue]).toEqual([166_667, 13_889]);
    expect(stop.meter).toMatchObject({ running: false, mark: minute(T0) + 30, plan: { minutes: 30 }, domains: { minutes: 30 } });
    expect(billedUntil(stop.meter, minute(T0) + 45)).toBe(minute(T0) + 45);
    const start = advanceMeter(stop.meter, obs({ running: true, sinceMs: T0.getTime() + 50 * 60_000 }), minute(T0) + 60, minute(T0) + 45, minute(T0));
    // 10 more minutes: floor(24e6 × 40 / 1440) − floor(24e6 × 30 / 1440).
    expect(start.planDue).toBe(666_666 - 500_000);
    expect(start.meter).toMatchObject({ running: true, mark: minute(T0) + 60, plan: { minutes: 40 } });
  });

  it("an hour's usage row reads its running amount while the hour is open and holds it in the table once the hour closes", () => {
    const repo = open();
    const o = [obs({})];
    for (const m of [0, 1, 30, 59]) runTick(repo, o, new Date(T0.getTime() + m * 60_000), { signupBonusMicro: 1_000_000_000n });
    // 59 minutes at 24 points/day: floor(24e6 × 59 / 1440) = 983,333; the domains: floor(2e6 × 59 / 1440) = 81,944.
    const usage = () => repo.entries("alice").find((e) => e.reason === "usage" && e.hour === T0.toISOString())?.amountMicro;
    expect(usage()).toBe(-983_333n);
    expect(repo.ledgerSum("alice")).toBe(repo.account("alice")?.balanceMicro);
    runTick(repo, o, new Date(T0.getTime() + 61 * 60_000), { signupBonusMicro: 1_000_000_000n });
    const raw = new Database(join(dir!, "billing.db"), { readonly: true });
    const rows = raw.prepare("SELECT reason, hour, amount_micro AS amount FROM ledger WHERE stack = 'alice' AND hour IS NOT NULL ORDER BY id").all();
    raw.close();
    // The 11:01 tick bills minutes 59–61 into its own hour; the 10:00 rows now hold their amounts in the table.
    expect(rows).toEqual([
      { reason: "usage", hour: T0.toISOString(), amount: -983_333 },
      { reason: "domain-fee", hour: T0.toISOString(), amount: -81_944 },
      { reason: "usage", hour: "2026-11-30T11:00:00.000Z", amount: -33_333 },
      { reason: "domain-fee", hour: "2026-11-30T11:00:00.000Z", amount: -2_778 },
    ]);
    expect(usage()).toBe(-983_333n);
    expect(repo.ledgerSum("alice")).toBe(repo.account("alice")?.balanceMicro);
  });

  it("a tick older than the cursor changes nothing", () => {
    const first = advanceMeter(undefined, obs({}), minute(T0) + 10, undefined, minute(T0));
    expect(first.planDue).toBe(166_666);
    const late = advanceMeter(first.meter, obs({}), minute(T0) + 5, minute(T0) + 10, minute(T0));
    expect(late).toEqual({ meter: first.meter, planDue: 0, domainDue: 0 });
    const repo = open();
    runTick(repo, [obs({})], new Date(T0.getTime() + 10 * 60_000), { signupBonusMicro: 1_000_000_000n });
    const balance = repo.account("alice")?.balanceMicro;
    expect(runTick(repo, [obs({})], new Date(T0.getTime() + 5 * 60_000), { signupBonusMicro: 1_000_000_000n }).stacks).toEqual([]);
    expect(repo.account("alice")?.balanceMicro).toBe(balance);
  });

  it("the last charge is capped at the balance, the rest written off; runway warnings once per crossing", () => {
    const repo = open();
    const at = (m: number) => new Date(T0.getTime() + m * 60_000);
    // 1 point of signup bonus at 24 + 2 points/day: 55 minutes of runway.
    const o = [obs({ sinceMs: T0.getTime() })];
    let r = runTick(repo, o, at(0), { signupBonusMicro: 1_000_000n });
    expect(r.stacks[0]).toMatchObject({ balanceMicro: 1_000_000n, burnPerDayMicro: 26_000_000n, runwaySeconds: 3323n, warning: 1 });
    r = runTick(repo, o, at(1), { signupBonusMicro: 1_000_000n });
    expect(r.stacks[0]).toMatchObject({ chargedMicro: 18_054n, warning: undefined });
    r = runTick(repo, o, at(46), { signupBonusMicro: 1_000_000n });
    expect(r.stacks[0]).toMatchObject({ balanceMicro: 169_446n, runwaySeconds: 563n, warning: 2 });
    r = runTick(repo, o, at(60), { signupBonusMicro: 1_000_000n });
    expect(r.stacks[0]).toMatchObject({ dueMicro: 252_779n, chargedMicro: 169_446n, balanceMicro: 0n, runwaySeconds: 0n, warning: undefined });
    expect(repo.account("alice")).toMatchObject({ balanceMicro: 0n, writtenOffMicro: 83_333n, warnedLevel: 3 });
    expect(repo.ledgerSum("alice")).toBe(0n);
    // A top-up lifts the runway above 24 h; the next fall below 24 h warns again.
    repo.post({ stack: "alice", amountMicro: 27_000_000n, reason: "admin-grant", note: "top-up", at: at(61).toISOString() });
    r = runTick(repo, o, at(61), { signupBonusMicro: 1_000_000n });
    expect(r.stacks[0]).toMatchObject({ warning: undefined });
    expect(repo.account("alice")?.warnedLevel).toBe(0);
    r = runTick(repo, o, at(120), { signupBonusMicro: 1_000_000n });
    expect(r.stacks[0]).toMatchObject({ warning: 0 });
  });

  it("runway and warning levels", () => {
    expect(runwaySeconds(1_000_000n, 0n)).toBeUndefined();
    expect(runwaySeconds(24_000_000n, 24_000_000n)).toBe(86_400n);
    expect([warningLevel(undefined), warningLevel(86_400n), warningLevel(86_399n), warningLevel(3_599n), warningLevel(599n)]).toEqual([0, 0, 1, 2, 3]);
  });
});
