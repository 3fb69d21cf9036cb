// How a pending removal reads in `proxstack status`: when the resources go, how long until then, and whether a person must confirm.
import type { StackStatus } from "./store.js";

/** A pending removal as `proxstack status --json` shows it (`pendingRemoval`). */
export interface PendingRemovalView {
  /** When the grace period ends (ISO). */
  at: string;
  /** Milliseconds left until then; 0 once it is over. */
  inMs: number;
  /** Too many files went missing at once: nothing is destroyed until `proxstack destroy <stack>` confirms it. */
  held: boolean;
}

/** The pending removal of a stack, or undefined when its file is not missing. */
export function pendingRemovalOf(s: StackStatus, now: Date): PendingRemovalView | undefined {
  if (s.reason !== "PendingRemoval" || s.removalAt === undefined) return undefined;
  return { at: s.removalAt, inMs: Math.max(0, Date.parse(s.removalAt) - now.getTime()), held: s.removalHeld };
}

/** `9m 58s`, `1h 5m`, `42s`: a time left people read at a glance. */
export function formatTimeLeft(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${s}s`;
}

/** One line for `proxstack status` under a stack whose file is missing, or undefined. */
export function describePendingRemoval(s: StackStatus, now: Date): string | undefined {
  const r = pendingRemovalOf(s, now);
  if (!r) return undefined;
  const grace = r.inMs > 0 ? `ends in ${formatTimeLeft(r.inMs)}` : "over";
  if (r.held) return `removal held: nothing is destroyed until 'proxstack destroy ${s.name}' confirms it (grace period ${grace})`;
  return r.inMs > 0 ? `removal in ${formatTimeLeft(r.inMs)} (at ${r.at}) unless the file comes back` : `removal due now (grace period ended at ${r.at})`;
}
