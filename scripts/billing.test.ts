// `proxstack billing` and `proxstack points` as real processes: two ticks at once charge once; status and grants as documented.
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { openLedgerRepository } from "../billing/ledger-repository.js";
import { openStatusStore } from "../engine/status/store.js";
import { manualClock } from "../lib/clock.js";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "..");
const BIN = join(REPO, "bin", "proxstack.js");
const T0 = new Date("2027-01-04T10:00:00Z");

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

/** A data dir with the example stacks and an engine database reporting alice/web running since T0 and alice/dev stopped. */
function dataDir(): string {
  root = mkdtempSync(join(tmpdir(), "billing-cli-"));
  const data = join(root, "data");
  mkdirSync(data, { recursive: true });
  cpSync(join(REPO, "stacks"), join(data, "stacks"), { recursive: true });
  const store = openStatusStore(join(data, "engine.db"), { clock: manualClock(T0), mode: "simulation" });
  store.upsertInstance({ stack: "alice", name: "web", vmid: 2001, ip: "10.10.0.21", power: "running", state: "ready" });
  store.upsertInstance({ stack: "alice", name: "dev", vmid: 2002, ip: "10.10.0.22", power: "stopped", state: "ready" });
  store.close();
  return data;
}

async function cli(data: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { env: { ...process.env, PROXSTACK_DATA_DIR: data, LOG_LEVEL: "warn" }, cwd: REPO });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("proxstack billing", () => {
  it("two processes ticking at the same --now charge once", async () => {
    const data = dataDir();
    // The first tick creates the billing database: billing begins then (nothing before it is charged).
    expect((await cli(data, "billing", "tick", "--now", T0.toISOString())).code).toBe(0);
    const now = new Date(T0.getTime() + 90 * 60_000).toISOString();
    const [a, b] = await Promise.all([cli(data, "billing", "tick", "--now", now, "--json"), cli(data, "billing", "tick", "--now", now, "--json")]);
    expect([a.code, b.code, a.stderr + b.stderr]).toEqual([0, 0, ""]);
    // medium (72 points/day) + one paid domain (2 points/day) for 90 minutes: 4.5 + 0.125 points, charged by exactly one of them.
    const charged = [a, b].map(
      (r) => (JSON.parse(r.stdout) as { stacks: { stack: string; chargedMicro: number }[] }).stacks.find((s) => s.stack === "alice")?.chargedMicro,
    );
    expect(charged.sort()).toEqual([0, 4_625_000]);
    const repo = openLedgerRepository(join(data, "billing.db"), { now: T0 });
    expect(repo.entries("alice").map((e) => [e.reason, e.amountMicro])).toEqual([
      ["domain-fee", -125_000n],
      ["usage", -4_500_000n],
      ["signup-bonus", 100_000_000n],
    ]);
    expect(repo.account("alice")?.balanceMicro).toBe(95_375_000n);
    repo.close();

    const status = await cli(data, "billing", "status", "--user", "alice", "--json");
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual({
      users: [
        {
          stack: "alice",
          balanceMicro: 95_375_000,
          burnPerDayMicro: 74_000_000,
          runwaySeconds: 111_356,
          suspended: false,
          instances: [
            { name: "web", billedUntil: "2027-01-04T11:30:00.000Z" },
            { name: "dev", billedUntil: "2027-01-04T11:30:00.000Z" },
          ],
        },
      ],
    });
  }, 60_000);

  it("points grant by e-mail writes one ledger row; a take below zero and bad input are refused with exit codes 1 and 2", async () => {
    const data = dataDir();
    const ok = await cli(data, "points", "grant", "alice@example.com", "12.5", "--reason", "conference voucher", "--json");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      stack: "alice",
      balanceMicro: 112_500_000,
      entry: { reason: "admin-grant", amountMicro: 12_500_000, note: "conference voucher" },
    });
    const take = await cli(data, "points", "grant", "alice", "-2.5", "--reason", "correction");
    expect([take.code, take.stdout]).toEqual([0, "alice: took 2.5 points; balance 110 points\n"]);
    const tooMuch = await cli(data, "points", "grant", "alice", "-1000", "--reason", "x");
    expect([tooMuch.code, tooMuch.stderr]).toEqual([1, "proxstack points: alice has 110000000 micro-points; taking 1000000000 would go below zero\n"]);
    expect((await cli(data, "points", "grant", "nobody", "5", "--reason", "x")).code).toBe(1);
    expect((await cli(data, "points", "grant", "alice", "5")).code).toBe(2);
    expect((await cli(data, "points", "grant", "alice", "1.2.3", "--reason", "x")).code).toBe(2);
    expect((await cli(data, "billing", "tick", "--now", "yesterday")).code).toBe(2);
    const repo = openLedgerRepository(join(data, "billing.db"), { now: T0 });
    expect(repo.account("alice")?.balanceMicro).toBe(repo.ledgerSum("alice"));
    expect(repo.entries("alice")).toHaveLength(3);
    repo.close();
    expect(readFileSync(join(data, "stacks", "alice.yaml"), "utf8")).toBe(readFileSync(join(REPO, "stacks", "alice.yaml"), "utf8"));
  }, 60_000);
});
