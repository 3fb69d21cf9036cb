import { describe, expect, it } from "vitest";
import { ProxstackError } from "../lib/errors.js";
import { afterFailure, afterHooksFailed, decide, desiredKey, type Decision, type Desired, type Observed } from "./decide.js";
import { REASONS, type Reason } from "./status/vocabulary.js";

const now = new Date("2026-11-25T12:00:00Z");
const later = "2026-11-25T12:05:00Z";
const earlier = "2026-11-25T11:55:00Z";
const graceOver = "2026-11-25T11:50:00Z";
const grace = 10 * 60_000;
const obs = (o: Partial<Observed>): Observed => ({
  appliedHash: "h1",
  hasResources: true,
  reason: "Applied",
  nextAttemptAt: undefined,
  stoppedFor: undefined,
  removalAt: undefined,
  removalHeld: false,
  ...o,
});
const present = (hash: string): Desired => ({ kind: "present", hash });
const removed: Desired = { kind: "absent", removalPolicy: "destroy", graceMs: grace };
const retain: Desired = { kind: "absent", removalPolicy: "retain", graceMs: grace };
const held: Desired = { ...removed, hold: "5 of 12 stack files are missing at once" };

describe("decide", () => {
  it.each<[string, Desired, Observed | undefined, string, string]>([
    ["new stack", present("h1"), undefined, "up", "never-applied"],
    ["unchanged", present("h1"), obs({}), "noop", "up-to-date"],
    ["changed", present("h2"), obs({}), "up", "spec-changed"],
    ["invalid file is never applied", { kind: "invalid", message: "x" }, obs({}), "noop", "invalid-spec"],
    ["invalid new file", { kind: "invalid", message: "x" }, undefined, "noop", "invalid-spec"],
    ["removed, destroy policy, grace over", removed, obs({ reason: "PendingRemoval", removalAt: graceOver }), "destroy", "file-removed"],
    ["removed, retain policy", retain, obs({}), "noop", "retained"],
    ["removed, already destroyed", removed, obs({ hasResources: false, reason: "Destroyed" }), "noop", "already-removed"],
    ["removed, never applied", removed, undefined, "noop", "already-removed"],
    ["retry not yet due", present("h2"), obs({ reason: "Retrying", nextAttemptAt: later }), "wait", "backing-off"],
    ["retry due", present("h2"), obs({ reason: "Retrying", nextAttemptAt: earlier }), "up", "spec-changed"],
    ["stalled at the cap waits too", present("h2"), obs({ reason: "RepeatedFailures", nextAttemptAt: later }), "wait", "backing-off"],
    ["a fixed unsafe plan runs at once", present("h3"), obs({ reason: "UnsafePlan", nextAttemptAt: later, stoppedFor: "h2" }), "up", "spec-changed"],
    ["the refused spec is not tried again", present("h2"), obs({ reason: "UnsafePlan", stoppedFor: "h2" }), "noop", "stopped-until-file-changes"],
    ["drift found by a refresh re-applies the same spec", present("h1"), obs({ reason: "DriftDetected" }), "up", "drift-detected"],
    ["hooks failed, due", present("h1"), obs({ reason: "HookFailed", nextAttemptAt: earlier }), "up", "hooks-pending"],
    ["hooks failed, not due", present("h1"), obs({ reason: "HookFailed", nextAttemptAt: later }), "wait", "backing-off"],
    ["a failed re-apply of the applied spec is retried", present("h1"), obs({ reason: "Retrying", nextAttemptAt: earlier }), "up", "retry-due"],
    [
      "first apply failed, not due",
      present("h1"),
      obs({ appliedHash: undefined, hasResources: false, reason: "Retrying", nextAttemptAt: later }),
      "wait",
      "backing-off",
    ],
    ["destroy failing backs off", removed, obs({ reason: "Retrying", nextAttemptAt: later, removalAt: graceOver }), "wait", "backing-off"],
    // Bug: a protected stack whose file is gone was "destroyed" again (and refused again) at every resync.
    [
      "file removed + Protected + retry due",
      removed,
      obs({ reason: "Protected", nextAttemptAt: earlier, stoppedFor: "absent", removalAt: graceOver }),
      "noop",
      "stopped-until-file-changes",
    ],
    // Bug: a missing file was destroyed at once (~125 ms after a non-atomic save, a checkout or a reset).
    ["removed, first seen: the grace period starts", removed, obs({}), "wait", "removal-grace"],
    ["removed, in the grace period", removed, obs({ reason: "PendingRemoval", removalAt: later }), "wait", "removal-grace"],
    [
      "removed with many others: held, even after the grace",
      held,
      obs({ reason: "PendingRemoval", removalAt: graceOver, removalHeld: true }),
      "noop",
      "removal-held",
    ],
    ["removed, no grace configured", { ...removed, graceMs: 0 }, obs({}), "destroy", "file-removed"],
    ["the file came back in the grace period", present("h1"), obs({ reason: "PendingRemoval", removalAt: later }), "noop", "up-to-date"],
    ["file back after Protected: applied again", present("h1"), obs({ reason: "Protected", stoppedFor: "absent" }), "noop", "up-to-date"],
    ["allocation exhausted, not due", present("h2"), obs({ reason: "AllocationExhausted", nextAttemptAt: later }), "wait", "backing-off"],
  ])("%s", (_name, desired, observed, action, reason) => {
    const d = decide(desired, observed, now);
    expect(d.action).toBe(action);
    expect(d.reason).toBe(reason);
    const firstSeen = observed?.removalAt === undefined && reason === "removal-grace";
    if (action === "wait") expect(d.until?.toISOString()).toBe(firstSeen ? "2026-11-25T12:10:00.000Z" : new Date(later).toISOString());
  });

  it("the grace period is recorded when the file is first seen missing, and a held removal says why", () => {
    expect(decide(removed, obs({}), now).transition).toEqual({ mark: "pending-removal", at: new Date("2026-11-25T12:10:00Z"), hold: undefined });
    expect(decide(held, obs({}), now).transition).toEqual({
      mark: "pending-removal",
      at: new Date("2026-11-25T12:10:00Z"),
      hold: "5 of 12 stack files are missing at once",
    });
    // No longer held (files came back) with the grace over: destroyed.
    expect(decide(removed, obs({ reason: "PendingRemoval", removalAt: graceOver, removalHeld: true }), now)).toEqual({
      action: "destroy",
      reason: "file-removed",
    });
    // Still in the grace period, no longer held: the status says so.
    expect(decide(removed, obs({ reason: "PendingRemoval", removalAt: later, removalHeld: true }), now).transition).toEqual({
      mark: "pending-removal",
      at: new Date(later),
      hold: undefined,
    });
  });

  // Every (situation, reason) pair. A cell is the action, then `>` and the status recorded before it, if any.
  const situations: Record<string, { desired: Desired; observed: Partial<Observed> }> = {
    unchanged: { desired: present("h1"), observed: {} },
    changed: { desired: present("h2"), observed: {} },
    firstApply: { desired: present("h1"), observed: { appliedHash: undefined, hasResources: false } },
    invalid: { desired: { kind: "invalid", message: "alice.yaml:3:1: bad" }, observed: {} },
    goneFirstSeen: { desired: removed, observed: {} },
    goneInGrace: { desired: removed, observed: { removalAt: later } },
    goneGraceOver: { desired: removed, observed: { removalAt: graceOver } },
    goneHeld: { desired: held, observed: { removalAt: graceOver } },
    retained: { desired: retain, observed: {} },
    goneNeverApplied: { desired: removed, observed: { appliedHash: undefined, hasResources: false } },
    backInGrace: { desired: present("h1"), observed: { removalAt: later } },
  };
  const cell = (d: Decision): string => {
    const t = d.transition;
    const to = !t
      ? ""
      : t.mark === "removed"
        ? `>${t.how}`
        : t.mark === "applied"
          ? ">Applied"
          : t.mark === "pending-removal"
            ? t.hold
              ? ">PendingRemoval(held)"
              : ">PendingRemoval"
            : t.mark === "removal-cancelled"
              ? ">cancel"
              : `>${t.reason}`;
    return `${d.action}${to}`;
  };
  const matrix = (rows: Record<Reason, string[]>, nextAttemptAt: string, stoppedFor: (d: Desired) => string): void => {
    expect(Object.keys(rows).sort()).toEqual(Object.keys(REASONS).sort());
    for (const [reason, cells] of Object.entries(rows) as [Reason, string[]][]) {
      const got = Object.values(situations).map((s) =>
        cell(decide(s.desired, obs({ reason, nextAttemptAt, stoppedFor: stoppedFor(s.desired), ...s.observed }), now)),
      );
      expect([reason, ...got]).toEqual([reason, ...cells]);
    }
  };
  const columns = Object.keys(situations).join(", ");
  const W = "wait",
    N = "noop",
    U = "up",
    D = "destroy",
    INV = "noop>InvalidSpec",
    RET = "noop>Retained";
  const GRACE = "wait>PendingRemoval",
    HELD = "noop>PendingRemoval(held)",
    UTD = "noop>Applied";

  it(`every reason × situation, retry not yet due, stop recorded for this very file (${columns})`, () => {
    const idle = [UTD, U, U, INV, GRACE, GRACE, D, HELD, RET, N, UTD];
    const heldStop = [N, N, N, INV, N, N, N, N, RET, N, "noop>cancel"];
    const backingOff = [W, W, W, INV, GRACE, GRACE, W, HELD, RET, N, "wait>cancel"];
    matrix(
      {
        Applied: [N, U, U, INV, GRACE, GRACE, D, HELD, RET, N, "noop>cancel"],
        Retained: [UTD, U, U, INV, N, N, N, N, N, N, UTD],
        Destroyed: idle,
        Pending: idle,
        Applying: idle,
        DriftDetected: [U, U, U, INV, GRACE, GRACE, D, HELD, RET, N, "up>cancel"],
        Retrying: backingOff,
        HookFailed: backingOff,
        PendingRemoval: [UTD, U, U, INV, GRACE, W, D, HELD, RET, N, UTD],
        InvalidSpec: [N, N, N, N, N, N, N, N, RET, N, "noop>cancel"],
        UnsafePlan: heldStop,
        Protected: heldStop,
        AllocationExhausted: backingOff,
        ApplyRejected: heldStop,
        RepeatedFailures: backingOff,
      },
      later,
      desiredKey,
    );
  });

  it(`every reason × situation, retry due, stop recorded for an older file (${columns})`, () => {
    const idle = [UTD, U, U, INV, GRACE, GRACE, D, HELD, RET, N, UTD];
    const retryDue = [U, U, U, INV, GRACE, GRACE, D, HELD, RET, N, "up>cancel"];
    matrix(
      {
        Applied: [N, U, U, INV, GRACE, GRACE, D, HELD, RET, N, "noop>cancel"],
        Retained: [UTD, U, U, INV, N, N, N, N, N, N, UTD],
        Destroyed: idle,
        Pending: idle,
        Applying: idle,
        DriftDetected: retryDue,
        Retrying: retryDue,
        HookFailed: retryDue,
        PendingRemoval: [UTD, U, U, INV, GRACE, W, D, HELD, RET, N, UTD],
        InvalidSpec: idle,
        UnsafePlan: idle,
        Protected: idle,
        AllocationExhausted: retryDue,
        ApplyRejected: idle,
        RepeatedFailures: retryDue,
      },
      earlier,
      () => "an older file",
    );
  });
});

describe("the status a failure leaves", () => {
  const retry =
    (failures: number, repeated = false) =>
    () => ({ failures, delayMs: 4000, repeated });
  it.each<[string, unknown, boolean, string]>([
    ["transient", new ProxstackError("pve-5xx", "boom", { kind: "retry" }), false, "Retrying"],
    ["transient, the retry book says repeated", new ProxstackError("pve-5xx", "boom", { kind: "retry" }), true, "RepeatedFailures"],
    ["a foreign error counts as transient", new Error("boom"), false, "Retrying"],
    ["refused as written", new ProxstackError("name-too-long", "too long", { kind: "stall" }), false, "ApplyRejected"],
    ["allocation exhausted is retried", new ProxstackError("allocation-exhausted", "no VMID", { kind: "stall" }), true, "AllocationExhausted"],
  ])("%s", (_name, err, repeated, reason) => {
    const t = afterFailure(err, "msg", retry(3, repeated), now, "h2");
    expect(t.reason).toBe(reason);
    if (t.mark === "failed") expect([t.failures, t.nextAttemptAt.toISOString()]).toEqual([3, "2026-11-25T12:00:04.000Z"]);
    else expect(t).toEqual({ mark: "stalled", reason: "ApplyRejected", message: "msg", stoppedFor: "h2" });
  });

  it("a stop does not count as a failure in a row", () => {
    let asked = 0;
    afterFailure(new ProxstackError("name-too-long", "x", { kind: "stall" }), "x", () => ({ failures: ++asked, delayMs: 1, repeated: false }), now, "h");
    expect(asked).toBe(0);
  });

  it("hooks failed: retried after the pause", () => {
    expect(afterHooksFailed("ssh-unreachable", { failures: 2, delayMs: 2000, repeated: false }, now)).toEqual({
      mark: "failed",
      reason: "HookFailed",
      message: "ssh-unreachable",
      nextAttemptAt: new Date("2026-11-25T12:00:02Z"),
      failures: 2,
    });
  });
});
