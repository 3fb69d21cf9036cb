// Fixed-window counters per key (account, IP) with the time injected; answers how long until the next attempt is allowed.
import type { Clock } from "../lib/clock.js";

export interface RateLimiter {
  /** Counts one attempt; `ok: false` once `limit` attempts were counted in the current window. */
  hit(key: string): { ok: true } | { ok: false; retryAfterSeconds: number };
  /** Whether the key is over its limit, without counting. */
  blocked(key: string): { ok: true } | { ok: false; retryAfterSeconds: number };
  reset(key: string): void;
}

export function createRateLimiter(o: { limit: number; windowMs: number; clock: Clock; maxKeys?: number }): RateLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  const maxKeys = o.maxKeys ?? 100_000;
  const current = (key: string) => {
    const now = o.clock.now().getTime();
    let w = windows.get(key);
    if (!w || now - w.start >= o.windowMs) {
      if (windows.size >= maxKeys) sweep(now);
      w = { start: now, count: 0 };
      windows.set(key, w);
    }
    return { w, now };
  };
  const sweep = (now: number) => {
    for (const [k, w] of windows) if (now - w.start >= o.windowMs) windows.delete(k);
  };
  const verdict = (w: { start: number; count: number }, now: number) =>
    w.count >= o.limit ? { ok: false as const, retryAfterSeconds: Math.max(1, Math.ceil((w.start + o.windowMs - now) / 1000)) } : { ok: true as const };
  return {
    hit(key) {
      const { w, now } = current(key);
      const v = verdict(w, now);
      if (v.ok) w.count++;
      return v;
    },
    blocked(key) {
      const { w, now } = current(key);
      return verdict(w, now);
    },
    reset: (key) => void windows.delete(key),
  };
}
