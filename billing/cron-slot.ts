// The most recent minute a five-field cron expression (UTC) names, at or before now: what a schedule owes.
import { parse, validate } from "node-cron";
import { ProxstackError } from "../lib/errors.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Epoch minute of the latest slot of `expr` at or before `now`, or undefined when none lies within
 * the last 400 days. Minute, hour, day of month, month and day of week must all match (node-cron's rule).
 * @example latestSlot("0 3 * * *", new Date("2026-11-30T10:00:00Z")) // → minute of 2026-11-30T03:00Z
 */
export function latestSlot(expr: string, now: Date): number | undefined {
  if (!validate(expr)) throw new ProxstackError("cron-invalid", `'${expr}' is not a cron expression`, { kind: "stall" });
  const f = parse(expr);
  const minutes = new Set(f.minute);
  const hours = new Set(f.hour);
  const months = new Set(f.month);
  const doms = new Set(f.dayOfMonth.filter((d): d is number => typeof d === "number"));
  const dows = new Set(f.dayOfWeek.filter((d): d is number => typeof d === "number").map((d) => d % 7));
  const stop = now.getTime() - 400 * DAY;
  let t = Math.floor(now.getTime() / MINUTE) * MINUTE;
  while (t >= stop) {
    const d = new Date(t);
    if (!months.has(d.getUTCMonth() + 1) || !doms.has(d.getUTCDate()) || !dows.has(d.getUTCDay())) {
      t = Math.floor(t / DAY) * DAY - MINUTE;
    } else if (!hours.has(d.getUTCHours())) {
      t = Math.floor(t / HOUR) * HOUR - MINUTE;
    } else if (!minutes.has(d.getUTCMinutes())) {
      t -= MINUTE;
    } else {
      return t / MINUTE;
    }
  }
  return undefined;
}
