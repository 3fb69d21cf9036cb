// The portal's ledger over billing's repository: credits move the balance, entries carry the balance after each row.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openLedgerRepository, type LedgerRepository } from "../billing/ledger-repository.js";
import { manualClock } from "../lib/clock.js";
import { pointsLedgerOf } from "./points-ledger.js";

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

function ledger() {
  const dir = mkdtempSync(join(tmpdir(), "proxstack-ledger-"));
  const now = new Date("2026-11-30T10:00:00Z");
  const repo: LedgerRepository = openLedgerRepository(join(dir, "billing.db"), { now });
  cleanup.push(() => {
    repo.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { repo, points: pointsLedgerOf(repo, manualClock(now)) };
}

describe("pointsLedgerOf", () => {
  it("credits through billing's ledger, once per idempotency key, and pages entries with the balance after each", () => {
    const { repo, points } = ledger();
    const bonus = points.credit("alice", 100_000_000, "signup-bonus", { note: "welcome bonus", idempotencyKey: "signup-bonus:1" });
    expect(bonus).toMatchObject({ user: "alice", amountMicro: 100_000_000, reason: "signup-bonus", note: "welcome bonus", balanceMicro: 100_000_000 });
    expect(points.credit("alice", 100_000_000, "signup-bonus", { idempotencyKey: "signup-bonus:1" }).id).toBe(bonus.id);
    points.credit("alice", -30_000_000, "admin-grant", { note: "correction" });
    points.credit("alice", 5_000_000, "refund");
    expect(points.balanceMicro("alice")).toBe(75_000_000);
    expect(repo.ledgerSum("alice")).toBe(75_000_000n);
    const page = points.entries("alice", { offset: 0, limit: 2 });
    expect(page.total).toBe(3);
    expect(page.items.map((e) => [e.reason, e.amountMicro, e.balanceMicro])).toEqual([
      ["refund", 5_000_000, 75_000_000],
      ["admin-grant", -30_000_000, 70_000_000],
    ]);
    expect(points.entries("alice", { offset: 2, limit: 2 }).items.map((e) => e.balanceMicro)).toEqual([100_000_000]);
    expect(points.balanceMicro("nobody")).toBe(0);
  });

  it("refuses to take a balance below zero and writes nothing", () => {
    const { repo, points } = ledger();
    points.credit("bob", 1_000_000, "admin-grant");
    expect(() => points.credit("bob", -2_000_000, "admin-grant")).toThrow(/below zero/);
    expect(points.balanceMicro("bob")).toBe(1_000_000);
    expect(repo.entries("bob")).toHaveLength(1);
  });
});
