// The engine's status store (SQLite, WAL): stacks and their conditions, instances, runs and run events, and a live event stream.
import { EventEmitter } from "node:events";
import Database from "better-sqlite3";
import { z } from "zod";
import type { Clock } from "../../lib/clock.js";
import { ProxstackError } from "../../lib/errors.js";
import { PLATFORM_STACK } from "../../programs/naming.js";
import type { RunEvent } from "../../runners/runner.js";
import {
  AppliedPlatformSpecSchema,
  AppliedUserSpecSchema,
  PlatformStackOutputsSchema,
  RunEventSchema,
  UserStackOutputsSchema,
  type AppliedPlatformSpec,
  type RunOutputs,
  type UserStackSpec,
} from "../../schemas/index.js";
import {
  conditionOf,
  REASONS,
  type Condition,
  type InstanceState,
  type Reason,
  type RetryReason,
  type RunAction,
  type RunState,
  type StopReason,
} from "./vocabulary.js";

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
  /** A user stack's spec at its last successful apply: the "before" of the next plan. */
  appliedSpec: UserStackSpec | undefined;
  /** The platform stack's platform file and routes at its last successful apply (the platform stack only). */
  appliedPlatform: AppliedPlatformSpec | undefined;
  /** Whether resources of this stack may exist (an up succeeded and no destroy since). */
  hasResources: boolean;
  lastRunId: number | undefined;
  /** Failures in a row; 0 after a success. */
  failures: number;
  /** When the next retry is due (ISO), while backing off. */
  nextAttemptAt: string | undefined;
  /** For a reason that holds until the file changes: the desired state it holds for (decide.ts `desiredKey`). */
  stoppedFor: string | undefined;
  /** The file is missing: when its grace period ends and the resources are destroyed (ISO). */
  removalAt: string | undefined;
  /** The pending removal waits for `proxstack destroy <stack>`: too many files went missing at once. */
  removalHeld: boolean;
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
  /** Outputs of a successful up, parsed with the user or platform outputs schema; none for a destroy or a failure. */
  outputs: RunOutputs | undefined;
  errorCode: string | undefined;
  errorMessage: string | undefined;
}

// Each row read back is parsed: the columns with the vocabulary, the JSON columns with their schemas in schemas/.
const REASON_NAMES = Object.keys(REASONS) as [Reason, ...Reason[]];
const ConditionSchema = z.enum(["Ready", "Reconciling", "Stalled"]);
const ModeSchema = z.enum(["pulumi", "simulation"]);
const nullable = <T extends z.ZodType>(t: T) => t.nullable().transform((v) => v ?? undefined);

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
  failures INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT, updated_at TEXT NOT NULL, stopped_for TEXT, removal_at TEXT,
  removal_held INTEGER NOT NULL DEFAULT 0);
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

const StackRowSchema = z.object({
  name: z.string(),
  condition: ConditionSchema,
  reason: z.enum(REASON_NAMES),
  message: z.string(),
  applied_hash: nullable(z.string()),
  applied_spec: z.string().nullable(),
  has_resources: z.number().int(),
  last_run_id: nullable(z.number().int()),
  failures: z.number().int().min(0),
  next_attempt_at: nullable(z.string()),
  updated_at: z.string(),
  stopped_for: nullable(z.string()),
  removal_at: nullable(z.string()),
  removal_held: z.number().int(),
});
const InstanceRowSchema = z.object({
  stack: z.string(),
  name: z.string(),
  vmid: nullable(z.number().int()),
  ip: nullable(z.string()),
  power: z.enum(["running", "stopped"]),
  state: z.enum(["provisioning", "ready", "hook-failed", "destroyed"]),
  updated_at: z.string(),
});
const RunRowSchema = z.object({
  id: z.number().int(),
  stack: z.string(),
  action: z.enum(["up", "destroy"]),
  state: z.enum(["queued", "running", "succeeded", "failed"]),
  spec_hash: nullable(z.string()),
  mode: ModeSchema,
  queued_at: z.string(),
  started_at: nullable(z.string()),
  finished_at: nullable(z.string()),
  outputs: z.string().nullable(),
  error_code: nullable(z.string()),
  error_message: nullable(z.string()),
});
type StackRow = z.input<typeof StackRowSchema>;
type InstanceRow = z.input<typeof InstanceRowSchema>;
type RunRow = z.input<typeof RunRowSchema>;

/** Parses what SQLite returned; a mismatch is a bug (or a database from elsewhere), reported loudly, never guessed around. */
function parseRow<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const fields = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
  throw new ProxstackError("status-row-invalid", `engine.db ${where} does not match its schema (${fields})`, { kind: "bug" });
}

/** Parses a JSON column with its schema; NULL is undefined. */
function parseJsonColumn<T>(schema: z.ZodType<T>, text: string | null, where: string): T | undefined {
  if (text === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    throw new ProxstackError("status-row-invalid", `engine.db ${where} is not JSON`, { kind: "bug", cause: err });
  }
  return parseRow(schema, value, where);
}

function toStack(row: StackRow): StackStatus {
  const r = parseRow(StackRowSchema, row, `stacks row ${row.name}`);
  const where = `stacks.applied_spec of ${r.name}`;
  const platform = r.name === PLATFORM_STACK;
  return {
    name: r.name,
    condition: r.condition,
    reason: r.reason,
    message: r.message,
    appliedHash: r.applied_hash,
    appliedSpec: platform ? undefined : parseJsonColumn(AppliedUserSpecSchema, r.applied_spec, where),
    appliedPlatform: platform ? parseJsonColumn(AppliedPlatformSpecSchema, r.applied_spec, where) : undefined,
    hasResources: r.has_resources === 1,
    lastRunId: r.last_run_id,
    failures: r.failures,
    nextAttemptAt: r.next_attempt_at,
    stoppedFor: r.stopped_for,
    removalAt: r.removal_at,
    removalHeld: r.removal_held === 1,
    updatedAt: r.updated_at,
  };
}
/** Whether two rows of one table hold the same values in every column. */
function sameRow(a: StackRow, b: StackRow): boolean {
  const keys = Object.keys(a) as (keyof StackRow)[];
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}
function toInstance(row: InstanceRow): InstanceStatus {
  const r = parseRow(InstanceRowSchema, row, `instances row ${row.stack}/${row.name}`);
  return { stack: r.stack, name: r.name, vmid: r.vmid, ip: r.ip, power: r.power, state: r.state, updatedAt: r.updated_at };
}
function toRun(row: RunRow): RunRecord {
  const r = parseRow(RunRowSchema, row, `runs row ${row.id}`);
  const outputsSchema: z.ZodType<RunOutputs> = r.stack === PLATFORM_STACK ? PlatformStackOutputsSchema : UserStackOutputsSchema;
  return {
    id: r.id,
    stack: r.stack,
    action: r.action,
    state: r.state,
    specHash: r.spec_hash,
    mode: r.mode,
    queuedAt: r.queued_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    outputs: parseJsonColumn(outputsSchema, r.outputs, `runs.outputs of run ${r.id}`),
    errorCode: r.error_code,
    errorMessage: r.error_message,
  };
}
function toEvent(text: string, runId: number): RunEvent {
  const e: RunEvent | undefined = parseJsonColumn(RunEventSchema, text, `run_events of run ${runId}`);
  if (!e) throw new ProxstackError("status-row-invalid", `engine.db run_events of run ${runId} holds null`, { kind: "bug" });
  return e;
}

export interface StatusStore {
  readonly mode: EngineMode;
  setMode(mode: EngineMode): void;
  /** One stack's row, parsed (`appliedSpec` and `appliedPlatform` may be shared between reads of an unchanged row: read-only). */
  getStack(name: string): StackStatus | undefined;
  /** Every stack's row, parsed as by {@link getStack}, by name. */
  listStacks(): StackStatus[];
  listInstances(stack?: string): InstanceStatus[];
  /** Every VMID and IP held by an instance that is not destroyed: allocation must avoid them. */
  heldAllocations(): { vmids: Set<number>; ips: Set<string> };
  /** The same values with the stack that holds each: `vmid 2001` / `ip 10.0.0.5` → stack. */
  allocationHolders(): Map<string, string>;

  /** A change was seen and the stack is queued; a reason that `survivesPending` stays showing. */
  markPending(stack: string): void;
  /** A run started. */
  markApplying(stack: string, runId: number): void;
  /** An up succeeded with this hash and spec; failures reset. */
  markApplied(stack: string, hash: string, spec: UserStackSpec | AppliedPlatformSpec): void;
  /** Back to Applied at the recorded hash and spec: the status said otherwise, but nothing was left to run. */
  markUpToDate(stack: string): void;
  /** A refresh found the real resources differ from the last apply: the same spec is applied again. */
  markDrifted(stack: string, message: string): void;
  /** The file is gone and its resources were destroyed or retained. */
  markRemoved(stack: string, how: "Destroyed" | "Retained"): void;
  /** The file is gone: its resources are destroyed at `at`, or, `held`, once a person confirms. */
  markPendingRemoval(stack: string, removal: { at: Date; held: boolean; message: string }): void;
  /** The file came back before its resources were destroyed: the pending removal is called off. */
  cancelRemoval(stack: string): void;
  /** A failed attempt retried after a pause (Retrying, RepeatedFailures, HookFailed, AllocationExhausted), as the work queue's retry book counted it. */
  markFailed(stack: string, failure: { reason: RetryReason; message: string; nextAttemptAt: Date; failures: number }): void;
  /** The desired state `stoppedFor` cannot be applied as written: stop until the file changes. */
  markStalled(stack: string, reason: StopReason, message: string, stoppedFor: string): void;

  upsertInstance(i: Omit<InstanceStatus, "updatedAt">): void;
  removeInstances(stack: string, keep: readonly string[]): void;

  createRun(stack: string, action: RunAction, specHash: string | undefined): RunRecord;
  startRun(id: number): void;
  finishRun(id: number, result: { state: "succeeded"; outputs?: RunOutputs } | { state: "failed"; errorCode: string; errorMessage: string }): void;
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

/** Adds the columns later versions introduced to a database an earlier version created. */
function migrate(db: Database.Database): void {
  const have = new Set(
    db
      .prepare<[], { name: string }>("PRAGMA table_info(stacks)")
      .all()
      .map((c) => c.name),
  );
  for (const [column, type] of [
    ["stopped_for", "TEXT"],
    ["removal_at", "TEXT"],
    ["removal_held", "INTEGER NOT NULL DEFAULT 0"],
  ] as const) {
    if (!have.has(column)) db.exec(`ALTER TABLE stacks ADD COLUMN ${column} ${type}`);
  }
}

/** Opens (creating) the status database at `file` (":memory:" for a throwaway one). */
export function openStatusStore(file: string, deps: { clock: Clock; mode?: EngineMode }): StatusStore {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.exec(SCHEMA);
  migrate(db);
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
    setCondition: db.prepare("UPDATE stacks SET condition = ?, reason = ?, message = ?, stopped_for = ?, updated_at = ? WHERE name = ?"),
    clearRemoval: db.prepare("UPDATE stacks SET removal_at = NULL, removal_held = 0 WHERE name = ?"),
    setRemoval: db.prepare(
      `UPDATE stacks SET condition = ?, reason = 'PendingRemoval', message = ?, removal_at = ?, removal_held = ?, updated_at = ?
       WHERE name = ?`,
    ),
    setApplied: db.prepare(
      `UPDATE stacks SET condition = 'Ready', reason = 'Applied', message = '', applied_hash = ?, applied_spec = ?, has_resources = 1, failures = 0,
       next_attempt_at = NULL, removal_at = NULL, removal_held = 0, updated_at = ? WHERE name = ?`,
    ),
    setUpToDate: db.prepare(
      `UPDATE stacks SET condition = 'Ready', reason = 'Applied', message = '', failures = 0, next_attempt_at = NULL, stopped_for = NULL,
       removal_at = NULL, removal_held = 0, updated_at = ? WHERE name = ? AND applied_hash IS NOT NULL`,
    ),
    setRemoved: db.prepare(
      `UPDATE stacks SET condition = 'Ready', reason = ?, message = '', applied_hash = NULL, applied_spec = NULL, has_resources = ?, failures = 0,
       next_attempt_at = NULL, removal_at = NULL, removal_held = 0, updated_at = ? WHERE name = ?`,
    ),
    setFailed: db.prepare(
      "UPDATE stacks SET condition = ?, reason = ?, message = ?, failures = ?, next_attempt_at = ?, stopped_for = NULL, updated_at = ? WHERE name = ?",
    ),
    setRun: db.prepare("UPDATE stacks SET last_run_id = ?, updated_at = ? WHERE name = ?"),
    listInstances: db.prepare<[], InstanceRow>("SELECT * FROM instances ORDER BY stack, name"),
    listInstancesOf: db.prepare<[string], InstanceRow>("SELECT * FROM instances WHERE stack = ? ORDER BY name"),
    getInstance: db.prepare<[string, string], InstanceRow>("SELECT * FROM instances WHERE stack = ? AND name = ?"),
    upsertInstance: db.prepare(
      `INSERT INTO instances (stack, name, vmid, ip, power, state, updated_at) VALUES (@stack, @name, @vmid, @ip, @power, @state, @updatedAt)
       ON CONFLICT (stack, name) DO UPDATE SET vmid = excluded.vmid, ip = excluded.ip, power = excluded.power, state = excluded.state, updated_at = excluded.updated_at`,
    ),
    deleteInstance: db.prepare("DELETE FROM instances WHERE stack = ? AND name = ?"),
    held: db.prepare<[], { stack: string; vmid: number | null; ip: string | null }>("SELECT stack, vmid, ip FROM instances WHERE state != 'destroyed'"),
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

  // Each distinct row is parsed once: a row read back exactly as it was last parsed (every column the same) gives that
  // parse again, so a resync over thousands of unchanged stacks does not run their JSON specs through zod each time.
  const parsedStacks = new Map<string, { row: StackRow; status: StackStatus }>();
  const stackOf = (row: StackRow): StackStatus => {
    const hit = parsedStacks.get(row.name);
    if (hit && sameRow(hit.row, row)) return { ...hit.status };
    const status = toStack(row);
    parsedStacks.set(row.name, { row, status });
    return { ...status };
  };
  const getStack = (name: string): StackStatus | undefined => {
    const r = q.getStack.get(name);
    return r ? stackOf(r) : undefined;
  };
  const emitStack = (name: string): void => {
    const s = getStack(name);
    if (s) emit({ type: "stack", stack: s });
  };
  const setCondition = (stack: string, reason: Reason, message: string, stoppedFor?: string): void => {
    q.ensureStack.run(stack, now());
    q.setCondition.run(conditionOf(reason), reason, message, stoppedFor ?? null, now(), stack);
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

  const stored = q.getMeta.get("mode")?.value;
  let mode: EngineMode = deps.mode ?? (stored === undefined ? "simulation" : parseRow(ModeSchema, stored, "meta mode"));
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
    listStacks: () => q.listStacks.all().map(stackOf),
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
    allocationHolders() {
      const held = new Map<string, string>();
      for (const r of q.held.all()) {
        if (r.vmid !== null) held.set(`vmid ${r.vmid}`, r.stack);
        if (r.ip !== null) held.set(`ip ${r.ip}`, r.stack);
      }
      return held;
    },
    markPending(stack) {
      const s = getStack(stack);
      // A stalled or retrying stack keeps its reason visible until a run actually starts.
      if (s && REASONS[s.reason].survivesPending) return;
      setCondition(stack, "Pending", "");
    },
    markDrifted(stack, message) {
      q.clearRemoval.run(stack);
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
    markUpToDate(stack) {
      q.setUpToDate.run(now(), stack);
      emitStack(stack);
    },
    markRemoved(stack, how) {
      q.ensureStack.run(stack, now());
      q.setRemoved.run(how, how === "Retained" ? 1 : 0, now(), stack);
      emitStack(stack);
    },
    markFailed(stack, f) {
      q.ensureStack.run(stack, now());
      q.setFailed.run(conditionOf(f.reason), f.reason, f.message, f.failures, f.nextAttemptAt.toISOString(), now(), stack);
      emitStack(stack);
    },
    markStalled(stack, reason, message, stoppedFor) {
      q.clearRemoval.run(stack);
      setCondition(stack, reason, message, stoppedFor);
    },
    markPendingRemoval(stack, r) {
      q.ensureStack.run(stack, now());
      q.setRemoval.run(conditionOf("PendingRemoval"), r.message, r.at.toISOString(), r.held ? 1 : 0, now(), stack);
      emitStack(stack);
    },
    cancelRemoval(stack) {
      q.clearRemoval.run(stack);
      if (getStack(stack)?.reason === "PendingRemoval") setCondition(stack, "Pending", "");
      else emitStack(stack);
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
    runEvents: (id) => q.events.all(id).map((r) => toEvent(r.event, id)),
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
