import { describe, expect, it } from "vitest";
import { manualClock } from "../lib/clock.js";
import { DEFAULT_BACKOFF } from "./backoff.js";
import { manualTimers } from "./timers.js";
import { createRetryBook, createWorkQueue, type WorkResult } from "./work-queue.js";

function setup(opts: { concurrency?: number; groupLimit?: number; groups?: Record<string, string> } = {}) {
  const clock = manualClock(new Date("2026-01-01T00:00:00Z"));
  const timers = manualTimers(clock);
  const started: string[] = [];
  const pending = new Map<string, { resolve(r: WorkResult): void; reject(e: Error): void }[]>();
  const retries = createRetryBook({ ...DEFAULT_BACKOFF, baseMs: 1000, capMs: 8000 }, () => 1);
  const q = createWorkQueue({
    concurrency: opts.concurrency ?? 2,
    groupLimit: opts.groupLimit ?? 10,
    groupOf: (k) => opts.groups?.[k],
    timers,
    clock,
    retries,
    worker: (k) =>
      new Promise<WorkResult>((resolve, reject) => {
        started.push(k);
        pending.set(k, [...(pending.get(k) ?? []), { resolve, reject }]);
      }),
  });
  const finish = async (k: string, r?: WorkResult | Error): Promise<void> => {
    const p = pending.get(k)?.shift();
    if (!p) throw new Error(`${k} is not running`);
    if (r instanceof Error) p.reject(r);
    else p.resolve(r);
    await new Promise((res) => setImmediate(res));
  };
  return { q, started, finish, timers, retries };
}

describe("work queue", () => {
  it("coalesces a queued key and never runs a key twice at once", async () => {
    const { q, started, finish } = setup({ concurrency: 1 });
    q.add("a");
    for (let i = 0; i < 100; i++) q.add("a");
    expect(started).toEqual(["a"]);
    q.add("b");
    q.add("b");
    await finish("a");
    // The re-run of a dirty key goes to the back of its priority, like a controller work-queue.
    expect(started).toEqual(["a", "b"]);
    await finish("b");
    expect(started).toEqual(["a", "b", "a"]);
    await finish("a");
    await q.idle();
    expect(q.stats()).toEqual({ queued: 0, running: 0, delayed: 0 });
  });

  it("bounds global concurrency and per-group concurrency", async () => {
    const { q, started, finish } = setup({ concurrency: 3, groupLimit: 1, groups: { a: "pve1", b: "pve1", c: "pve2", d: "pve2" } });
    for (const k of ["a", "b", "c", "d", "e"]) q.add(k);
    expect(started).toEqual(["a", "c", "e"]);
    await finish("a");
    expect(started).toEqual(["a", "c", "e", "b"]);
    await finish("c");
    expect(started.at(-1)).toBe("d");
  });

  it("serves portal work before resync work", async () => {
    const { q, started, finish } = setup({ concurrency: 1 });
    q.add("busy");
    for (const k of ["r1", "r2", "r3"]) q.add(k, "resync");
    q.add("p", "portal");
    q.add("c", "change");
    q.add("r1", "portal");
    await finish("busy");
    await finish("p");
    await finish("r1");
    await finish("c");
    expect(started).toEqual(["busy", "p", "r1", "c", "r2"]);
  });

  it("backs off after a thrown error, doubling up to the cap, and forgets after success", async () => {
    const { q, started, finish, timers } = setup({ concurrency: 1 });
    q.add("a");
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      await finish("a", new Error("boom"));
      const before = started.length;
      let waited = 0;
      while (started.length === before) {
        timers.advance(100);
        waited += 100;
      }
      waits.push(waited);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000]);
    await finish("a");
    q.add("a");
    await finish("a", new Error("again"));
    timers.advance(999);
    expect(started.length).toBe(7);
    timers.advance(1);
    expect(started.length).toBe(8);
  });

  it("requeues when the worker asks for a pause, and a change overrides the pause", async () => {
    const { q, started, finish, timers } = setup({ concurrency: 1 });
    q.add("a");
    await finish("a", { requeueAfterMs: 5000 });
    expect(q.stats().delayed).toBe(1);
    timers.advance(4999);
    expect(started.length).toBe(1);
    q.add("a", "change");
    expect(started.length).toBe(2);
    expect(q.stats().delayed).toBe(0);
  });

  it("shutdown waits for running keys and starts nothing new", async () => {
    const { q, started, finish } = setup({ concurrency: 1 });
    q.add("a");
    q.add("b");
    const done = q.shutdown();
    let finished = false;
    void done.then(() => (finished = true));
    await new Promise((r) => setImmediate(r));
    expect(finished).toBe(false);
    await finish("a");
    await done;
    expect(started).toEqual(["a"]);
  });

  it("a pause the worker asks for keeps the failures it counted in the retry book; finishing forgets them", async () => {
    const { q, finish, retries } = setup({ concurrency: 1 });
    q.add("a");
    expect(retries.failed("a")).toEqual({ failures: 1, delayMs: 1000, repeated: false });
    await finish("a", { requeueAfterMs: 1000 });
    expect(retries.failures("a")).toBe(1);
    q.add("a", "change");
    await finish("a");
    expect(retries.failures("a")).toBe(0);
  });
});

describe("retry book", () => {
  it("counts failures in a row, doubles the pause up to the cap, says when stallAfter is reached, and carries on from a restored count", () => {
    const book = createRetryBook({ baseMs: 1000, capMs: 8000, stallAfter: 3 }, () => 1);
    expect([1, 2, 3, 4, 5].map(() => book.failed("a"))).toEqual([
      { failures: 1, delayMs: 1000, repeated: false },
      { failures: 2, delayMs: 2000, repeated: false },
      { failures: 3, delayMs: 4000, repeated: true },
      { failures: 4, delayMs: 8000, repeated: true },
      { failures: 5, delayMs: 8000, repeated: true },
    ]);
    book.succeeded("a");
    expect(book.failures("a")).toBe(0);
    book.restore("b", 2);
    expect(book.failed("b")).toEqual({ failures: 3, delayMs: 4000, repeated: true });
  });
});
