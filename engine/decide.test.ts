import { describe, expect, it } from "vitest";
import { decide, type Desired, type Observed } from "./decide.js";

const now = new Date("2026-11-25T12:00:00Z");
const later = "2026-11-25T12:05:00Z";
const earlier = "2026-11-25T11:55:00Z";
const obs = (o: Partial<Observed>): Observed => ({ appliedHash: "h1", hasResources: true, reason: "Applied", nextAttemptAt: undefined, ...o });
const present = (hash: string): Desired => ({ kind: "present", hash });

describe("decide", () => {
  it.each<[string, Desired, Observed | undefined, string, string]>([
    ["new stack", present("h1"), undefined, "up", "never-applied"],
    ["unchanged", present("h1"), obs({}), "noop", "up-to-date"],
    ["changed", present("h2"), obs({}), "up", "spec-changed"],
    ["invalid file is never applied", { kind: "invalid", message: "x" }, obs({}), "noop", "invalid-spec"],
    ["invalid new file", { kind: "invalid", message: "x" }, undefined, "noop", "invalid-spec"],
    ["removed, destroy policy", { kind: "absent", removalPolicy: "destroy" }, obs({}), "destroy", "file-removed"],
    ["removed, retain policy", { kind: "absent", removalPolicy: "retain" }, obs({}), "noop", "retained"],
    ["removed, already destroyed", { kind: "absent", removalPolicy: "destroy" }, obs({ hasResources: false, reason: "Destroyed" }), "noop", "already-removed"],
    ["removed, never applied", { kind: "absent", removalPolicy: "destroy" }, undefined, "noop", "already-removed"],
    ["retry not yet due", present("h2"), obs({ reason: "Retrying", nextAttemptAt: later }), "wait", "backing-off"],
    ["retry due", present("h2"), obs({ reason: "Retrying", nextAttemptAt: earlier }), "up", "spec-changed"],
    ["stalled at the cap waits too", present("h2"), obs({ reason: "RepeatedFailures", nextAttemptAt: later }), "wait", "backing-off"],
    ["a fixed unsafe plan runs at once", present("h3"), obs({ reason: "UnsafePlan", nextAttemptAt: later }), "up", "spec-changed"],
    ["drift found by a refresh re-applies the same spec", present("h1"), obs({ reason: "DriftDetected" }), "up", "drift-detected"],
    ["hooks failed, due", present("h1"), obs({ reason: "HookFailed", nextAttemptAt: earlier }), "up", "hooks-pending"],
    ["hooks failed, not due", present("h1"), obs({ reason: "HookFailed", nextAttemptAt: later }), "wait", "backing-off"],
    ["first apply failed, not due", present("h1"), obs({ appliedHash: undefined, hasResources: false, reason: "Retrying", nextAttemptAt: later }), "wait", "backing-off"],
    ["destroy failing backs off", { kind: "absent", removalPolicy: "destroy" }, obs({ reason: "Retrying", nextAttemptAt: later }), "wait", "backing-off"],
  ])("%s", (_name, desired, observed, action, reason) => {
    const d = decide(desired, observed, now);
    expect(d.action).toBe(action);
    expect(d.reason).toBe(reason);
    if (action === "wait") expect(d.until?.toISOString()).toBe(new Date(later).toISOString());
  });
});
