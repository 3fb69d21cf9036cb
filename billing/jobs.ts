// The billing jobs in `serve`: every minute (node-cron), one tick then due snapshots and backups; never two at once.
import cron from "node-cron";
import type { Clock } from "../lib/clock.js";
import { chainMessage } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";

/** Starts a repeating job; node-cron by default. Tests pass their own and fire it by hand. */
export type Scheduler = (expression: string, run: () => Promise<void>) => { stop(): void };

export interface BillingJobsDeps {
  clock: Clock;
  tick(now: Date): Promise<unknown>;
  /** Scheduled snapshots and backups; absent when no Proxmox client is wired. */
  schedules?: (now: Date) => Promise<unknown>;
  log: Logger;
  scheduler?: Scheduler;
}

export interface BillingJobs {
  /** Runs once at once (so schedules missed while down run now), then every minute. */
  start(): Promise<void>;
  /** Stops the schedule and waits for a run in progress. */
  stop(): Promise<void>;
  /** One run; false (and nothing done) when a run is still in progress. */
  runOnce(): Promise<boolean>;
}

const nodeCronScheduler: Scheduler = (expression, run) => {
  const task = cron.schedule(expression, run, { name: "proxstack-billing", noOverlap: true, timezone: "Etc/UTC" });
  return { stop: () => void task.destroy() };
};

export function createBillingJobs(deps: BillingJobsDeps): BillingJobs {
  let running: Promise<void> | undefined;
  let task: { stop(): void } | undefined;

  const work = async (): Promise<void> => {
    const now = deps.clock.now();
    try {
      await deps.tick(now);
    } catch (err) {
      deps.log.error({ err: chainMessage(err) }, "billing tick failed; the next tick bills the same minutes");
    }
    if (!deps.schedules) return;
    try {
      await deps.schedules(now);
    } catch (err) {
      deps.log.error({ err: chainMessage(err) }, "scheduled snapshots/backups failed");
    }
  };

  const runOnce = async (): Promise<boolean> => {
    if (running) {
      deps.log.warn("billing: the previous run is still going; this minute is skipped (the next tick bills it)");
      return false;
    }
    running = work();
    try {
      await running;
    } finally {
      running = undefined;
    }
    return true;
  };

  return {
    async start() {
      await runOnce();
      task = (deps.scheduler ?? nodeCronScheduler)("* * * * *", async () => {
        await runOnce();
      });
    },
    async stop() {
      task?.stop();
      task = undefined;
      await running;
    },
    runOnce,
  };
}
