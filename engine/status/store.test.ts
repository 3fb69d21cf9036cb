import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { manualClock } from "../../lib/clock.js";
import { openStatusStore, type StatusEvent } from "./store.js";
import { REASONS } from "./vocabulary.js";

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
      store.finishRun(run.id, { state: "succeeded", outputs: { ok: 1 } });
      store.markApplied("alice", "h1", { name: "alice" });
      store.upsertInstance({ stack: "alice", name: "web", vmid: 2001, ip: "10.10.0.21", power: "running", state: "ready" });
      expect(store.getStack("alice")).toMatchObject({ condition: "Ready", reason: "Applied", appliedHash: "h1", failures: 0, lastRunId: run.id, hasResources: true });
      // The work queue's retry book counts failures and picks the reason; the store records what it is told.
      store.markFailed("alice", { reason: "Retrying", message: "boom", nextAttemptAt: new Date("2026-11-25T12:01:00Z"), failures: 1 });
      expect(store.getStack("alice")).toMatchObject({ condition: "Reconciling", reason: "Retrying", message: "boom", failures: 1 });
      store.markFailed("alice", { reason: "RepeatedFailures", message: "boom", nextAttemptAt: new Date("2026-11-25T12:02:00Z"), failures: 2 });
      expect(store.getStack("alice")).toMatchObject({ condition: "Stalled", reason: "RepeatedFailures", nextAttemptAt: "2026-11-25T12:02:00.000Z", failures: 2 });
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
});
