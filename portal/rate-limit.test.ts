import { describe, expect, it } from "vitest";
import { manualClock } from "../lib/clock.js";
import { createRateLimiter } from "./rate-limit.js";

describe("rate limiter", () => {
  it("allows `limit` hits per window per key, then answers the seconds until the window ends", () => {
    const clock = manualClock(new Date("2026-11-30T10:00:00Z"));
    const rl = createRateLimiter({ limit: 3, windowMs: 60_000, clock });
    expect([rl.hit("a"), rl.hit("a"), rl.hit("a")]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(rl.hit("a")).toEqual({ ok: false, retryAfterSeconds: 60 });
    expect(rl.hit("b")).toEqual({ ok: true });
    clock.advance(59_500);
    expect(rl.blocked("a")).toEqual({ ok: false, retryAfterSeconds: 1 });
    clock.advance(500);
    expect(rl.blocked("a")).toEqual({ ok: true });
    expect(rl.hit("a")).toEqual({ ok: true });
  });

  it("blocked() does not count; reset() forgets a key", () => {
    const rl = createRateLimiter({ limit: 1, windowMs: 1000, clock: manualClock(new Date(0)) });
    expect([rl.blocked("k"), rl.blocked("k"), rl.hit("k")]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(rl.hit("k").ok).toBe(false);
    rl.reset("k");
    expect(rl.hit("k").ok).toBe(true);
  });

  it("sweeps expired windows instead of growing without bound", () => {
    const clock = manualClock(new Date(0));
    const rl = createRateLimiter({ limit: 1, windowMs: 1000, clock, maxKeys: 2 });
    rl.hit("a");
    rl.hit("b");
    clock.advance(1000);
    rl.hit("c");
    // "a" was swept with its expired window: a fresh window, not a stale count.
    expect(rl.hit("a")).toEqual({ ok: true });
  });
});
