// A controller-style work queue: keyed, coalescing, one run per key, bounded concurrency per queue and per group, priorities, delayed retries.
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import type { Clock } from "../lib/clock.js";
import type { Timers } from "./timers.js";
import { ProxstackError } from "../lib/errors.js";

/** The one home of retry bookkeeping: failures in a row per key, and the pause before the next attempt. */
export interface RetryBook {
  /** Counts a failure of `key`: failures in a row, the pause before the next attempt, and whether that reached `stallAfter`. */
  failed(key: string): { failures: number; delayMs: number; repeated: boolean };
  /** Forgets the failures of `key` (it succeeded, or stopped for a reason no pause helps). */
  succeeded(key: string): void;
  /** Failures in a row of `key` so far. */
  failures(key: string): number;
  /** Seeds the count of `key` from a record that outlived the process (the status store after a restart). */
  restore(key: string, failures: number): void;
}

export function createRetryBook(backoff: BackoffOptions, random: () => number = Math.random): RetryBook {
  const counts = new Map<string, number>();
  return {
    failed(key) {
      const failures = (counts.get(key) ?? 0) + 1;
      counts.set(key, failures);
      return { failures, delayMs: backoffDelay(failures, backoff, random), repeated: failures >= backoff.stallAfter };
    },
    succeeded: (key) => void counts.delete(key),
    failures: (key) => counts.get(key) ?? 0,
    restore(key, failures) {
      if (failures > 0) counts.set(key, failures);
      else counts.delete(key);
    },
  };
}

/** Where work comes from, highest priority first: a person in the portal, a file change, a retry, the periodic resync. */
export type Priority = "portal" | "change" | "retry" | "resync";
const PRIORITIES: readonly Priority[] = ["portal", "change", "retry", "resync"];
const rank = (p: Priority): number => PRIORITIES.indexOf(p);

/** What a worker asks for after handling a key: nothing, or another look after a pause. */
export type WorkResult = { requeueAfterMs?: number } | undefined | void;

export interface WorkQueueOptions {
  /** Keys handled at once. @default 4 */
  concurrency: number;
  /** Keys of one group (a Proxmox node) handled at once. @default 2 */
  groupLimit: number;
  /** The group of a key, or undefined for none (e.g. the platform stack). */
  groupOf(key: string): string | undefined;
  worker(key: string): Promise<WorkResult>;
  timers: Timers;
  clock: Clock;
  /**
   * Failures in a row and pauses. A worker that throws (a bug or an unexpected error) counts a failure and
   * the key comes back after the pause; a worker that returns nothing is done and its failures are forgotten;
   * one that asks for a pause keeps them (the worker counts its own failed runs in the same book).
   */
  retries: RetryBook;
  onError?(key: string, err: unknown): void;
}

export interface WorkQueue {
  /** Queues a key now; a key already queued keeps one entry (at the higher priority); a running key runs once more after. */
  add(key: string, priority?: Priority): void;
  /** Queues a key after a pause; an earlier pending pause for the key wins. */
  addAfter(key: string, ms: number, priority?: Priority): void;
  isQueued(key: string): boolean;
  isRunning(key: string): boolean;
  stats(): { queued: number; running: number; delayed: number };
  /** Resolves when nothing is queued or running (delayed keys do not count). */
  idle(): Promise<void>;
  /** Stops starting work, cancels delayed keys, and waits for running keys to finish. */
  shutdown(): Promise<void>;
}

export function createWorkQueue(opts: WorkQueueOptions): WorkQueue {
  const buckets: Map<string, true>[] = PRIORITIES.map(() => new Map());
  const queuedRank = new Map<string, number>();
  const running = new Set<string>();
  const dirty = new Map<string, number>();
  const delayed = new Map<string, { at: number; handle: unknown }>();
  const groupRunning = new Map<string, number>();
  let idleWaiters: (() => void)[] = [];
  let stopped = false;

  const enqueue = (key: string, r: number): void => {
    const cur = queuedRank.get(key);
    if (cur !== undefined && cur <= r) return;
    if (cur !== undefined) buckets[cur]?.delete(key);
    buckets[r]?.set(key, true);
    queuedRank.set(key, r);
  };

  const checkIdle = (): void => {
    if (queuedRank.size === 0 && running.size === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  };

  const pick = (): string | undefined => {
    for (const bucket of buckets) {
      for (const key of bucket.keys()) {
        const g = opts.groupOf(key);
        if (g !== undefined && (groupRunning.get(g) ?? 0) >= opts.groupLimit) continue;
        return key;
      }
    }
    return undefined;
  };

  const pump = (): void => {
    while (!stopped && running.size < opts.concurrency) {
      const key = pick();
      if (key === undefined) break;
      const r = queuedRank.get(key) ?? 0;
      buckets[r]?.delete(key);
      queuedRank.delete(key);
      start(key);
    }
    checkIdle();
  };

  const start = (key: string): void => {
    running.add(key);
    const g = opts.groupOf(key);
    if (g !== undefined) groupRunning.set(g, (groupRunning.get(g) ?? 0) + 1);
    const done = (result: WorkResult, failed: boolean): void => {
      running.delete(key);
      if (g !== undefined) groupRunning.set(g, (groupRunning.get(g) ?? 1) - 1);
      const again = dirty.get(key);
      dirty.delete(key);
      if (failed) {
        const { delayMs } = opts.retries.failed(key);
        if (again === undefined) queue.addAfter(key, delayMs, "retry");
      } else if (result?.requeueAfterMs !== undefined) {
        if (again === undefined) queue.addAfter(key, result.requeueAfterMs, "retry");
      } else {
        opts.retries.succeeded(key);
      }
      if (again !== undefined && !stopped) enqueue(key, again);
      pump();
    };
    let p: Promise<WorkResult>;
    try {
      p = opts.worker(key);
    } catch (err) {
      p = Promise.reject(err instanceof Error ? err : new ProxstackError("work-queue.worker-threw", String(err), { kind: "bug", cause: err }));
    }
    p.then(
      (res) => done(res, false),
      (err: unknown) => {
        opts.onError?.(key, err);
        done(undefined, true);
      },
    );
  };

  const queue: WorkQueue = {
    add(key, priority = "change") {
      if (stopped) return;
      const r = rank(priority);
      if (running.has(key)) {
        const cur = dirty.get(key);
        dirty.set(key, cur === undefined ? r : Math.min(cur, r));
        return;
      }
      const d = delayed.get(key);
      if (d && priority !== "retry") {
        // A fresh change overrides a pending retry pause only when it outranks a retry.
        opts.timers.clearTimeout(d.handle);
        delayed.delete(key);
      }
      enqueue(key, r);
      pump();
    },
    addAfter(key, ms, priority = "retry") {
      if (stopped) return;
      if (ms <= 0) return queue.add(key, priority);
      const at = opts.clock.now().getTime() + ms;
      const cur = delayed.get(key);
      if (cur && cur.at <= at) return;
      if (cur) opts.timers.clearTimeout(cur.handle);
      const handle = opts.timers.setTimeout(() => {
        delayed.delete(key);
        queue.add(key, priority);
      }, ms);
      delayed.set(key, { at, handle });
    },
    isQueued: (key) => queuedRank.has(key),
    isRunning: (key) => running.has(key),
    stats: () => ({ queued: queuedRank.size, running: running.size, delayed: delayed.size }),
    idle() {
      if (queuedRank.size === 0 && running.size === 0) return Promise.resolve();
      return new Promise((r) => idleWaiters.push(r));
    },
    async shutdown() {
      stopped = true;
      for (const d of delayed.values()) opts.timers.clearTimeout(d.handle);
      delayed.clear();
      for (const b of buckets) b.clear();
      queuedRank.clear();
      dirty.clear();
      await queue.idle();
    },
  };
  return queue;
}
