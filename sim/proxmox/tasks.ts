// Asynchronous PVE tasks for the simulator: real UPIDs, logs ending in TASK OK / TASK ERROR, finishing after a delay, resumed after restart.
import type { PveStore, Task } from "./store.js";
import { ProxstackError } from "../../lib/errors.js";

/** PVE's UPID decoder (pve-common UPID.pm). */
export const UPID_RE = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, "0");

/** Builds a UPID as pve-common does: `UPID:node:PID:PSTART:STARTTIME:type:id:user:`. */
export function formatUpid(t: { node: string; pid: number; pstart: number; starttime: number; type: string; id: string; user: string }): string {
  return `UPID:${t.node}:${hex8(t.pid)}:${hex8(t.pstart)}:${hex8(t.starttime)}:${t.type}:${t.id}:${t.user}:`;
}

export interface ParsedUpid {
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

export function parseUpid(upid: string): ParsedUpid | undefined {
  const m = UPID_RE.exec(upid);
  if (!m) return undefined;
  return {
    node: m[1] ?? "",
    pid: parseInt(m[3] ?? "0", 16),
    pstart: parseInt(m[4] ?? "0", 16),
    starttime: parseInt(m[5] ?? "0", 16),
    type: m[6] ?? "",
    id: m[7] ?? "",
    user: m[8] ?? "",
  };
}

/** What a task does when its delay is over; throws to fail the task with that message. */
export type TaskWork = (task: Task, log: (line: string) => void) => Promise<void> | void;

export interface TaskRunner {
  /** Starts a task; it finishes after `delayMs` (never, when stuck). Returns the UPID. */
  start(t: { node: string; type: string; id: string; user: string; action: Record<string, unknown>; firstLines?: string[] }): string;
  /** Ends a running task as interrupted (DELETE …/tasks/{upid}). */
  stop(upid: string): void;
  /** Re-arms timers of tasks that were running when the simulator last stopped. */
  resume(): void;
  close(): void;
}

export interface TaskRunnerDeps {
  store: PveStore;
  now: () => number;
  delayMs: () => number;
  stuck: () => boolean;
  /** A message every task should fail with (fault injection), or undefined. */
  failWith: () => string | undefined;
  /** Interprets a task's action when it finishes. */
  work: TaskWork;
  /** Cleans up after a failed or stopped task (drops a half-made container, releases locks). */
  undo: (task: Task) => void;
  onError: (err: unknown, task: Task) => void;
}

export function createTaskRunner(deps: TaskRunnerDeps): TaskRunner {
  const timers = new Map<string, NodeJS.Timeout>();
  let closed = false;

  const arm = (task: Task) => {
    if (task.dueAt === undefined || closed) return;
    const timer = setTimeout(
      () => {
        timers.delete(task.upid);
        void finish(task.upid);
      },
      Math.max(0, task.dueAt - deps.now()),
    );
    timers.set(task.upid, timer);
  };

  const finish = async (upid: string) => {
    const task = deps.store.getTask(upid);
    if (!task || task.status !== "running" || closed) return;
    const lines: string[] = [];
    let error: string | undefined;
    try {
      const forced = deps.failWith();
      if (forced !== undefined) throw new ProxstackError("pve-simulation.fault", forced, { kind: "retry" });
      await deps.work(task, (l) => lines.push(l));
    } catch (err) {
      error = (err instanceof Error ? err.message : String(err)).replace(/\n+$/, "");
      deps.onError(err, task);
      deps.undo(task);
    }
    if (closed) return;
    const now = deps.now();
    const done: Task = {
      ...task,
      status: "stopped",
      endtime: Math.floor(now / 1000),
      exitstatus: error ?? "OK",
      log: [...task.log, ...lines, error === undefined ? "TASK OK" : `TASK ERROR: ${error}`],
      dueAt: undefined,
    };
    deps.store.putTask(done);
  };

  return {
    start(t) {
      const now = deps.now();
      const pid = deps.store.nextCounter("pid", 4096);
      const starttime = Math.floor(now / 1000);
      const fields = { node: t.node, pid, pstart: pid * 7 + 100000, starttime, type: t.type, id: t.id, user: t.user };
      const upid = formatUpid(fields);
      const task: Task = {
        ...fields,
        upid,
        status: "running",
        exitstatus: undefined,
        endtime: undefined,
        log: t.firstLines ?? [],
        dueAt: deps.stuck() ? undefined : now + deps.delayMs(),
        action: t.action,
      };
      deps.store.putTask(task);
      arm(task);
      return upid;
    },
    stop(upid) {
      const task = deps.store.getTask(upid);
      if (!task || task.status !== "running") return;
      clearTimeout(timers.get(upid));
      timers.delete(upid);
      deps.undo(task);
      deps.store.putTask({
        ...task,
        status: "stopped",
        endtime: Math.floor(deps.now() / 1000),
        exitstatus: "received interrupt",
        log: [...task.log, "TASK ERROR: received interrupt"],
        dueAt: undefined,
      });
    },
    resume() {
      for (const t of deps.store.runningTasks()) arm(t);
    },
    close() {
      closed = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}
