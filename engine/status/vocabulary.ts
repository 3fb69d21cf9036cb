// The fixed status vocabulary of a stack: three conditions and a closed set of reasons, each with its properties and one line of doc.

/** The condition a stack is in; the portal and the CLI show exactly these words. */
export type Condition = "Ready" | "Reconciling" | "Stalled";

/** What a reason means for the engine's next step: the one table decide(), the store and the engine read. */
export interface ReasonProperties {
  condition: Condition;
  /** The engine tries the same desired state again on its own once `nextAttemptAt` is due (and not before). */
  retryable: boolean;
  /**
   * The desired state it was recorded for is not tried again (not by a resync, a restart or a retry);
   * a changed file runs at once, without waiting out a pause.
   */
  untilFileChanges: boolean;
  /** A queued change (`markPending`, a resync) leaves the reason showing until a run starts. */
  survivesPending: boolean;
  doc: string;
}

const ready = { condition: "Ready", retryable: false, untilFileChanges: false, survivesPending: false } as const;
const stopped = { condition: "Stalled", retryable: false, untilFileChanges: true, survivesPending: true } as const;
const reconciling = { condition: "Reconciling", retryable: false, untilFileChanges: false, survivesPending: true } as const;

/** Every reason a stack can be in its condition, with its properties and one line of doc. */
export const REASONS = {
  Applied: { ...ready, doc: "The stack file is applied and its post-deploy hooks succeeded." },
  Retained: { ...ready, doc: "The stack file was removed; the platform's removalPolicy is retain, so its containers were kept." },
  Destroyed: { ...ready, doc: "The stack file was removed and every resource of the stack was destroyed." },
  Pending: { ...reconciling, doc: "A change was seen; the stack waits in the queue for a worker." },
  Applying: { ...reconciling, doc: "A run (preview, then up or destroy) is in progress." },
  DriftDetected: {
    condition: "Reconciling",
    retryable: false,
    untilFileChanges: false,
    survivesPending: true,
    doc: "A scheduled refresh found the real resources differ from the last apply; the engine applies the stack file again.",
  },
  Retrying: {
    condition: "Reconciling",
    retryable: true,
    untilFileChanges: false,
    survivesPending: true,
    doc: "The last run failed for a transient reason; the engine retries after a growing pause.",
  },
  HookFailed: {
    condition: "Reconciling",
    retryable: true,
    untilFileChanges: false,
    survivesPending: true,
    doc: "Resources are applied but a post-deploy hook failed (degraded); the engine retries the hooks, never rolling back.",
  },
  PendingRemoval: {
    condition: "Reconciling",
    retryable: false,
    untilFileChanges: false,
    survivesPending: true,
    doc:
      "The stack file is gone; its resources are destroyed when the grace period ends (or, when many files went at once, " +
      "once `proxstack destroy` confirms); the file coming back cancels it.",
  },
  InvalidSpec: { ...stopped, doc: "The stack file fails validation; nothing is applied until it is fixed, the last good state stays." },
  UnsafePlan: { ...stopped, doc: "The plan would replace or delete containers the file change did not ask for; nothing was applied." },
  Protected: { ...stopped, doc: "Destroying the stack would remove a protected instance; nothing was destroyed." },
  AllocationExhausted: {
    condition: "Stalled",
    retryable: true,
    untilFileChanges: false,
    survivesPending: true,
    doc: "No free VMID or IP address is left in the platform's range and pool; retried at the longest pause, and at once when the file changes.",
  },
  ApplyRejected: { ...stopped, doc: "The run refused the spec as written (for example a name too long for DNS); nothing more happens until the file changes." },
  RepeatedFailures: {
    condition: "Stalled",
    retryable: true,
    untilFileChanges: false,
    survivesPending: true,
    doc: "The run failed several times in a row; the engine keeps retrying at the longest pause.",
  },
} as const satisfies Record<string, ReasonProperties>;

export type Reason = keyof typeof REASONS;

/** Reasons that stop a stack until its file changes (`untilFileChanges`): what `markStalled` records. */
export type StopReason = { [R in Reason]: (typeof REASONS)[R]["untilFileChanges"] extends true ? R : never }[Reason];

/** Reasons that follow a failed run and are retried after a pause (`retryable`): what `markFailed` records. */
export type RetryReason = { [R in Reason]: (typeof REASONS)[R]["retryable"] extends true ? R : never }[Reason];

/** The properties of a reason. */
export function reasonOf(reason: Reason): ReasonProperties {
  return REASONS[reason];
}

/** The condition a reason belongs to. */
export function conditionOf(reason: Reason): Condition {
  return REASONS[reason].condition;
}

/** Power and lifecycle of one instance as the engine last saw it. */
export type InstanceState = "provisioning" | "ready" | "hook-failed" | "destroyed";

/** Lifecycle of one run. */
export type RunState = "queued" | "running" | "succeeded" | "failed";

/** What a run does. */
export type RunAction = "up" | "destroy";
