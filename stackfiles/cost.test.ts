// Cost of a user stack: plan points per instance plus domains beyond the free ones; a month is 30 days.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ProxstackError } from "../lib/errors.js";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { costOf, DAYS_PER_MONTH } from "./cost.js";
import { validateStackSet } from "./validate.js";

const read = (name: string) => ({ path: `stacks/${name}`, text: readFileSync(new URL(`../stacks/${name}`, import.meta.url), "utf8") });
const report = validateStackSet(["platform.yaml", "alice.yaml", "bob.yaml", "carol.yaml"].map(read));
const platform = report.platform?.spec as PlatformSpec;
const spec = (name: string) => report.users.find((u) => u.spec.name === name)?.spec as UserStackSpec;

describe("costOf", () => {
  it("prices alice: medium 72 + one extra domain 2, small 24", () => {
    const c = costOf(spec("alice"), platform);
    expect(c.lines).toEqual([
      { instance: "web", plan: "medium", planPerDay: 72, domains: 2, extraDomains: 1, extraDomainsPerDay: 2, perDay: 74 },
      { instance: "dev", plan: "small", planPerDay: 24, domains: 0, extraDomains: 0, extraDomainsPerDay: 0, perDay: 24 },
    ]);
    expect(c).toMatchObject({ perDay: 98, perMonth: 98 * 30, daysPerMonth: 30 });
    expect(DAYS_PER_MONTH).toBe(30);
  });

  it("charges a suspended user's instances all the same", () => {
    expect(costOf(spec("bob"), platform).perDay).toBe(24);
  });

  it.each([
    [0, 3, 72 + 24 + 2 * 3],
    [1, 3, 72 + 24 + 1 * 3],
    [2, 3, 72 + 24],
    [1, 0, 72 + 24],
  ])("with %i free domains at %i points each, alice pays %i a day", (free, price, perDay) => {
    const p = { ...platform, domains: { freePerInstance: free, extraPointsPerDay: price } };
    expect(costOf(spec("alice"), p).perDay).toBe(perDay);
  });

  it("costs nothing without instances", () => {
    expect(costOf({ ...spec("carol"), instances: [] }, platform)).toMatchObject({ perDay: 0, perMonth: 0, lines: [] });
  });

  it("refuses a plan the catalog lacks", () => {
    const carol = spec("carol");
    const bad = { ...carol, instances: carol.instances.map((i) => ({ ...i, plan: "gold" })) };
    expect(() => costOf(bad, platform)).toThrow(ProxstackError);
  });
});
