// Metering: what a tick charges each instance from its billed-up-to cursor, with cumulative floor rounding that never drifts.
import { floorDiv, mulDivFloor, SECONDS_PER_DAY } from "./money.js";
import type { Account, Charge, LedgerRepository, Meter, MeterComponent } from "./ledger-repository.js";

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
}

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
 * Returns the meter unchanged (the same object) when nothing but the cursor moves.
 */
export function advanceMeter(
  prior: Meter | undefined,
  o: Observation,
  nowMinute: number,
  cursor: number | undefined,
  epochMinute: number,
): { meter: Meter; planDue: number; domainDue: number } {
  const sinceMinute = Math.floor(o.sinceMs / 60_000);
  if (!prior) {
    const minutes = o.running ? nowMinute - clamp(sinceMinute, epochMinute, nowMinute) : 0;
    const plan = { rateMicroPerDay: o.planRateMicroPerDay, minutes };
    const domains = { rateMicroPerDay: o.domainRateMicroPerDay, minutes };
    const meter: Meter = { stack: o.stack, instance: o.instance, running: o.running, mark: nowMinute, plan, domains };
    return { meter, planDue: chargeOf(plan, minutes), domainDue: chargeOf(domains, minutes) };
  }
  // Billed so far up to `from`; this tick bills [start, end).
  const from = Math.max(cursor ?? prior.mark, prior.mark);
  if (from > nowMinute) return { meter: prior, planDue: 0, domainDue: 0 };
  let start = from;
  let end = from;
  if (prior.running) end = o.running ? nowMinute : clamp(sinceMinute, from, nowMinute);
  else if (o.running) [start, end] = [clamp(sinceMinute, from, nowMinute), nowMinute];
  const accrued = prior.running ? from - prior.mark : 0;
  const add = end - start;
  // The elapsed minutes are billed at the rate they ran at, even when the rate changes now.
  const planDue = dueOf(prior.plan, prior.plan.minutes + accrued, add);
  const domainDue = dueOf(prior.domains, prior.domains.minutes + accrued, add);
  if (prior.running === o.running && prior.plan.rateMicroPerDay === o.planRateMicroPerDay && prior.domains.rateMicroPerDay === o.domainRateMicroPerDay) {
    return { meter: prior, planDue, domainDue };
  }
  // A kept rate folds in the minutes accrued on the cursor and in this tick; a changed rate starts a new segment at the mark.
  const fold = (c: MeterComponent, rate: number): MeterComponent => ({
    rateMicroPerDay: rate,
    minutes: rate === c.rateMicroPerDay ? c.minutes + accrued + add : 0,
  });
  const meter: Meter = {
    stack: prior.stack,
    instance: prior.instance,
    running: o.running,
    mark: o.running ? nowMinute : prior.running ? end : prior.mark,
    plan: fold(prior.plan, o.planRateMicroPerDay),
    domains: fold(prior.domains, o.domainRateMicroPerDay),
  };
  return { meter, planDue, domainDue };
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
  if (runway === undefined) return 0;
  return WARNING_THRESHOLDS.filter((t) => runway < t).length;
}

/** The hour a charge is aggregated into (ISO). */
export function hourOf(now: Date): string {
  const d = new Date(now.getTime());
  d.setUTCMinutes(0, 0, 0);
  return d.toISOString();
}

interface StackDue {
  plan: number;
  domains: number;
  burn: number;
  /** The stack's meters as billing holds them (a live view: meters put in this tick appear in it). */
  meters: ReadonlyMap<string, Meter>;
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
    const due = new Map<string, StackDue>();
    for (const o of observations) {
      let d = due.get(o.stack);
      if (!d) due.set(o.stack, (d = { plan: 0, domains: 0, burn: 0, meters: tx.metersOf(o.stack) }));
      if (o.running) d.burn += o.planRateMicroPerDay + o.domainRateMicroPerDay;
      const prior = d.meters.get(o.instance);
      const r = advanceMeter(prior, o, nowMinute, cursor, repo.epochMinute);
      if (r.meter !== prior) tx.putMeter(r.meter);
      d.plan += r.planDue;
      d.domains += r.domainDue;
    }
    // An instance gone from the engine's report (removed from its file) stops being billed at the cursor.
    if (observations.length !== tx.meterCount()) {
      const seen = new Set(observations.map((o) => `${o.stack}\u0000${o.instance}`));
      for (const m of tx.meters()) if (m.running && !seen.has(`${m.stack}\u0000${m.instance}`)) tx.putMeter(stopAtCursor(m, cursor));
    }
    const stacks: StackTick[] = [];
    const charges: Charge[] = [];
    for (const [stack, d] of due) {
      const acc = tx.account(stack) ?? tx.ensureAccount(stack, bonusOf(stack), at);
      const tick = chargeStack(stack, d, acc);
      stacks.push(tick.result);
      if (tick.charge) charges.push(tick.charge);
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
function chargeStack(stack: string, d: StackDue, acc: Account): { result: StackTick; charge: Charge | undefined } {
  let balance = acc.balanceMicro;
  const planDue = BigInt(d.plan);
  const domainDue = BigInt(d.domains);
  const burn = BigInt(d.burn);
  const plan = planDue < balance ? planDue : balance > 0n ? balance : 0n;
  balance -= plan;
  const domains = domainDue < balance ? domainDue : balance > 0n ? balance : 0n;
  balance -= domains;
  const dueMicro = planDue + domainDue;
  const runway = runwaySeconds(balance, burn);
  const level = warningLevel(runway);
  const warning = level > acc.warnedLevel ? level - 1 : undefined;
  const writtenOff = dueMicro - plan - domains;
  const charge =
    plan > 0n || domains > 0n || writtenOff > 0n || level !== acc.warnedLevel
      ? { stack, usageMicro: plan, feeMicro: domains, writtenOffMicro: writtenOff, warnedLevel: level }
      : undefined;
  return {
    result: { stack, dueMicro, chargedMicro: plan + domains, balanceMicro: balance, burnPerDayMicro: burn, runwaySeconds: runway, warning },
    charge,
  };
}
