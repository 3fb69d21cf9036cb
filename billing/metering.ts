// Metering: what a tick charges each instance from its billed-up-to cursor, with cumulative floor rounding that never drifts.
import { floorDiv, mulDivFloor, SECONDS_PER_DAY } from "./money.js";
import type { Account, Charge, LedgerRepository, Meter, MeterComponent, TickStack } from "./ledger-repository.js";

/** Names each tick of this process, so a stack's running sums are reset by the first observation of a tick. */
let ticks = 0;

/** One instance as the engine reports it, with its price. */
export interface Observation {
  stack: string;
  instance: string;
  /** Observed running (the engine's status, not the file's desired power). */
  running: boolean;
  /** When the engine recorded this state (epoch ms). */
  sinceMs: number;
  /** The plan's points per day in micro-points (a safe integer); 0 for exempt stacks. */
  planRateMicroPerDay: number;
  /** Paid domains' points per day in micro-points (a safe integer); 0 for exempt stacks. */
  domainRateMicroPerDay: number;
  /** Priced at the rates the instance's meter last ran at (its file no longer lists it); the two rates above are ignored. */
  lastRates?: true;
}

/** `o` priced at the rates its meter last ran at (0 without a meter). */
const atLastRates = (o: Observation, prior: Meter | undefined): Observation => ({
  ...o,
  planRateMicroPerDay: prior?.plan.rateMicroPerDay ?? 0,
  domainRateMicroPerDay: prior?.domains.rateMicroPerDay ?? 0,
});

/** Runway warning thresholds in seconds: 24 h, 1 h, 10 min. The level is how many of them the runway is below. */
export const WARNING_THRESHOLDS = [86_400n, 3_600n, 600n] as const;
export const WARNING_LABELS = ["24 hours", "1 hour", "10 minutes"] as const;

export interface StackTick {
  stack: string;
  /** What the minutes billed in this tick cost. */
  dueMicro: bigint;
  /** What was taken (due, capped at the balance). */
  chargedMicro: bigint;
  balanceMicro: bigint;
  burnPerDayMicro: bigint;
  /** Seconds until the balance reaches zero at the current burn; undefined when nothing burns. */
  runwaySeconds: bigint | undefined;
  /** A runway threshold crossed in this tick (index into WARNING_THRESHOLDS), once per crossing. */
  warning: number | undefined;
}

export interface TickResult {
  nowMinute: number;
  stacks: StackTick[];
}

/** What a component has cost after `minutes` at its rate: floor(rate × minutes / 1440), the cumulative floor that never drifts. */
export const chargeOf = (c: MeterComponent, minutes: number): number => mulDivFloor(c.rateMicroPerDay, minutes, 1440);

/** What `add` more minutes cost a component that had `before` minutes billed, at its rate. */
const dueOf = (c: MeterComponent, before: number, add: number): number => (add > 0 ? chargeOf(c, before + add) - chargeOf(c, before) : 0);

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/**
 * Moves one instance's meter to `nowMinute`. Running meters share the tick cursor: a running meter's
 * billed minutes are its components' minutes plus (cursor − mark), so a steady minute changes no meter
 * row. A meter is rewritten only when the instance starts, stops or changes rate: then its minutes are
 * folded in and its mark moves (to now while running; to the minute it stopped otherwise).
 * A running instance is billed from the cursor (or from when the engine recorded it running, if later)
 * to now, or to when the engine recorded it stopped. An instance seen for the first time is billed from
 * when the engine recorded it running (not before the billing epoch).
 * Adds what is due to `due` (a tick's hot path allocates nothing per instance) and returns the meter:
 * the same object when nothing but the cursor moves.
 */
export function advanceMeter(
  prior: Meter | undefined,
  o: Observation,
  nowMinute: number,
  cursor: number | undefined,
  epochMinute: number,
  due: { plan: number; domains: number },
): Meter {
  const sinceMinute = Math.floor(o.sinceMs / 60_000);
  if (!prior) {
    const minutes = o.running ? nowMinute - clamp(sinceMinute, epochMinute, nowMinute) : 0;
    const plan = { rateMicroPerDay: o.planRateMicroPerDay, minutes };
    const domains = { rateMicroPerDay: o.domainRateMicroPerDay, minutes };
    due.plan += chargeOf(plan, minutes);
    due.domains += chargeOf(domains, minutes);
    return { stack: o.stack, instance: o.instance, running: o.running, mark: nowMinute, plan, domains };
  }
  // Billed so far up to `from`; this tick bills [start, end).
  const from = Math.max(cursor ?? prior.mark, prior.mark);
  if (from > nowMinute) return prior;
  let start = from;
  let end = from;
  if (prior.running) end = o.running ? nowMinute : clamp(sinceMinute, from, nowMinute);
  else if (o.running) [start, end] = [clamp(sinceMinute, from, nowMinute), nowMinute];
  const accrued = prior.running ? from - prior.mark : 0;
  const add = end - start;
  // The elapsed minutes are billed at the rate they ran at, even when the rate changes now.
  due.plan += dueOf(prior.plan, prior.plan.minutes + accrued, add);
  due.domains += dueOf(prior.domains, prior.domains.minutes + accrued, add);
  if (prior.running === o.running && prior.plan.rateMicroPerDay === o.planRateMicroPerDay && prior.domains.rateMicroPerDay === o.domainRateMicroPerDay) {
    return prior;
  }
  // A kept rate folds in the minutes accrued on the cursor and in this tick; a changed rate starts a new segment at the mark.
  const fold = (c: MeterComponent, rate: number): MeterComponent => ({
    rateMicroPerDay: rate,
    minutes: rate === c.rateMicroPerDay ? c.minutes + accrued + add : 0,
  });
  return {
    stack: prior.stack,
    instance: prior.instance,
    running: o.running,
    mark: o.running ? nowMinute : prior.running ? end : prior.mark,
    plan: fold(prior.plan, o.planRateMicroPerDay),
    domains: fold(prior.domains, o.domainRateMicroPerDay),
  };
}

/** The minute billing has settled an instance up to: the cursor (a stopped instance owes nothing for the time since it stopped). */
export const billedUntil = (m: Meter, cursor: number | undefined): number => Math.max(cursor ?? m.mark, m.mark);

/** Seconds of runway: floor(balance × 86400 / burn); undefined when nothing burns. */
export function runwaySeconds(balanceMicro: bigint, burnPerDayMicro: bigint): bigint | undefined {
  if (burnPerDayMicro <= 0n) return undefined;
  return balanceMicro <= 0n ? 0n : floorDiv(balanceMicro * SECONDS_PER_DAY, burnPerDayMicro);
}

/** How many warning thresholds the runway is below (0 when nothing burns). */
export function warningLevel(runway: bigint | undefined): number {
  let level = 0;
  if (runway !== undefined) for (const t of WARNING_THRESHOLDS) if (runway < t) level++;
  return level;
}

/** The hour a charge is aggregated into (ISO). */
export function hourOf(now: Date): string {
  const d = new Date(now.getTime());
  d.setUTCMinutes(0, 0, 0);
  return d.toISOString();
}

/**
 * One tick in one BEGIN IMMEDIATE transaction: every meter advanced (only those that started, stopped or
 * changed rate are written), each stack's due charged (capped at its balance; the rest written off) into
 * its usage and domain-fee rows of the hour, warning levels updated, the cursor moved to now. A tick
 * older than the cursor (an overlapping or late process: another one billed past it) changes nothing.
 */
export function runTick(
  repo: LedgerRepository,
  observations: readonly Observation[],
  now: Date,
  opts: { signupBonusMicro: bigint | ((stack: string) => bigint) },
): TickResult {
  const nowMinute = Math.floor(now.getTime() / 60_000);
  const at = now.toISOString();
  const bonus = opts.signupBonusMicro;
  const bonusOf = (stack: string): bigint => (typeof bonus === "bigint" ? bonus : bonus(stack));
  return repo.tick((tx) => {
    const cursor = tx.cursor();
    if (cursor !== undefined && nowMinute < cursor) return { nowMinute, stacks: [] };
    // One observation per instance (the engine's status is keyed so): every meter was seen when as many were.
    const tick = ++ticks;
    const touched: TickStack[] = [];
    let d: TickStack | undefined;
    for (const seen of observations) {
      // The engine lists instances ordered by stack: consecutive observations of one stack share its lookup.
      if (d?.stack !== seen.stack) d = tx.stack(seen.stack);
      if (d.tick !== tick) {
        [d.tick, d.plan, d.domains, d.burn] = [tick, 0, 0, 0];
        touched.push(d);
      }
      const prior = d.meters.get(seen.instance);
      const o = seen.lastRates ? atLastRates(seen, prior) : seen;
      if (o.running) d.burn += o.planRateMicroPerDay + o.domainRateMicroPerDay;
      const meter = advanceMeter(prior, o, nowMinute, cursor, repo.epochMinute, d);
      if (meter !== prior) tx.putMeter(meter);
    }
    // An instance gone from the engine's report (removed from its file) stops being billed at the cursor.
    if (observations.length !== tx.meterCount()) {
      const seen = new Set(observations.map((o) => `${o.stack}\u0000${o.instance}`));
      for (const m of tx.meters()) if (m.running && !seen.has(`${m.stack}\u0000${m.instance}`)) tx.putMeter(stopAtCursor(m, cursor));
    }
    const stacks: StackTick[] = [];
    const charges: Charge[] = [];
    for (const d of touched) {
      const acc = d.account ?? tx.ensureAccount(d.stack, bonusOf(d.stack), at);
      const r = chargeStack(d, acc);
      stacks.push(r.result);
      if (r.charge) charges.push(r.charge);
    }
    tx.charge(hourOf(now), at, charges);
    tx.setCursor(nowMinute);
    return { nowMinute, stacks };
  });
}

/** A running meter whose instance is gone: its minutes up to the cursor are billed, the rest never is. */
function stopAtCursor(m: Meter, cursor: number | undefined): Meter {
  const until = billedUntil(m, cursor);
  const fold = (c: MeterComponent): MeterComponent => ({ rateMicroPerDay: c.rateMicroPerDay, minutes: c.minutes + until - m.mark });
  return { ...m, running: false, mark: until, plan: fold(m.plan), domains: fold(m.domains) };
}

/** A stack's due for the tick, capped at its balance (plan first, then domains), with its runway and warning. */
function chargeStack(d: TickStack, acc: Account): { result: StackTick; charge: Charge | undefined } {
  const stack = d.stack;
  const before = acc.balanceMicro;
  const due = d.plan + d.domains;
  let plan = d.plan;
  let domains = d.domains;
  if (before < BigInt(due)) {
    // The balance runs out: it pays what it holds, the rest is written off (safe integers: below the due).
    const holds = before > 0n ? Number(before) : 0;
    plan = Math.min(d.plan, holds);
    domains = Math.min(d.domains, holds - plan);
  }
  const taken = plan + domains;
  const balance = before - BigInt(taken);
  const burn = BigInt(d.burn);
  const runway = runwaySeconds(balance, burn);
  const level = warningLevel(runway);
  const warning = level > acc.warnedLevel ? level - 1 : undefined;
  const writtenOff = due - taken;
  const charge =
    taken > 0 || writtenOff > 0 || level !== acc.warnedLevel
      ? { of: d, usageMicro: plan, feeMicro: domains, writtenOffMicro: writtenOff, warnedLevel: level }
      : undefined;
  return {
    result: { stack, dueMicro: BigInt(due), chargedMicro: BigInt(taken), balanceMicro: balance, burnPerDayMicro: burn, runwaySeconds: runway, warning },
    charge,
  };
}
