// Durable state of the Proxmox simulator (SQLite): containers, snapshots, firewall and tasks survive a restart.
import Database from "better-sqlite3";
import { z } from "zod";
import { parseRow as parse } from "../json-row.js";

export type ConfigValue = string | number;

/** A firewall rule as PVE returns it (without `pos`, which is its index). */
export type FirewallRule = Record<string, ConfigValue>;

export interface Container {
  vmid: number;
  node: string;
  /** The container config as PVE stores it; property strings stay strings. */
  config: Record<string, ConfigValue>;
  status: "running" | "stopped";
  /** Power history as [startMs, stopMs|null], newest last; feeds uptime and rrd data. */
  runs: [number, number | null][];
  createdAt: number;
  /** Name of the snapshot the current state descends from. */
  parent: string | undefined;
  firewallOptions: Record<string, ConfigValue>;
  firewallRules: FirewallRule[];
}

export interface Snapshot {
  name: string;
  parent: string | undefined;
  description: string;
  snaptime: number;
  config: Record<string, ConfigValue>;
}

export interface Task {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  pid: number;
  pstart: number;
  starttime: number;
  status: "running" | "stopped";
  exitstatus: string | undefined;
  endtime: number | undefined;
  log: string[];
  /** When the task finishes (epoch ms); undefined for a stuck task. */
  dueAt: number | undefined;
  /** What the task does when it finishes, interpreted by the server. */
  action: Record<string, unknown>;
}

const ValueRecord = z.record(z.string(), z.union([z.string(), z.number()]));
const ContainerRow = z.object({
  vmid: z.number(),
  node: z.string(),
  config: ValueRecord,
  status: z.enum(["running", "stopped"]),
  runs: z.array(z.tuple([z.number(), z.number().nullable()])),
  createdAt: z.number(),
  parent: z.string().optional(),
  firewallOptions: ValueRecord,
  firewallRules: z.array(ValueRecord),
});
const SnapshotRow = z.object({ name: z.string(), parent: z.string().optional(), description: z.string(), snaptime: z.number(), config: ValueRecord });
const TaskRow = z.object({
  upid: z.string(),
  node: z.string(),
  type: z.string(),
  id: z.string(),
  user: z.string(),
  pid: z.number(),
  pstart: z.number(),
  starttime: z.number(),
  status: z.enum(["running", "stopped"]),
  exitstatus: z.string().optional(),
  endtime: z.number().optional(),
  log: z.array(z.string()),
  dueAt: z.number().optional(),
  action: z.record(z.string(), z.unknown()),
});

export interface PveStore {
  /**
   * Runs `fn` in one transaction: what a request writes (a container's lock and the task that will release it)
   * lands together or not at all, so a process killed in between never leaves a lock no task will lift.
   */
  atomic<T>(fn: () => T): T;
  getContainer(vmid: number): Container | undefined;
  listContainers(): Container[];
  putContainer(c: Container): void;
  deleteContainer(vmid: number): void;
  listSnapshots(vmid: number): Snapshot[];
  putSnapshot(vmid: number, s: Snapshot): void;
  deleteSnapshot(vmid: number, name: string): void;
  getTask(upid: string): Task | undefined;
  putTask(t: Task): void;
  listTasks(node: string): Task[];
  runningTasks(): Task[];
  /** Storage volumes vzdump wrote (volid `storage:backup/<file>`), per node. */
  putVolume(node: string, volid: string): void;
  /** Removes a volume; false when the node has no such volume. */
  deleteVolume(node: string, volid: string): boolean;
  /** A counter that survives restarts (task pids). */
  nextCounter(name: string, start: number): number;
  close(): void;
}

/** Opens (or creates) the simulator database at `dbPath`, in WAL mode. */
export function openPveStore(dbPath: string): PveStore {
  const db = new Database(dbPath);
  db.pragma("journal_mode = WAL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS containers (vmid INTEGER PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS snapshots (vmid INTEGER NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (vmid, name));
    CREATE TABLE IF NOT EXISTS tasks (upid TEXT PRIMARY KEY, node TEXT NOT NULL, status TEXT NOT NULL, starttime INTEGER NOT NULL, doc TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS volumes (node TEXT NOT NULL, volid TEXT NOT NULL, PRIMARY KEY (node, volid));
  `);
  const q = {
    getCt: db.prepare<[number], { doc: string }>("SELECT doc FROM containers WHERE vmid = ?"),
    allCt: db.prepare<[], { doc: string }>("SELECT doc FROM containers ORDER BY vmid"),
    putCt: db.prepare("INSERT INTO containers (vmid, doc) VALUES (?, ?) ON CONFLICT(vmid) DO UPDATE SET doc = excluded.doc"),
    delCt: db.prepare("DELETE FROM containers WHERE vmid = ?"),
    delCtSnaps: db.prepare("DELETE FROM snapshots WHERE vmid = ?"),
    snaps: db.prepare<[number], { doc: string }>("SELECT doc FROM snapshots WHERE vmid = ? ORDER BY rowid"),
    putSnap: db.prepare("INSERT INTO snapshots (vmid, name, doc) VALUES (?, ?, ?) ON CONFLICT(vmid, name) DO UPDATE SET doc = excluded.doc"),
    delSnap: db.prepare("DELETE FROM snapshots WHERE vmid = ? AND name = ?"),
    getTask: db.prepare<[string], { doc: string }>("SELECT doc FROM tasks WHERE upid = ?"),
    putTask: db.prepare(
      "INSERT INTO tasks (upid, node, status, starttime, doc) VALUES (?, ?, ?, ?, ?) ON CONFLICT(upid) DO UPDATE SET status = excluded.status, doc = excluded.doc",
    ),
    nodeTasks: db.prepare<[string], { doc: string }>("SELECT doc FROM tasks WHERE node = ? ORDER BY starttime DESC, rowid DESC"),
    running: db.prepare<[], { doc: string }>("SELECT doc FROM tasks WHERE status = 'running'"),
    putVol: db.prepare("INSERT OR IGNORE INTO volumes (node, volid) VALUES (?, ?)"),
    delVol: db.prepare("DELETE FROM volumes WHERE node = ? AND volid = ?"),
    counter: db.prepare<[string, number], { value: number }>(
      "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
    ),
  };
  const toCt = (doc: string): Container => {
    const r = parse(ContainerRow, doc, "container");
    return { ...r, parent: r.parent };
  };
  const toTask = (doc: string): Task => {
    const r = parse(TaskRow, doc, "task");
    return { ...r, exitstatus: r.exitstatus, endtime: r.endtime, dueAt: r.dueAt };
  };
  return {
    atomic: (fn) => {
      db.exec("BEGIN IMMEDIATE");
      try {
        const r = fn();
        db.exec("COMMIT");
        return r;
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
    },
    getContainer: (vmid) => {
      const row = q.getCt.get(vmid);
      return row ? toCt(row.doc) : undefined;
    },
    listContainers: () => q.allCt.all().map((r) => toCt(r.doc)),
    putContainer: (c) => void q.putCt.run(c.vmid, JSON.stringify(c)),
    deleteContainer: db.transaction((vmid: number) => {
      q.delCt.run(vmid);
      q.delCtSnaps.run(vmid);
    }),
    listSnapshots: (vmid) =>
      q.snaps.all(vmid).map((r) => {
        const s = parse(SnapshotRow, r.doc, "snapshot");
        return { ...s, parent: s.parent };
      }),
    putSnapshot: (vmid, s) => void q.putSnap.run(vmid, s.name, JSON.stringify(s)),
    deleteSnapshot: (vmid, name) => void q.delSnap.run(vmid, name),
    getTask: (upid) => {
      const row = q.getTask.get(upid);
      return row ? toTask(row.doc) : undefined;
    },
    putTask: (t) => void q.putTask.run(t.upid, t.node, t.status, t.starttime, JSON.stringify(t)),
    listTasks: (node) => q.nodeTasks.all(node).map((r) => toTask(r.doc)),
    runningTasks: () => q.running.all().map((r) => toTask(r.doc)),
    putVolume: (node, volid) => void q.putVol.run(node, volid),
    deleteVolume: (node, volid) => q.delVol.run(node, volid).changes > 0,
    nextCounter: (name, start) => q.counter.get(name, start)?.value ?? start,
    close: () => db.close(),
  };
}
