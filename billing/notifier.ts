// What billing tells people: runway warnings, suspension, resume, deletion and scheduled-job outcomes, through one injected interface.

export type BillingNotice =
  | { type: "runway-warning"; stack: string; email: string; threshold: "24 hours" | "1 hour" | "10 minutes"; runwaySeconds: bigint; balanceMicro: bigint }
  | { type: "suspended"; stack: string; email: string; since: string }
  | { type: "resumed"; stack: string; email: string }
  | { type: "deletion-scheduled"; stack: string; email: string; deleteAt: string }
  | { type: "deleted"; stack: string; email: string; instances: string[] }
  | { type: "snapshot" | "backup"; stack: string; email: string; instance: string; ok: boolean; detail: string };

/** Delivers notices as events and mails (the portal's outbox, SMTP); failures are the notifier's to log. */
export interface BillingNotifier {
  notify(n: BillingNotice): Promise<void>;
}

/** One line per notice, for events, logs and the mail's body. */
export function describeNotice(n: BillingNotice): string {
  switch (n.type) {
    case "runway-warning":
      return `${n.stack}: points run out in less than ${n.threshold} at the current use (${n.runwaySeconds} s left)`;
    case "suspended":
      return `${n.stack}: points exhausted; every instance is stopped until points are added (since ${n.since})`;
    case "resumed":
      return `${n.stack}: points added; the instances that were running start again`;
    case "deletion-scheduled":
      return `${n.stack}: still suspended for points; its instances (not protected ones) will be deleted at ${n.deleteAt}`;
    case "deleted":
      return `${n.stack}: suspended for points past the grace period; deleted instances ${n.instances.join(", ") || "(none)"}`;
    case "snapshot":
    case "backup":
      return `${n.stack}/${n.instance}: scheduled ${n.type} ${n.ok ? "taken" : "failed"}: ${n.detail}`;
  }
}
