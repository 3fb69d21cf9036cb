// The portal's view of billing's ledger: credits, idempotent bonus, balances after each entry, offset paging.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openLedgerRepository, type LedgerRepository } from "../billing/ledger-repository.js";
import { portalLedger } from "./portal-ledger.js";

const T0 = new Date("2026-11-30T10:00:00.000Z");
let dir: string;
let repo: LedgerRepository;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "portal-ledger-"));
  repo = openLedgerRepository(join(dir, "billing.db"), { now: T0 });
});
afterEach(() => {
  repo.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("portalLedger", () => {
  it("credits once per idempotency key and lists entries newest first with the balance after each", () => {
    const l = portalLedger(repo, () => T0);
    const bonus = l.credit("dana", 100_000_000, "signup-bonus", { idempotencyKey: "bonus:dana", note: "welcome" });
    expect(bonus).toMatchObject({
      user: "dana",
      amountMicro: 100_000_000,
      reason: "signup-bonus",
      note: "welcome",
      balanceMicro: 100_000_000,
      at: T0.toISOString(),
    });
    expect(l.credit("dana", 100_000_000, "signup-bonus", { idempotencyKey: "bonus:dana" }).id).toBe(bonus.id);
    l.credit("dana", 5_500_000, "admin-grant", { note: "thanks" });
    l.credit("dana", -2_000_000, "admin-grant");
    expect(l.balanceMicro("dana")).toBe(103_500_000);
    expect(l.balanceMicro("nobody")).toBe(0);
    const page1 = l.entries("dana", { offset: 0, limit: 2 });
    expect(page1.total).toBe(3);
    expect(page1.items.map((e) => [e.amountMicro, e.balanceMicro])).toEqual([
      [-2_000_000, 103_500_000],
      [5_500_000, 105_500_000],
    ]);
    expect(l.entries("dana", { offset: 2, limit: 2 }).items.map((e) => [e.amountMicro, e.balanceMicro, e.note])).toEqual([
      [100_000_000, 100_000_000, "welcome"],
    ]);
  });
});
