// Timers as a dependency, so the queue and the batcher run on a clock tests move by hand.
import type { Clock } from "../lib/clock.js";

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Timers driven by a manual clock: `advance(ms)` moves the clock and fires what became due, in order. */
export function manualTimers(clock: Clock & { set(d: Date): void }): Timers & { advance(ms: number): void; pending(): number } {
  let seq = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    setTimeout(fn, ms) {
      const id = ++seq;
      due.set(id, { at: clock.now().getTime() + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout(h) {
      due.delete(h as number);
    },
    advance(ms) {
      const end = clock.now().getTime() + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const e of due) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
        if (!next) break;
        due.delete(next[0]);
        clock.set(new Date(Math.max(clock.now().getTime(), next[1].at)));
        next[1].fn();
      }
      clock.set(new Date(end));
    },
    pending: () => due.size,
  };
}
