// The simulation runner's own state (SQLite): per stack the resources it applied with their inputs, and a write-ahead intent log.
import Database from "better-sqlite3";
import { z } from "zod";

export interface RecordedResource {
  stack: string;
  urn: string;
  type: string;
  name: string;
  /** Registration order, so deletes run in reverse. */
  seq: number;
  inputs: Record<string, unknown>;
  protect: boolean;
  /** Set when the real object may differ from `inputs` (adopted after a crash, drift found by refresh). */
  dirty: boolean;
  /** The API's id where it is not derivable from inputs (DNS record id). */
  externalId: string | undefined;
}

export interface Intent {
  id: number;
  stack: string;
  urn: string;
  type: string;
  op: string;
  inputs: Record<string, unknown>;
  startedAt: string;
}

export interface SimulationState {
  resources(stack: string): RecordedResource[];
  stacks(): string[];
  /** Records the intent before the first API call of a step; returns its id. */
  begin(i: Omit<Intent, "id">): number;
  /** Ends a step atomically: the resource row written (or removed) and the intent dropped together. */
  commit(intentId: number, change: { put: RecordedResource } | { remove: { stack: string; urn: string } } | undefined): void;
  intents(stack?: string): Intent[];
  put(r: RecordedResource): void;
  remove(stack: string, urn: string): void;
  markDirty(stack: string, urn: string): void;
  close(): void;
}

const InputsSchema = z.record(z.string(), z.unknown());
const parseInputs = (text: string): Record<string, unknown> => {
  const r = InputsSchema.safeParse(JSON.parse(text));
  return r.success ? r.data : {};
};

interface ResourceRow {
  stack: string;
  urn: string;
  type: string;
  name: string;
  seq: number;
  inputs: string;
  protect: number;
  dirty: number;
  external_id: string | null;
}
interface IntentRow {
  id: number;
  stack: string;
  urn: string;
  type: string;
  op: string;
  inputs: string;
  started_at: string;
}

export function openSimulationState(dbPath: string): SimulationState {
  const db = new Database(dbPath);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS resources (
      stack TEXT NOT NULL, urn TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL,
      inputs TEXT NOT NULL, protect INTEGER NOT NULL, dirty INTEGER NOT NULL DEFAULT 0, external_id TEXT,
      PRIMARY KEY (stack, urn));
    CREATE TABLE IF NOT EXISTS intents (
      id INTEGER PRIMARY KEY AUTOINCREMENT, stack TEXT NOT NULL, urn TEXT NOT NULL, type TEXT NOT NULL,
      op TEXT NOT NULL, inputs TEXT NOT NULL, started_at TEXT NOT NULL);
  `);
  const toResource = (r: ResourceRow): RecordedResource => ({
    stack: r.stack,
    urn: r.urn,
    type: r.type,
    name: r.name,
    seq: r.seq,
    inputs: parseInputs(r.inputs),
    protect: r.protect === 1,
    dirty: r.dirty === 1,
    externalId: r.external_id ?? undefined,
  });
  const toIntent = (r: IntentRow): Intent => ({
    id: r.id,
    stack: r.stack,
    urn: r.urn,
    type: r.type,
    op: r.op,
    inputs: parseInputs(r.inputs),
    startedAt: r.started_at,
  });
  const putStmt = db.prepare(`INSERT INTO resources (stack, urn, type, name, seq, inputs, protect, dirty, external_id)
    VALUES (@stack, @urn, @type, @name, @seq, @inputs, @protect, @dirty, @external_id)
    ON CONFLICT (stack, urn) DO UPDATE SET type=excluded.type, name=excluded.name, seq=excluded.seq, inputs=excluded.inputs,
      protect=excluded.protect, dirty=excluded.dirty, external_id=excluded.external_id`);
  const removeStmt = db.prepare("DELETE FROM resources WHERE stack = ? AND urn = ?");
  const put = (r: RecordedResource): void => {
    putStmt.run({
      stack: r.stack,
      urn: r.urn,
      type: r.type,
      name: r.name,
      seq: r.seq,
      inputs: JSON.stringify(r.inputs),
      protect: r.protect ? 1 : 0,
      dirty: r.dirty ? 1 : 0,
      external_id: r.externalId ?? null,
    });
  };
  const remove = (stack: string, urn: string): void => void removeStmt.run(stack, urn);
  const dropIntent = db.prepare("DELETE FROM intents WHERE id = ?");
  const commit = db.transaction((intentId: number, change: Parameters<SimulationState["commit"]>[1]) => {
    if (change && "put" in change) put(change.put);
    if (change && "remove" in change) remove(change.remove.stack, change.remove.urn);
    dropIntent.run(intentId);
  });
  return {
    resources: (stack) => (db.prepare("SELECT * FROM resources WHERE stack = ? ORDER BY seq").all(stack) as ResourceRow[]).map(toResource),
    stacks: () =>
      (db.prepare("SELECT DISTINCT stack FROM resources UNION SELECT DISTINCT stack FROM intents ORDER BY 1").all() as { stack: string }[]).map((r) => r.stack),
    begin: (i) =>
      Number(
        db
          .prepare("INSERT INTO intents (stack, urn, type, op, inputs, started_at) VALUES (?, ?, ?, ?, ?, ?)")
          .run(i.stack, i.urn, i.type, i.op, JSON.stringify(i.inputs), i.startedAt).lastInsertRowid,
      ),
    commit: (id, change) => commit(id, change),
    intents: (stack) =>
      (
        (stack === undefined
          ? db.prepare("SELECT * FROM intents ORDER BY id").all()
          : db.prepare("SELECT * FROM intents WHERE stack = ? ORDER BY id").all(stack)) as IntentRow[]
      ).map(toIntent),
    put,
    remove,
    markDirty: (stack, urn) => void db.prepare("UPDATE resources SET dirty = 1 WHERE stack = ? AND urn = ?").run(stack, urn),
    close: () => db.close(),
  };
}
