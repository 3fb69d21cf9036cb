import { describe, expect, it } from "vitest";
import { describePendingRemoval, formatTimeLeft, pendingRemovalOf } from "./removal.js";
import type { StackStatus } from "./store.js";

const now = new Date("2026-11-30T10:00:00Z");
const stack = (o: Partial<StackStatus>): StackStatus => ({
  name: "carol",
  condition: "Reconciling",
  reason: "PendingRemoval",
  message: "",
  appliedHash: "h1",
  appliedSpec: undefined,
  appliedPlatform: undefined,
  hasResources: true,
  lastRunId: 1,
  failures: 0,
  nextAttemptAt: undefined,
  stoppedFor: undefined,
  removalAt: "2026-11-30T10:09:58Z",
  removalHeld: false,
  updatedAt: now.toISOString(),
  ...o,
});

describe("pending removal in status", () => {
  const at = "2026-11-30T10:09:58Z";
  const confirm = "removal held: nothing is destroyed until 'proxstack destroy carol' confirms it";
  it.each<[string, Partial<StackStatus>, ReturnType<typeof pendingRemovalOf>, string | undefined]>([
    ["in the grace period", {}, { at, inMs: 598_000, held: false }, `removal in 9m 58s (at ${at}) unless the file comes back`],
    [
      "grace over",
      { removalAt: "2026-11-30T09:59:00Z" },
      { at: "2026-11-30T09:59:00Z", inMs: 0, held: false },
      "removal due now (grace period ended at 2026-11-30T09:59:00Z)",
    ],
    ["held", { removalHeld: true }, { at, inMs: 598_000, held: true }, `${confirm} (grace period ends in 9m 58s)`],
    [
      "held, grace over",
      { removalHeld: true, removalAt: "2026-11-30T09:00:00Z" },
      { at: "2026-11-30T09:00:00Z", inMs: 0, held: true },
      `${confirm} (grace period over)`,
    ],
    ["not pending", { reason: "Applied", condition: "Ready", removalAt: undefined }, undefined, undefined],
  ])("%s", (_name, o, view, line) => {
    expect(pendingRemovalOf(stack(o), now)).toEqual(view);
    expect(describePendingRemoval(stack(o), now)).toBe(line);
  });

  it.each([
    [42_000, "42s"],
    [598_000, "9m 58s"],
    [3_900_000, "1h 5m"],
    [1, "1s"],
  ])("time left %d ms reads %s", (ms, text) => {
    expect(formatTimeLeft(ms)).toBe(text);
  });
});
