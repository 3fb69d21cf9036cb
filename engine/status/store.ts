// The engine's status store (SQLite, WAL): stacks and their conditions, instances, runs and run events, and a live event stream.
import { EventEmitter } from "node:events";
import Database from "better-sqlite3";
import type { Clock } from "../../lib/clock.js";
import { ProxstackError } from "../../lib/errors.js";
import type { RunEvent } from "../../runners/runner.js";
import { conditionOf, type Condition, type InstanceState, type Reason, type RunAction, type RunState } from "./vocabulary.js";

/** Reasons a stack stops on until its file changes. */
export type StallReason = "InvalidSpec" | "UnsafePlan" | "Protected" | "AllocationExhausted" | "ApplyRejected";

export type EngineMode = "pulumi" | "simulation";

/** One stack's row: its condition, why, and what was last applied. */
export interface StackStatus {
  name: string;
  condition: Condition;
  reason: Reason;
  /** One plain sentence; for InvalidSpec the validator's `path:line:col: message` lines. */
  message: string;
  /** Desired-state hash last applied successfully (resources up to date with it). */
  appliedHash: string | undefined;
  /** The spec (JSON) of the last successful apply: the "before" of the next plan. */
  appliedSpec: unknown;
  /** Whether resources of this stack may exist (an up succeeded and no destroy since). */
  hasResources: boolean;
  lastRunId: number | undefined;
  /** Failures in a row; 0 after a success. */
  failures: number;
  /** When the next retry is due (ISO), while backing off. */
  nextAttemptAt: string | undefined;
  updatedAt: string;
}

export interface InstanceStatus {
  stack: string;
  name: string;
  vmid: number | undefined;
  ip: string | undefined;
  power: "running" | "stopped";
  state: InstanceState;
  updatedAt: string;
}

export interface RunRecord {
  id: number;
  stack: string;
  action: RunAction;
  state: RunState;
  specHash: string | undefined;
  mode: EngineMode;
  queuedAt: string;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  outputs: unknown;
  errorCode: string | undefined;
  errorMessage: string | undefined;
}

/** What the portal receives from the live stream. */
export type StatusEvent =
  | { type: "stack"; stack: StackStatus }
  | { type: "instance"; instance: InstanceStatus }
  | { type: "run"; run: RunRecord }
  | { type: "run-event"; runId: number; stack: string; event: RunEvent };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stacks (
  name TEXT PRIMARY KEY, condition TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
  applied_hash TEXT, applied_spec TEXT, has_resources INTEGER NOT NULL DEFAULT 0, last_run_id INTEGER,
  failures INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
  stack TEXT NOT NULL, name TEXT NOT NULL, vmid INTEGER, ip TEXT, power TEXT NOT NULL, state TEXT NOT NULL,
  updated_at TEXT NOT NULL, PRIMARY KEY (stack, name));
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, stack TEXT NOT NULL, action TEXT NOT NULL, state TEXT NOT NULL,
  spec_hash TEXT, mode TEXT NOT NULL, queued_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
  outputs TEXT, error_code TEXT, error_message TEXT);
CREATE INDEX IF NOT EXISTS runs_stack ON runs (stack, id);
CREATE TABLE IF NOT EXISTS run_events (run_id INTEGER NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (run_id, seq));
`;

interface StackRow {
  name: string; condition: string; reason: string; message: string; applied_hash: string | null; applied_spec: string | null;
  has_resources: number; last_run_id: number | null; failures: number; next_attempt_at: string | null; updated_at: string;
}
interface InstanceRow { stack: string; name: string; vmid: number | null; ip: string | null; power: string; state: string; updated_at: string }
interface RunRow {
  id: number; stack: string; action: string; state: string; spec_hash: string | null; mode: string; queued_at: string;
  started_at: string | null; finished_at: string | null; outputs: string | null; error_code: string | null; error_message: string | null;
}

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
const parseJson = (s: string | null): unknown => {
  if (s === null) return undefined;
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
};

function toStack(r: StackRow): StackStatus {
  return {
    name: r.name, condition: r.condition as Condition, reason: r.reason as Reason, message: r.message,
    appliedHash: opt(r.applied_hash), appliedSpec: parseJson(r.applied_spec), hasResources: r.has_resources === 1,
    lastRunId: opt(r.last_run_id), failures: r.failures, nextAttemptAt: opt(r.next_attempt_at), updatedAt: r.updated_at,
  };
}
function toInstance(r: InstanceRow): InstanceStatus {
  return {
    stack: r.stack, name: r.name, vmid: opt(r.vmid), ip: opt(r.ip), power: r.power === "stopped" ? "stopped" : "running",
    state: r.state as InstanceState, updatedAt: r.updated_at,
  };
}
function toRun(r: RunRow): RunRecord {
  return {
    id: r.id, stack: r.stack, action: r.action as RunAction, state: r.state as RunState, specHash: opt(r.spec_hash),
    mode: r.mode as EngineMode, queuedAt: r.queued_at, startedAt: opt(r.started_at), finishedAt: opt(r.finished_at),
    outputs: parseJson(r.outputs), errorCode: opt(r.error_code), errorMessage: opt(r.error_message),
  };
}

export interface StatusStore {
  readonly mode: EngineMode;
  setMode(mode: EngineMode): void;
  getStack(name: string): StackStatus | undefined;
  listStacks(): StackStatus[];
  listInstances(stack?: string): InstanceStatus[];
  /** Every VMID and IP held by an instance that is not destroyed: allocation must avoid them. */
  heldAllocations(): { vmids: Set<number>; ips: Set<string> };

  /** A change was seen and the stack is queued. */
  markPending(stack: string): void;
  /** A run started. */
  markApplying(stack: string, runId: number): void;
  /** An up succeeded with this hash and spec; failures reset. */
  markApplied(stack: string, hash: string, spec: unknown): void;
  /** A refresh found the real resources differ from the last apply: the same spec is applied again. */
  markDrifted(stack: string, message: string): void;
  /** Resources are up but a hook failed: degraded, retried. */
  markHookFailed(stack: string, message: string, nextAttemptAt: Date): void;
  /** The file is gone and its resources were destroyed or retained. */
  markRemoved(stack: string, how: "Destroyed" | "Retained"): void;
  /** A transient failure: Retrying, or RepeatedFailures once failures reach `stallAfter`. */
  markFailed(stack: string, message: string, nextAttemptAt: Date, stallAfter: number): number;
  /** The spec cannot be applied as written: stop until it changes. */
  markStalled(stack: string, reason: StallReason, message: string): void;

  upsertInstance(i: Omit<InstanceStatus, "updatedAt">): void;
  removeInstances(stack: string, keep: readonly string[]): void;

  createRun(stack: string, action: RunAction, specHash: string | undefined): RunRecord;
  startRun(id: number): void;
  finishRun(id: number, result: { state: "succeeded"; outputs: unknown } | { state: "failed"; errorCode: string; errorMessage: string }): void;
  appendRunEvent(id: number, event: RunEvent): void;
  getRun(id: number): RunRecord | undefined;
  listRuns(stack?: string, limit?: number): RunRecord[];
  runEvents(id: number): RunEvent[];
  /** Runs left `running` or `queued` by a crash become failed with code `engine-restarted`. */
  failInterruptedRuns(): number;

  /** Live stream of every status change; returns an unsubscribe function. */
  subscribe(listener: (e: StatusEvent) => void): () => void;
  /** The same stream as an async iterator; ends when `signal` aborts. */
  stream(signal?: AbortSignal): AsyncIterableIterator<StatusEvent>;
  close(): void;
}

/** Opens (creating) the status database at `file` (":memory:" for a throwaway one). */
export function openStatusStore(file: string, deps: { clock: Clock; mode?: EngineMode }): StatusStore {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.exec(SCHEMA);
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const now = (): string => deps.clock.now().toISOString();
  const emit = (e: StatusEvent): void => {
    emitter.emit("event", e);
  };

  const q = {
    getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
    setMeta: db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
    getStack: db.prepare<[string], StackRow>("SELECT * FROM stacks WHERE name = ?"),
    listStacks: db.prepare<[], StackRow>("SELECT * FROM stacks ORDER BY name"),
    ensureStack: db.prepare("INSERT OR IGNORE INTO stacks (name, condition, reason, updated_at) VALUES (?, 'Reconciling', 'Pending', ?)"),
    setCondition: db.prepare("UPDATE stacks SET condition = ?, reason = ?, message = ?, updated_at = ? WHERE name = ?"),
    setApplied: db.prepare(
      "UPDATE stacks SET condition = 'Ready', reason = 'Applied', message = '', applied_hash = ?, applied_spec = ?, has_resources = 1, failures = 0, next_attempt_at = NULL, updated_at = ? WHERE name = ?",
    ),
    setRemoved: db.prepare(
      "UPDATE stacks SET condition = 'Ready', reason = ?, message = '', applied_hash = NULL, applied_spec = NULL, has_resources = ?, failures = 0, next_attempt_at = NULL, updated_at = ? WHERE name = ?",
    ),
    setFailed: db.prepare("UPDATE stacks SET condition = ?, reason = ?, message = ?, failures = failures + 1, next_attempt_at = ?, updated_at = ? WHERE name = ?"),
    setRun: db.prepare("UPDATE stacks SET last_run_id = ?, updated_at = ? WHERE name = ?"),
    listInstances: db.prepare<[], InstanceRow>("SELECT * FROM instances ORDER BY stack, name"),
    listInstancesOf: db.prepare<[string], InstanceRow>("SELECT * FROM instances WHERE stack = ? ORDER BY name"),
    getInstance: db.prepare<[string, string], InstanceRow>("SELECT * FROM instances WHERE stack = ? AND name = ?"),
    upsertInstance: db.prepare(
      `INSERT INTO instances (stack, name, vmid, ip, power, state, updated_at) VALUES (@stack, @name, @vmid, @ip, @power, @state, @updatedAt)
       ON CONFLICT (stack, name) DO UPDATE SET vmid = excluded.vmid, ip = excluded.ip, power = excluded.power, state = excluded.state, updated_at = excluded.updated_at`,
    ),
    deleteInstance: db.prepare("DELETE FROM instances WHERE stack = ? AND name = ?"),
    held: db.prepare<[], { vmid: number | null; ip: string | null }>("SELECT vmid, ip FROM instances WHERE state != 'destroyed'"),
    createRun: db.prepare("INSERT INTO runs (stack, action, state, spec_hash, mode, queued_at) VALUES (?, ?, 'queued', ?, ?, ?)"),
    getRun: db.prepare<[number], RunRow>("SELECT * FROM runs WHERE id = ?"),
    startRun: db.prepare("UPDATE runs SET state = 'running', started_at = ? WHERE id = ?"),
    finishRun: db.prepare("UPDATE runs SET state = ?, finished_at = ?, outputs = ?, error_code = ?, error_message = ? WHERE id = ?"),
    listRuns: db.prepare<[number], RunRow>("SELECT * FROM runs ORDER BY id DESC LIMIT ?"),
    listRunsOf: db.prepare<[string, number], RunRow>("SELECT * FROM runs WHERE stack = ? ORDER BY id DESC LIMIT ?"),
    nextSeq: db.prepare<[number], { n: number }>("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM run_events WHERE run_id = ?"),
    addEvent: db.prepare("INSERT INTO run_events (run_id, seq, event) VALUES (?, ?, ?)"),
    events: db.prepare<[number], { event: string }>("SELECT event FROM run_events WHERE run_id = ? ORDER BY seq"),
    interrupted: db.prepare<[], { id: number }>("SELECT id FROM runs WHERE state IN ('queued', 'running')"),
  };

  const getStack = (name: string): StackStatus | undefined => {
    const r = q.getStack.get(name);
    return r ? toStack(r) : undefined;
  };
  const emitStack = (name: string): void => {
    const s = getStack(name);
    if (s) emit({ type: "stack", stack: s });
  };
  const setCondition = (stack: string, reason: Reason, message: string): void => {
    q.ensureStack.run(stack, now());
    q.setCondition.run(conditionOf(reason), reason, message, now(), stack);
    emitStack(stack);
  };
  const getRun = (id: number): RunRecord | undefined => {
    const r = q.getRun.get(id);
    return r ? toRun(r) : undefined;
  };
  const emitRun = (id: number): void => {
    const r = getRun(id);
    if (r) emit({ type: "run", run: r });
  };

  let mode: EngineMode = deps.mode ?? ((q.getMeta.get("mode")?.value as EngineMode | undefined) ?? "simulation");
  if (deps.mode) q.setMeta.run("mode", deps.mode);

  const store: StatusStore = {
    get mode() {
      return mode;
    },
    setMode(m) {
      mode = m;
      q.setMeta.run("mode", m);
    },
    getStack,
    listStacks: () => q.listStacks.all().map(toStack),
    listInstances: (stack) => (stack === undefined ? q.listInstances.all() : q.listInstancesOf.all(stack)).map(toInstance),
    heldAllocations() {
      const vmids = new Set<number>();
      const ips = new Set<string>();
      for (const r of q.held.all()) {
        if (r.vmid !== null) vmids.add(r.vmid);
        if (r.ip !== null) ips.add(r.ip);
      }
      return { vmids, ips };
    },
    markPending(stack) {
      const s = getStack(stack);
      // A stalled or retrying stack keeps its reason visible until a run actually starts.
      if (s && (s.reason === "Applying" || s.condition === "Stalled" || s.reason === "Retrying" || s.reason === "HookFailed")) return;
      setCondition(stack, "Pending", "");
    },
    markDrifted(stack, message) {
      setCondition(stack, "DriftDetected", message);
    },
    markApplying(stack, runId) {
      setCondition(stack, "Applying", "");
      q.setRun.run(runId, now(), stack);
      emitStack(stack);
    },
    markApplied(stack, hash, spec) {
      q.ensureStack.run(stack, now());
      q.setApplied.run(hash, JSON.stringify(spec), now(), stack);
      emitStack(stack);
    },
    markHookFailed(stack, message, nextAttemptAt) {
      q.ensureStack.run(stack, now());
      q.setFailed.run("Reconciling", "HookFailed", message, nextAttemptAt.toISOString(), now(), stack);
      emitStack(stack);
    },
    markRemoved(stack, how) {
      q.ensureStack.run(stack, now());
      q.setRemoved.run(how, how === "Retained" ? 1 : 0, now(), stack);
      emitStack(stack);
    },
    markFailed(stack, message, nextAttemptAt, stallAfter) {
      q.ensureStack.run(stack, now());
      const failures = (getStack(stack)?.failures ?? 0) + 1;
      const reason: Reason = failures >= stallAfter ? "RepeatedFailures" : "Retrying";
      q.setFailed.run(conditionOf(reason), reason, message, nextAttemptAt.toISOString(), now(), stack);
      emitStack(stack);
      return failures;
    },
    markStalled(stack, reason, message) {
      setCondition(stack, reason, message);
    },
    upsertInstance(i) {
      q.upsertInstance.run({ ...i, vmid: i.vmid ?? null, ip: i.ip ?? null, updatedAt: now() });
      const r = q.getInstance.get(i.stack, i.name);
      if (r) emit({ type: "instance", instance: toInstance(r) });
    },
    removeInstances(stack, keep) {
      for (const r of q.listInstancesOf.all(stack)) {
        if (!keep.includes(r.name)) q.deleteInstance.run(stack, r.name);
      }
    },
    createRun(stack, action, specHash) {
      const id = Number(q.createRun.run(stack, action, specHash ?? null, mode, now()).lastInsertRowid);
      emitRun(id);
      const r = getRun(id);
      if (!r) throw new ProxstackError("status.run-vanished", `run ${id} vanished after insert`, { kind: "bug" });
      return r;
    },
    startRun(id) {
      q.startRun.run(now(), id);
      emitRun(id);
    },
    finishRun(id, result) {
      if (result.state === "succeeded") {
        q.finishRun.run("succeeded", now(), result.outputs === undefined ? null : JSON.stringify(result.outputs), null, null, id);
      } else {
        q.finishRun.run("failed", now(), null, result.errorCode, result.errorMessage, id);
      }
      emitRun(id);
    },
    appendRunEvent(id, event) {
      const seq = q.nextSeq.get(id)?.n ?? 1;
      q.addEvent.run(id, seq, JSON.stringify(event));
      const run = getRun(id);
      emit({ type: "run-event", runId: id, stack: run?.stack ?? "", event });
    },
    getRun,
    listRuns: (stack, limit = 50) => (stack === undefined ? q.listRuns.all(limit) : q.listRunsOf.all(stack, limit)).map(toRun),
    runEvents: (id) => q.events.all(id).map((r) => JSON.parse(r.event) as RunEvent),
    failInterruptedRuns() {
      const ids = q.interrupted.all().map((r) => r.id);
      for (const id of ids) q.finishRun.run("failed", now(), null, "engine-restarted", "the engine stopped during this run; it is retried", id);
      return ids.length;
    },
    subscribe(listener) {
      emitter.on("event", listener);
      return () => emitter.off("event", listener);
    },
    stream(signal) {
      const buffer: StatusEvent[] = [];
      let wake: (() => void) | undefined;
      let done = signal?.aborted ?? false;
      const off = store.subscribe((e) => {
        buffer.push(e);
        wake?.();
      });
      const finish = (): void => {
        done = true;
        off();
        wake?.();
      };
      signal?.addEventListener("abort", finish, { once: true });
      const it: AsyncIterableIterator<StatusEvent> = {
        async next() {
          while (buffer.length === 0 && !done) await new Promise<void>((r) => (wake = r));
          const e = buffer.shift();
          return e ? { value: e, done: false } : { value: undefined, done: true };
        },
        return() {
          finish();
          return Promise.resolve({ value: undefined, done: true });
        },
        [Symbol.asyncIterator]() {
          return it;
        },
      };
      return it;
    },
    close() {
      emitter.removeAllListeners();
      db.close();
    },
  };
  return store;
}
