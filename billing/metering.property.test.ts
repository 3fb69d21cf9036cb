// Property: random 30-day timelines of start / stop / tick / crash / overlapping ticks / top-ups charge exactly, and the balance is the ledger's sum.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { floorDiv } from "./money.js";
import { openLedgerRepository, type LedgerRepository, type TickTx } from "./ledger-repository.js";
import { runTick, type Observation } from "./metering.js";

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 1);
const BONUS = 50_000_000n;

interface InstanceDef {
  stack: string;
  instance: string;
  plan: bigint;
  domains: bigint;
}

type Step =
  | { kind: "toggle"; gap: number; i: number }
  | { kind: "tick"; gap: number }
  | { kind: "overlap"; gap: number; later: number; sameNow: boolean }
  | { kind: "crash"; gap: number; after: number }
  | { kind: "topup"; gap: number; s: number; amount: bigint; other: boolean };

const RATES = [0n, 1n, 7n, 999_999n, 1_000_001n, 2_000_000n, 24_000_000n, 72_500_000n, 240_000_000n, 33_333_333n];

const arbInstances = fc
  .array(
    fc.record({ s: fc.integer({ min: 0, max: 2 }), plan: fc.constantFrom(...RATES), domains: fc.constantFrom(0n, 0n, 2_000_000n, 4_000_000n, 333_333n) }),
    { minLength: 1, maxLength: 6 },
  )
  .map((xs) => xs.map((x, n): InstanceDef => ({ stack: `u${x.s}`, instance: `i${n}`, plan: x.plan, domains: x.domains })));

const gap = fc.integer({ min: 0, max: 6 * 60 * MIN });
const arbStep: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("toggle" as const), gap, i: fc.nat(5) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("tick" as const), gap }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("overlap" as const), gap, later: fc.integer({ min: 0, max: 3 * MIN }), sameNow: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("crash" as const), gap, after: fc.nat(4) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("topup" as const), gap, s: fc.nat(2), amount: fc.bigInt({ min: 1n, max: 500_000_000n }), other: fc.boolean() }),
  },
);

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A tick whose transaction dies after `after` meter writes: everything it wrote rolls back. */
function crashingRepo(repo: LedgerRepository, after: number): LedgerRepository {
  return {
    ...repo,
    tick: (fn) =>
      repo.tick((tx) => {
        let writes = 0;
        const dying: TickTx = {
          ...tx,
          putMeter: (m) => {
            if (writes++ >= after) throw new Error("simulated crash");
            tx.putMeter(m);
          },
        };
        const out = fn(dying);
        throw new Error("simulated crash");
        return out;
      }),
  };
}

describe("metering over random timelines", () => {
  it("charges exactly the running minutes (cumulative floor per instance, 0 micro-points error); balance = ledger sum after every operation", () => {
    fc.assert(
      fc.property(arbInstances, fc.array(arbStep, { minLength: 1, maxLength: 240 }), (defs, steps) => {
        dir = mkdtempSync(join(tmpdir(), "billing-prop-"));
        const file = join(dir, "billing.db");
        let a = openLedgerRepository(file, { now: new Date(T0) });
        const b = openLedgerRepository(file, { now: new Date(T0) });
        const stacks = [...new Set(defs.map((d) => d.stack))];
        // Ground truth: the engine's status rows, and each instance's running intervals.
        const state = defs.map(() => ({ running: false, since: T0, minutes: 0n, changedSinceTick: false }));
        let t = T0;
        const observe = (): Observation[] =>
          defs.map((d, n) => ({
            stack: d.stack,
            instance: d.instance,
            running: state[n]!.running,
            sinceMs: state[n]!.since,
            planRateMicroPerDay: Number(d.plan),
            domainRateMicroPerDay: Number(d.domains),
          }));
        const checkSums = (): void => {
          for (const s of stacks) expect(a.account(s)?.balanceMicro ?? 0n).toBe(a.ledgerSum(s));
        };
        // A tick's balances come from what the repository holds between ticks: they must be the database's.
        const tick = (repo: LedgerRepository, obs: Observation[], at: number): void => {
          for (const r of runTick(repo, obs, new Date(at), { signupBonusMicro: BONUS }).stacks)
            expect(r.balanceMicro).toBe(repo.account(r.stack)?.balanceMicro);
        };
        const ticked = (): void => {
          for (const st of state) st.changedSinceTick = false;
        };
        for (const step of steps) {
          t += step.gap;
          switch (step.kind) {
            case "toggle": {
              const n = step.i % defs.length;
              const st = state[n]!;
              // The engine's status keeps only the latest state: at most one change per instance between ticks.
              if (st.changedSinceTick || t === st.since) break;
              if (st.running) st.minutes += BigInt(Math.floor(t / MIN) - Math.floor(st.since / MIN));
              st.running = !st.running;
              st.since = t;
              st.changedSinceTick = true;
              break;
            }
            case "tick":
              tick(a, observe(), t);
              ticked();
              break;
            case "overlap": {
              // Two processes read the same status; the one with the later clock commits first.
              const obs = observe();
              const later = step.sameNow ? t : t + step.later;
              tick(b, obs, later);
              checkSums();
              tick(a, obs, t);
              t = later;
              ticked();
              break;
            }
            case "crash": {
              expect(() => runTick(crashingRepo(a, step.after), observe(), new Date(t), { signupBonusMicro: BONUS })).toThrow("simulated crash");
              a.close();
              a = openLedgerRepository(file, { now: new Date(t) });
              break;
            }
            case "topup":
              // From this process, or from another one (a's next tick must see it).
              (step.other ? b : a).post({
                stack: `u${step.s}`,
                amountMicro: step.amount,
                reason: "admin-grant",
                note: "top-up",
                at: new Date(t).toISOString(),
              });
              break;
          }
          checkSums();
        }
        // A last tick bills every instance still running up to the end of the timeline.
        t += MIN;
        tick(a, observe(), t);
        checkSums();
        state.forEach((st) => {
          if (st.running) st.minutes += BigInt(Math.floor(t / MIN) - Math.floor(st.since / MIN));
        });
        for (const s of stacks) {
          const expected = defs.reduce(
            (sum, d, n) => (d.stack === s ? sum + floorDiv(d.plan * state[n]!.minutes, 1440n) + floorDiv(d.domains * state[n]!.minutes, 1440n) : sum),
            0n,
          );
          const entries = a.entries(s, { limit: 1000 });
          const charged = -entries.filter((e) => e.reason === "usage" || e.reason === "domain-fee").reduce((x, e) => x + e.amountMicro, 0n);
          const acc = a.account(s);
          // Charged, plus what an exhausted balance could not pay, is the exact charge of the running minutes.
          expect(charged + (acc?.writtenOffMicro ?? 0n)).toBe(expected);
          // A tick never takes the balance below zero (a top-up after a write-off may leave some).
          expect((acc?.balanceMicro ?? 0n) >= 0n).toBe(true);
          // Usage rows are aggregated per stack and hour, never one per minute.
          const hours = entries.filter((e) => e.reason === "usage").map((e) => e.hour);
          expect(new Set(hours).size).toBe(hours.length);
        }
        a.close();
        b.close();
        rmSync(dir, { recursive: true, force: true });
        dir = undefined;
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 60) },
    );
  }, 120_000);
});
