import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { manualClock } from "../../lib/clock.js";
import { ProxstackError } from "../../lib/errors.js";
import { UserStackSpecSchema, type UserStackOutputs } from "../../schemas/index.js";
import { openStatusStore, type StatusEvent } from "./store.js";
import { REASONS } from "./vocabulary.js";

const spec = UserStackSpecSchema.parse({
  apiVersion: "proxstack.dev/v1",
  kind: "UserStack",
  name: "alice",
  owner: { email: "alice@example.com" },
  linuxUser: "alice",
  sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn x@y"],
  instances: [{ name: "web", template: "debian-12", plan: "small", vmid: 2001, ip: "10.10.0.21" }],
});
const outputs: UserStackOutputs = {
  stack: "alice",
  suspended: false,
  instances: [{ name: "web", vmid: 2001, ip: "10.10.0.21", hostname: "alice-web", power: "running" }],
};

type Store = ReturnType<typeof openStatusStore>;

describe("status store", () => {
  it("moves a stack through its conditions only via mark functions, persists, and streams every change", async () => {
    const dir = mkdtempSync(join(tmpdir(), "status-"));
    try {
      const clock = manualClock(new Date("2026-11-25T12:00:00Z"));
      const file = join(dir, "engine.db");
      const store = openStatusStore(file, { clock, mode: "simulation" });
      const ac = new AbortController();
      const streamed: StatusEvent[] = [];
      const reader = (async () => {
        for await (const e of store.stream(ac.signal)) streamed.push(e);
      })();
      store.markPending("alice");
      expect(store.getStack("alice")).toMatchObject({ condition: "Reconciling", reason: "Pending" });
      const run = store.createRun("alice", "up", "h1");
      store.startRun(run.id);
      store.markApplying("alice", run.id);
      store.appendRunEvent(run.id, { at: clock.now().toISOString(), type: "summary", message: "create 2" });
      store.finishRun(run.id, { state: "succeeded", outputs });
      store.markApplied("alice", "h1", spec);
      store.upsertInstance({ stack: "alice", name: "web", vmid: 2001, ip: "10.10.0.21", power: "running", state: "ready" });
      expect(store.getStack("alice")).toMatchObject({
        condition: "Ready",
        reason: "Applied",
        appliedHash: "h1",
        failures: 0,
        lastRunId: run.id,
        hasResources: true,
      });
      // The work queue's retry book counts failures and picks the reason; the store records what it is told.
      store.markFailed("alice", { reason: "Retrying", message: "boom", nextAttemptAt: new Date("2026-11-25T12:01:00Z"), failures: 1 });
      expect(store.getStack("alice")).toMatchObject({ condition: "Reconciling", reason: "Retrying", message: "boom", failures: 1 });
      store.markFailed("alice", { reason: "RepeatedFailures", message: "boom", nextAttemptAt: new Date("2026-11-25T12:02:00Z"), failures: 2 });
      expect(store.getStack("alice")).toMatchObject({
        condition: "Stalled",
        reason: "RepeatedFailures",
        nextAttemptAt: "2026-11-25T12:02:00.000Z",
        failures: 2,
      });
      store.markStalled("bob", "InvalidSpec", "bob.yaml:3:1: bad", "invalid\nbob.yaml:3:1: bad");
      expect(store.getStack("bob")).toMatchObject({ condition: "Stalled", reason: "InvalidSpec", stoppedFor: "invalid\nbob.yaml:3:1: bad" });
      // A stalled stack keeps its reason visible when a change is queued.
      store.markPending("bob");
      expect(store.getStack("bob")?.reason).toBe("InvalidSpec");
      const dangling = store.createRun("bob", "up", "h2");
      store.startRun(dangling.id);
      store.close();
      ac.abort();
      await reader;
      expect(streamed.map((e) => e.type)).toEqual(expect.arrayContaining(["stack", "run", "run-event", "instance"]));

      const again = openStatusStore(file, { clock });
      expect(again.mode).toBe("simulation");
      expect(again.failInterruptedRuns()).toBe(1);
      expect(again.getRun(dangling.id)).toMatchObject({ state: "failed", errorCode: "engine-restarted" });
      expect(again.runEvents(run.id)).toEqual([expect.objectContaining({ type: "summary", message: "create 2" })]);
      expect(again.getRun(run.id)?.outputs).toEqual(outputs);
      expect(again.getStack("alice")?.appliedSpec).toEqual(spec);
      expect(again.heldAllocations()).toEqual({ vmids: new Set([2001]), ips: new Set(["10.10.0.21"]) });
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every reason has a condition and one line of doc", () => {
    for (const [name, r] of Object.entries(REASONS)) {
      expect(["Ready", "Reconciling", "Stalled"]).toContain(r.condition);
      expect(r.doc, name).toMatch(/^[A-Z].*\.$/);
      expect(r.doc.includes("\n")).toBe(false);
    }
  });

  it.each([
    [
      "an applied spec that is not a stack spec",
      'UPDATE stacks SET applied_spec = \'{"name":"alice"}\'',
      (s: Store) => s.getStack("alice"),
      /stacks\.applied_spec of alice does not match its schema/,
    ],
    ["an applied spec that is not JSON", "UPDATE stacks SET applied_spec = '{'", (s: Store) => s.listStacks(), /stacks\.applied_spec of alice is not JSON/],
    [
      "run outputs that miss a field",
      'UPDATE runs SET outputs = \'{"stack":"alice","instances":[]}\'',
      (s: Store) => s.listRuns("alice"),
      /runs\.outputs of run 1 does not match its schema \(suspended: /,
    ],
    [
      "a reason outside the vocabulary",
      "UPDATE stacks SET reason = 'Sleeping'",
      (s: Store) => s.getStack("alice"),
      /stacks row alice does not match its schema \(reason: /,
    ],
    [
      "a run event of another shape",
      'UPDATE run_events SET event = \'{"type":"summary"}\'',
      (s: Store) => s.runEvents(1),
      /run_events of run 1 does not match its schema \(at: /,
    ],
  ])("a row read back is parsed with its schema: %s is a bug-kind error, never a silent undefined", (_name, sql, read, message) => {
    const dir = mkdtempSync(join(tmpdir(), "status-"));
    try {
      const clock = manualClock(new Date("2026-11-25T12:00:00Z"));
      const file = join(dir, "engine.db");
      const store = openStatusStore(file, { clock, mode: "simulation" });
      const run = store.createRun("alice", "up", "h1");
      store.appendRunEvent(run.id, { at: clock.now().toISOString(), type: "summary", message: "create 1" });
      store.finishRun(run.id, { state: "succeeded", outputs });
      store.markApplied("alice", "h1", spec);
      store.close();
      const db = new Database(file);
      db.exec(sql);
      db.close();
      const again = openStatusStore(file, { clock });
      try {
        let thrown: unknown;
        try {
          read(again);
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBeInstanceOf(ProxstackError);
        expect(thrown).toMatchObject({ code: "status-row-invalid", kind: "bug" });
        expect((thrown as Error).message).toMatch(message);
      } finally {
        again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a row parsed once is parsed again when any column changes, even by another connection; a broken one still throws", () => {
    const dir = mkdtempSync(join(tmpdir(), "status-"));
    const file = join(dir, "engine.db");
    const store = openStatusStore(file, { clock: manualClock(new Date("2026-11-25T12:00:00Z")), mode: "simulation" });
    const other = new Database(file);
    try {
      store.markApplied("alice", "h1", spec);
      expect(store.getStack("alice")).toMatchObject({ reason: "Applied", appliedHash: "h1", appliedSpec: spec });
      expect(store.listStacks().map((s) => s.appliedHash)).toEqual(["h1"]);

      other.prepare("UPDATE stacks SET applied_spec = ? WHERE name = 'alice'").run(JSON.stringify({ ...spec, linuxUser: "alice2" }));
      expect(store.getStack("alice")?.appliedSpec?.linuxUser).toBe("alice2");
      other.exec("UPDATE stacks SET message = 'by hand'");
      expect(store.listStacks()[0]?.message).toBe("by hand");

      other.exec("UPDATE stacks SET reason = 'Sleeping'");
      expect(() => store.getStack("alice")).toThrow(/stacks row alice does not match its schema \(reason: /);
      expect(() => store.listStacks()).toThrow(ProxstackError);
    } finally {
      other.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("opens a database an earlier version created: the columns added since (stopped_for, removal_at, removal_held) are added", () => {
    const dir = mkdtempSync(join(tmpdir(), "status-"));
    try {
      const file = join(dir, "engine.db");
      const db = new Database(file);
      db.exec(`CREATE TABLE stacks (
        name TEXT PRIMARY KEY, condition TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
        applied_hash TEXT, applied_spec TEXT, has_resources INTEGER NOT NULL DEFAULT 0, last_run_id INTEGER,
        failures INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT, updated_at TEXT NOT NULL);
        INSERT INTO stacks (name, condition, reason, updated_at) VALUES ('bob', 'Stalled', 'UnsafePlan', '2026-11-25T12:00:00.000Z');`);
      db.close();
      const store = openStatusStore(file, { clock: manualClock(new Date("2026-11-25T12:00:00Z")) });
      try {
        expect(store.getStack("bob")).toMatchObject({ reason: "UnsafePlan", stoppedFor: undefined, removalAt: undefined, removalHeld: false });
        store.markPendingRemoval("bob", { at: new Date("2026-11-25T12:10:00Z"), held: true, message: "m" });
        expect(store.getStack("bob")).toMatchObject({ reason: "PendingRemoval", removalAt: "2026-11-25T12:10:00.000Z", removalHeld: true });
      } finally {
        store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
