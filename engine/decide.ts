// The pure decision of what to do with one stack, given its desired spec, its recorded status and the time.
import type { Reason } from "./status/vocabulary.js";

/** The desired side, as read from the stacks directory. */
export type Desired =
  | { kind: "present"; hash: string }
  | { kind: "invalid"; message: string }
  | { kind: "absent"; removalPolicy: "destroy" | "retain" };

/** The recorded side, the few fields of the status row decide reads. */
export interface Observed {
  appliedHash: string | undefined;
  hasResources: boolean;
  reason: Reason | undefined;
  nextAttemptAt: string | undefined;
}

/** Stops that only a change of the file can clear: a new spec runs at once, without waiting out a pause. */
const STALLED_BY_SPEC: ReadonlySet<Reason> = new Set(["InvalidSpec", "UnsafePlan", "AllocationExhausted", "ApplyRejected", "Protected"]);

export type Action = "up" | "destroy" | "wait" | "noop";

export type DecisionReason =
  | "never-applied" | "spec-changed" | "hooks-pending" | "up-to-date"
  | "invalid-spec" | "file-removed" | "retained" | "already-removed" | "backing-off" | "drift-detected";

export interface Decision {
  action: Action;
  reason: DecisionReason;
  /** For `wait`: when to look again. */
  until?: Date;
}

/**
 * Decides the next step for one stack. Never applies an invalid file; waits while a retry is not
 * yet due (unless the spec changed since); destroys only where the removal policy allows.
 */
export function decide(desired: Desired, observed: Observed | undefined, now: Date): Decision {
  if (desired.kind === "invalid") return { action: "noop", reason: "invalid-spec" };
  const due = observed?.nextAttemptAt ? new Date(observed.nextAttemptAt) : undefined;
  if (desired.kind === "absent") {
    if (!observed?.hasResources || observed.reason === "Retained") return { action: "noop", reason: "already-removed" };
    if (desired.removalPolicy === "retain") return { action: "noop", reason: "retained" };
    if (due && due > now && observed.reason !== "Protected") return { action: "wait", reason: "backing-off", until: due };
    return { action: "destroy", reason: "file-removed" };
  }
  if (observed?.appliedHash === undefined || !observed.hasResources) {
    if (due && due > now) return { action: "wait", reason: "backing-off", until: due };
    return { action: "up", reason: "never-applied" };
  }
  if (observed.appliedHash === desired.hash) {
    if (observed.reason === "DriftDetected") return { action: "up", reason: "drift-detected" };
    if (observed.reason === "HookFailed") {
      if (due && due > now) return { action: "wait", reason: "backing-off", until: due };
      return { action: "up", reason: "hooks-pending" };
    }
    return { action: "noop", reason: "up-to-date" };
  }
  // A failed attempt at this same hash backs off; a different, newer spec... also backs off unless
  // the previous failure was a stall (the author changed the file to fix it).
  const stalledBySpec = observed.reason !== undefined && STALLED_BY_SPEC.has(observed.reason);
  if (due && due > now && !stalledBySpec) return { action: "wait", reason: "backing-off", until: due };
  return { action: "up", reason: "spec-changed" };
}
