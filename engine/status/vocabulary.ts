// The fixed status vocabulary of a stack: three conditions and a closed set of reasons, each with one line of doc.

/** The condition a stack is in; the portal and the CLI show exactly these words. */
export type Condition = "Ready" | "Reconciling" | "Stalled";

/** Every reason a stack can be in its condition, with the condition it belongs to and one line of doc. */
export const REASONS = {
  Applied: { condition: "Ready", doc: "The stack file is applied and its post-deploy hooks succeeded." },
  Retained: { condition: "Ready", doc: "The stack file was removed; the platform's removalPolicy is retain, so its containers were kept." },
  Destroyed: { condition: "Ready", doc: "The stack file was removed and every resource of the stack was destroyed." },
  Pending: { condition: "Reconciling", doc: "A change was seen; the stack waits in the queue for a worker." },
  Applying: { condition: "Reconciling", doc: "A run (preview, then up or destroy) is in progress." },
  DriftDetected: { condition: "Reconciling", doc: "A scheduled refresh found the real resources differ from the last apply; the engine applies the stack file again." },
  Retrying: { condition: "Reconciling", doc: "The last run failed for a transient reason; the engine retries after a growing pause." },
  HookFailed: { condition: "Reconciling", doc: "Resources are applied but a post-deploy hook failed (degraded); the engine retries the hooks, never rolling back." },
  InvalidSpec: { condition: "Stalled", doc: "The stack file fails validation; nothing is applied until it is fixed, the last good state stays." },
  UnsafePlan: { condition: "Stalled", doc: "The plan would replace or delete containers the file change did not ask for; nothing was applied." },
  Protected: { condition: "Stalled", doc: "Destroying the stack would remove a protected instance; nothing was destroyed." },
  AllocationExhausted: { condition: "Stalled", doc: "No free VMID or IP address is left in the platform's range and pool." },
  ApplyRejected: { condition: "Stalled", doc: "The run refused the spec as written (for example a name too long for DNS); nothing more happens until the file changes." },
  RepeatedFailures: { condition: "Stalled", doc: "The run failed several times in a row; the engine keeps retrying at the longest pause." },
} as const satisfies Record<string, { condition: Condition; doc: string }>;

export type Reason = keyof typeof REASONS;

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
