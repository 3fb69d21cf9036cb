// The pure decision of what to do with one stack and what its status becomes, given its desired spec, its recorded status and the time.
import { kindOf, ProxstackError } from "../lib/errors.js";
import { REASONS, type Reason, type RetryReason, type StopReason } from "./status/vocabulary.js";

/** The desired side, as read from the stacks directory. */
export type Desired =
  | { kind: "present"; hash: string }
  | { kind: "invalid"; message: string }
  | {
      kind: "absent";
      removalPolicy: "destroy" | "retain";
      /** How long a missing file waits before its resources are destroyed (a save, a checkout or a reset may bring it back). */
      graceMs: number;
      /** Set when too many files are missing at once: why nothing is destroyed until a person confirms. */
      hold?: string;
    };

/** The recorded side, the few fields of the status row decide reads. */
export interface Observed {
  appliedHash: string | undefined;
  hasResources: boolean;
  reason: Reason | undefined;
  nextAttemptAt: string | undefined;
  /** For a reason that holds until the file changes: the desired state (`desiredKey`) it was recorded for. */
  stoppedFor: string | undefined;
  /** Since the file went missing: when its grace period ends (ISO). */
  removalAt: string | undefined;
  /** Whether the pending removal was recorded as held for confirmation. */
  removalHeld: boolean;
}

/** What the run does next. */
export type Action = "up" | "destroy" | "wait" | "noop";

export type DecisionReason =
  | "never-applied"
  | "spec-changed"
  | "hooks-pending"
  | "retry-due"
  | "up-to-date"
  | "stopped-until-file-changes"
  | "invalid-spec"
  | "file-removed"
  | "retained"
  | "already-removed"
  | "backing-off"
  | "drift-detected"
  | "removal-grace"
  | "removal-held";

/**
 * A status change, written before the action runs (the store's `mark…` functions carry it out). Runs
 * write their own: Applying when they start, then Applied, or the transition `afterFailure` returns.
 */
export type Transition =
  | { mark: "stalled"; reason: StopReason; message: string; stoppedFor: string }
  | { mark: "failed"; reason: RetryReason; message: string; nextAttemptAt: Date; failures: number }
  | { mark: "removed"; how: "Retained" | "Destroyed" }
  /** The file is missing: destroy at `at`, unless `hold` says why a person must confirm first. */
  | { mark: "pending-removal"; at: Date; hold: string | undefined }
  /** The file came back before its resources were destroyed. */
  | { mark: "removal-cancelled" }
  /** Back to Applied at the recorded hash and spec: the status said otherwise, but nothing is left to run. */
  | { mark: "applied" };

export interface Decision {
  action: Action;
  reason: DecisionReason;
  /** For `wait`: when to look again. */
  until?: Date;
  /** The status to record now; none when the status already says what `reason` says. */
  transition?: Transition;
}

/** `desiredKey` of a stack whose file is missing: what a refused removal (Protected) holds for. */
export const FILE_MISSING_KEY = "absent";

/** The desired state as one string, recorded with a stop so decide can tell whether the file changed since. */
export function desiredKey(desired: Desired): string {
  switch (desired.kind) {
    case "present":
      return desired.hash;
    case "invalid":
      return `invalid\n${desired.message}`;
    case "absent":
      return FILE_MISSING_KEY;
  }
}

/**
 * Decides the next step for one stack and the status it moves to. Never applies an invalid file; never
 * tries again a desired state a stop was recorded for (a changed file runs at once); waits while a retry
 * is not yet due; destroys only where the removal policy allows. Every rule reads the reason's row of
 * the vocabulary table (`REASONS`), so the engine's resync and restart ask this function, nothing else.
 */
export function decide(desired: Desired, observed: Observed | undefined, now: Date): Decision {
  const reason = observed?.reason;
  const props = reason ? REASONS[reason] : undefined;
  const key = desiredKey(desired);
  const stopped = props?.untilFileChanges === true && observed?.stoppedFor === key;
  const dueAt = props?.retryable && observed?.nextAttemptAt ? new Date(observed.nextAttemptAt) : undefined;
  const due = dueAt && dueAt > now ? dueAt : undefined;

  if (desired.kind === "invalid") {
    if (reason === "InvalidSpec" && stopped) return { action: "noop", reason: "invalid-spec" };
    return { action: "noop", reason: "invalid-spec", transition: { mark: "stalled", reason: "InvalidSpec", message: desired.message, stoppedFor: key } };
  }

  if (desired.kind === "absent") {
    if (!observed?.hasResources || reason === "Retained") return { action: "noop", reason: "already-removed" };
    if (desired.removalPolicy === "retain") return { action: "noop", reason: "retained", transition: { mark: "removed", how: "Retained" } };
    if (stopped) return { action: "noop", reason: "stopped-until-file-changes" };
    return removal(desired, observed, now, due);
  }

  const d = decidePresent(desired.hash, observed, stopped, due);
  // The file came back before its resources were destroyed: the pending removal is called off.
  if (observed?.removalAt !== undefined && d.transition === undefined) return { ...d, transition: { mark: "removal-cancelled" } };
  return d;
}

/**
 * A missing file: a grace period first (the file may come back: a non-atomic save, a checkout), no
 * destroy at all while too many files are missing at once (`hold`), then the destroy, which backs off
 * like any run when it fails.
 */
function removal(desired: Desired & { kind: "absent" }, observed: Observed, now: Date, due: Date | undefined): Decision {
  const hold = desired.hold;
  const destroy: Decision = { action: "destroy", reason: "file-removed" };
  if (observed.removalAt === undefined && desired.graceMs <= 0 && hold === undefined) {
    return due ? { action: "wait", reason: "backing-off", until: due } : destroy;
  }
  const at = observed.removalAt !== undefined ? new Date(observed.removalAt) : new Date(now.getTime() + desired.graceMs);
  const recorded = observed.reason === "PendingRemoval" && observed.removalAt !== undefined && observed.removalHeld === (hold !== undefined);
  const transition: { transition?: Transition } = recorded ? {} : { transition: { mark: "pending-removal", at, hold } };
  if (hold !== undefined) return { action: "noop", reason: "removal-held", ...transition };
  if (at > now) return { action: "wait", reason: "removal-grace", until: at, ...transition };
  // The grace is over: a destroy that failed since backs off.
  return due ? { action: "wait", reason: "backing-off", until: due } : destroy;
}

function decidePresent(hash: string, observed: Observed | undefined, stopped: boolean, due: Date | undefined): Decision {
  const reason = observed?.reason;
  const wait = (until: Date): Decision => ({ action: "wait", reason: "backing-off", until });
  if (stopped) return { action: "noop", reason: "stopped-until-file-changes" };
  if (observed?.appliedHash === undefined || !observed.hasResources) return due ? wait(due) : { action: "up", reason: "never-applied" };
  if (observed.appliedHash === hash) {
    if (reason === "DriftDetected") return { action: "up", reason: "drift-detected" };
    if (reason === "HookFailed") return due ? wait(due) : { action: "up", reason: "hooks-pending" };
    // A failed re-apply of the applied spec (after drift, or a destroy that failed before the file came back).
    if (REASONS[reason ?? "Pending"].retryable) return due ? wait(due) : { action: "up", reason: "retry-due" };
    if (reason === "Applied") return { action: "noop", reason: "up-to-date" };
    return { action: "noop", reason: "up-to-date", transition: { mark: "applied" } };
  }
  // A newer spec waits out a transient failure's pause; after a stop it runs at once (the author changed
  // the file to fix it, and stops record no pause).
  return due ? wait(due) : { action: "up", reason: "spec-changed" };
}

/** The retry bookkeeping of a failed attempt, as the work queue's retry book returns it. */
export interface RetryStep {
  failures: number;
  delayMs: number;
  /** The key failed `stallAfter` times in a row or more. */
  repeated: boolean;
}

/**
 * The status a failed attempt leaves: a `stall` error stops until the file changes (for `stoppedFor`),
 * an exhausted allocation and anything transient are retried after the retry book's pause (`retry` is
 * asked only then, so a stop does not count as a failure in a row).
 */
export function afterFailure(
  err: unknown,
  message: string,
  retry: () => RetryStep,
  now: Date,
  stoppedFor: string,
): Transition & { mark: "failed" | "stalled" } {
  const exhausted = err instanceof ProxstackError && err.code === "allocation-exhausted";
  if (kindOf(err) === "stall" && !exhausted) return { mark: "stalled", reason: "ApplyRejected", message, stoppedFor };
  const r = retry();
  const nextAttemptAt = new Date(now.getTime() + r.delayMs);
  const reason = exhausted ? "AllocationExhausted" : r.repeated ? "RepeatedFailures" : "Retrying";
  return { mark: "failed", reason, message, nextAttemptAt, failures: r.failures };
}

/** The status after post-deploy hooks failed: resources stay applied, the hooks are retried after the retry book's pause. */
export function afterHooksFailed(message: string, retry: RetryStep, now: Date): Transition & { mark: "failed" } {
  return { mark: "failed", reason: "HookFailed", message, nextAttemptAt: new Date(now.getTime() + retry.delayMs), failures: retry.failures };
}
