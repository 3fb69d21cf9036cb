// Retry pauses: exponential backoff with full jitter, capped at a few minutes.

export interface BackoffOptions {
  /** First pause. @default 1000 */
  baseMs: number;
  /** Longest pause; a Stalled stack keeps retrying at this. @default 300000 (5 minutes) */
  capMs: number;
  /** Failures in a row after which a stack shows Stalled (RepeatedFailures). @default 5 */
  stallAfter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 5 * 60_000, stallAfter: 5 };

/**
 * Pause before retry number `failures` (1-based): base·2^(failures-1), capped, with jitter drawing
 * the pause uniformly from its upper half so retries of many stacks spread out but never collapse to 0.
 */
export function backoffDelay(failures: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, Math.min(failures - 1, 40)));
  return Math.round(exp / 2 + random() * (exp / 2));
}
