// The engine: watcher and periodic resync feed a keyed work queue whose worker is the reconciler; the platform stack is batched.
import type { Clock } from "../lib/clock.js";
import type { Logger } from "../lib/logger.js";
import { PLATFORM_STACK, stackFileName } from "../programs/naming.js";
import { join } from "node:path";
import { DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.js";
import { commitStackFile, setInstanceAllocations, writeIfUnchanged } from "./allocation-writer.js";
import { createReconciler, DEFAULT_REMOVAL, needsPass, type PostApplyHooks, type ReplacementCheck } from "./reconciler.js";
import type { StackRunner } from "../runners/runner.js";
import { createStackIndex, type StackIndex } from "./stack-index.js";
import type { StatusStore } from "./status/store.js";
import type { Timers } from "./timers.js";
import { watchStacks, type StackWatcher } from "./watcher.js";
import { createRetryBook, createWorkQueue, type Priority, type WorkQueue } from "./work-queue.js";

export interface EngineOptions {
  /** Stacks applied at once. @default 4 */
  concurrency: number;
  /** Stacks applied at once on one Proxmox node (parallel clones hit Proxmox lock timeouts). @default 2 */
  perNodeLimit: number;
  /** Quiet time after a file event before the stack is looked at. @default 50 */
  debounceMs: number;
  /** Full resync period, the safety net behind the watcher. @default 300000 (5 minutes) */
  resyncIntervalMs: number;
  /** Drift detection period: every applied stack is refreshed and re-applied when reality differs; 0 turns it off. @default 1800000 (30 minutes) */
  refreshIntervalMs: number;
  /** Quiet time after a route change before the one platform run. @default 2000 */
  platformQuietMs: number;
  /** Longest a stream of route changes may delay the platform run. @default 30000 */
  platformMaxWaitMs: number;
  backoff: BackoffOptions;
  /**
   * How long a stack whose file is missing waits before its resources are destroyed (a save, checkout or
   * reset may bring it back). @default 600000 (10 minutes)
   */
  removalGraceMs: number;
  /** When more user stack files than this are missing at once, none is destroyed until `proxstack destroy <stack>` confirms it. @default 3 */
  removalHoldAboveStacks: number;
  /** …or more than this share of the known user stacks (with at least two missing). @default 0.1 */
  removalHoldAboveShare: number;
  /** Watch the directory (false for one-shot passes). @default true */
  watch: boolean;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  concurrency: 4,
  perNodeLimit: 2,
  debounceMs: 50,
  resyncIntervalMs: 5 * 60_000,
  refreshIntervalMs: 30 * 60_000,
  platformQuietMs: 2000,
  platformMaxWaitMs: 30_000,
  backoff: DEFAULT_BACKOFF,
  removalGraceMs: DEFAULT_REMOVAL.graceMs,
  removalHoldAboveStacks: DEFAULT_REMOVAL.holdAboveStacks,
  removalHoldAboveShare: DEFAULT_REMOVAL.holdAboveShare,
  watch: true,
};

export interface EngineDeps {
  stacksDir: string;
  store: StatusStore;
  runner: StackRunner;
  clock: Clock;
  timers: Timers;
  log: Logger;
  hooks?: PostApplyHooks;
  replacementRisks?: ReplacementCheck;
  random?: () => number;
  options?: Partial<EngineOptions>;
}

export interface Engine {
  readonly index: StackIndex;
  readonly store: StatusStore;
  readonly queue: WorkQueue;
  readonly runner: StackRunner;
  /** Crash recovery, a first full pass, then the watcher and the periodic resync. */
  start(): Promise<void>;
  /** Stops watching and starting runs; waits for runs in flight. */
  stop(): Promise<void>;
  /** Reads every file; queues the stacks whose desired state differs from what was applied. */
  resync(): Promise<{ queued: string[]; read: number }>;
  /** Queues one stack now (the portal uses "portal", ahead of resyncs). */
  enqueue(stack: string, priority?: Priority): void;
  /**
   * Destroys one user stack now (outside the queue's retries), whatever its grace period or hold
   * (`proxstack destroy` confirms a held removal); protected instances refuse.
   */
  destroy(stack: string): Promise<void>;
  /** Drift detection now: queues a refresh of every applied stack (each runs in its turn, never beside a run of the same stack). */
  refresh(): string[];
  /** Resolves when nothing is queued, running or waiting for the platform batch. */
  idle(): Promise<void>;
}

export function createEngine(deps: EngineDeps): Engine {
  const o: EngineOptions = { ...DEFAULT_ENGINE_OPTIONS, ...deps.options, backoff: { ...DEFAULT_BACKOFF, ...deps.options?.backoff } };
  const { store, runner, clock, timers, log } = deps;
  // Values live resources hold stay theirs: a file cannot take the address of a retained or still-running container.
  const index = createStackIndex(deps.stacksDir, { liveHolders: () => store.allocationHolders() });
  let watcher: StackWatcher | undefined;
  let resyncTimer: unknown;
  let refreshTimer: unknown;
  let stopped = false;

  // Platform batching: one platform run after route changes go quiet (or after the longest wait).
  let batchTimer: unknown;
  let batchFirst: number | undefined;
  const touchPlatform = (): void => {
    const now = clock.now().getTime();
    batchFirst ??= now;
    if (batchTimer !== undefined) timers.clearTimeout(batchTimer);
    const wait = Math.max(0, Math.min(o.platformQuietMs, batchFirst + o.platformMaxWaitMs - now));
    batchTimer = timers.setTimeout(() => {
      batchTimer = undefined;
      batchFirst = undefined;
      queue.add(PLATFORM_STACK, "change");
      notifyIdle();
    }, wait);
  };

  const retries = createRetryBook(o.backoff, deps.random);
  const reconciler = createReconciler({
    index,
    store,
    runner,
    clock,
    log,
    retries,
    removal: { graceMs: o.removalGraceMs, holdAboveStacks: o.removalHoldAboveStacks, holdAboveShare: o.removalHoldAboveShare },
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
    ...(deps.replacementRisks ? { replacementRisks: deps.replacementRisks } : {}),
    onRoutesChanged: touchPlatform,
    writeAllocations: async (stack, text, assignments) => {
      const file = join(deps.stacksDir, stackFileName(stack));
      const res = await writeIfUnchanged(file, text, setInstanceAllocations(text, assignments));
      if (!res.ok) return false;
      const what = assignments.map((a) => `${a.instance}${a.vmid !== undefined ? ` vmid ${a.vmid}` : ""}${a.ip !== undefined ? ` ip ${a.ip}` : ""}`).join(", ");
      await commitStackFile(deps.stacksDir, stackFileName(stack), `engine: allocate ${stack}: ${what}`).catch((err: unknown) => {
        log.warn({ stack, err }, "allocation written but not committed");
      });
      return true;
    },
  });

  const queue = createWorkQueue({
    concurrency: o.concurrency,
    groupLimit: o.perNodeLimit,
    groupOf: (key) => (key === PLATFORM_STACK ? undefined : index.platform().spec?.proxmox.nodes[0]),
    worker: (key) => reconciler.reconcile(key),
    timers,
    clock,
    retries,
    onError: (key, err) => log.error({ stack: key, err }, "reconcile threw; backing off"),
  });

  /** Queues the stacks decide() has something for (a run, a pause to wait out, a status to record); the platform stack goes through its batch. */
  const enqueueChanged = (names: Iterable<string>, priority: Priority): string[] => {
    const queued: string[] = [];
    for (const n of names) {
      if (!needsPass(reconciler.decision(n))) continue;
      if (n === PLATFORM_STACK) {
        touchPlatform();
        continue;
      }
      store.markPending(n);
      queue.add(n, priority);
      queued.push(n);
    }
    return queued;
  };

  const pendingRemovals = (): string[] =>
    store
      .listStacks()
      .filter((s) => s.reason === "PendingRemoval")
      .map((s) => s.name);

  let idleWaiters: (() => void)[] = [];
  const notifyIdle = (): void => {
    void queue.idle().then(() => {
      if (batchTimer !== undefined) return;
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    });
  };

  const scheduleResync = (): void => {
    if (stopped || o.resyncIntervalMs <= 0) return;
    resyncTimer = timers.setTimeout(() => {
      engine
        .resync()
        .catch((err: unknown) => log.error({ err }, "resync failed"))
        .finally(scheduleResync);
    }, o.resyncIntervalMs);
  };

  const scheduleRefresh = (): void => {
    if (stopped || o.refreshIntervalMs <= 0) return;
    refreshTimer = timers.setTimeout(() => {
      engine.refresh();
      scheduleRefresh();
    }, o.refreshIntervalMs);
  };

  const engine: Engine = {
    index,
    store,
    queue,
    runner,
    async start() {
      const interrupted = store.failInterruptedRuns();
      const cleared = await runner.recover();
      if (interrupted > 0 || cleared.length > 0) log.warn({ interrupted, cleared }, "recovered after an unclean stop");
      store.setMode(runner.mode);
      if (o.watch) {
        watcher = watchStacks(deps.stacksDir, {
          debounceMs: o.debounceMs,
          timers,
          log,
          onChange: (stack) => {
            const existed = index.get(stack) !== undefined;
            index
              .reload(stack)
              // A file that goes or comes back changes whether the other pending removals are held: they are asked again.
              // (An edit of a file that stays does not, and reading every stack row per edit is what 10,000 stacks cannot afford.)
              .then((r) => {
                const goneOrBack = r.removed.length > 0 || (!existed && index.get(stack) !== undefined);
                enqueueChanged(new Set([...r.changed, ...r.removed, ...(goneOrBack ? pendingRemovals() : [])]), "change");
              })
              .catch((err: unknown) => log.error({ stack, err }, "reading a changed stack file failed"));
          },
        });
        await watcher.ready;
      }
      // Failures in a row outlive the process in the status store; the retry book carries on from there.
      for (const s of store.listStacks()) retries.restore(s.name, s.failures);
      const { queued } = await engine.resync();
      // Every stack the store knows is asked again: a crash can leave one mid-run or with a retry pending.
      enqueueChanged(
        store
          .listStacks()
          .map((s) => s.name)
          .filter((n) => !queued.includes(n)),
        "resync",
      );
      scheduleResync();
      scheduleRefresh();
    },
    async stop() {
      stopped = true;
      if (resyncTimer !== undefined) timers.clearTimeout(resyncTimer);
      if (refreshTimer !== undefined) timers.clearTimeout(refreshTimer);
      if (batchTimer !== undefined) timers.clearTimeout(batchTimer);
      batchTimer = undefined;
      await watcher?.close();
      await queue.shutdown();
    },
    async resync() {
      const r = await index.resync();
      const names = new Set([...r.changed, ...r.removed]);
      // Stacks known to the status store but gone from the directory before this process started.
      for (const s of store.listStacks()) if (s.name !== PLATFORM_STACK && !index.get(s.name) && s.hasResources) names.add(s.name);
      const queued = enqueueChanged(names, "resync");
      return { queued, read: r.read };
    },
    async destroy(stack) {
      await reconciler.destroy(stack);
    },
    refresh() {
      const applied = store
        .listStacks()
        .filter((s) => s.reason === "Applied")
        .map((s) => s.name);
      for (const name of applied) {
        reconciler.requestRefresh(name);
        queue.add(name, "resync");
      }
      return applied;
    },
    enqueue(stack, priority = "portal") {
      store.markPending(stack);
      queue.add(stack, priority);
    },
    idle() {
      return new Promise((resolve) => {
        idleWaiters.push(resolve);
        notifyIdle();
      });
    },
  };
  return engine;
}
