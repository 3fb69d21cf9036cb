// Metering: what a tick charges each instance from its billed-up-to cursor, with cumulative floor rounding that never drifts.
import { floorDiv, mulDivFloor, SECONDS_PER_DAY } from "./money.js";
import { meterKey, type LedgerRepository, type Meter, type MeterComponent } from "./ledger-repository.js";

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

/** Adds `minutes` to a component: its charge becomes floor(rate × cumulative minutes / 1440); returns what is due now. */
export function addMinutes(c: MeterComponent, minutes: number): { next: MeterComponent; dueMicro: number } {
  if (minutes <= 0) return { next: c, dueMicro: 0 };
  const total = c.minutes + minutes;
  const charged = mulDivFloor(c.rateMicroPerDay, total, 1440);
  return { next: { rateMicroPerDay: c.rateMicroPerDay, minutes: total, chargedMicro: charged }, dueMicro: charged - c.chargedMicro };
}

/** Bills the elapsed minutes at the old rate, then starts a new segment when the rate changed. */
function billComponent(c: MeterComponent, minutes: number, rate: number): { next: MeterComponent; dueMicro: number } {
  const r = addMinutes(c, minutes);
  if (rate === c.rateMicroPerDay) return r;
  return { next: { rateMicroPerDay: rate, minutes: 0, chargedMicro: 0 }, dueMicro: r.dueMicro };
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/**
 * Moves one instance's meter to `nowMinute`. A running instance is billed from its cursor (or from when
 * the engine recorded it running, if later) to now, or to when the engine recorded it stopped. A tick
 * older than the cursor (an overlapping or late process) changes nothing, so no minute is billed twice.
 * Minutes and micro-points are integers throughout (safe integers; see mulDivFloor).
 */
export function advanceMeter(
  prior: Meter | undefined,
  o: Observation,
  nowMinute: number,
  epochMinute: number,
): { meter: Meter; planDue: number; domainDue: number } | undefined {
  const sinceMinute = Math.floor(o.sinceMs / 60_000);
  const fresh = (rate: number): MeterComponent => ({ rateMicroPerDay: rate, minutes: 0, chargedMicro: 0 });
  const m: Meter = prior ?? {
    stack: o.stack,
    instance: o.instance,
    billedUntil: o.running ? clamp(sinceMinute, epochMinute, nowMinute) : nowMinute,
    running: o.running,
    plan: fresh(o.planRateMicroPerDay),
    domains: fresh(o.domainRateMicroPerDay),
  };
  if (nowMinute < m.billedUntil) return undefined;
  let minutes = 0;
  if (m.running) minutes = (o.running ? nowMinute : clamp(sinceMinute, m.billedUntil, nowMinute)) - m.billedUntil;
  else if (o.running) minutes = nowMinute - clamp(sinceMinute, m.billedUntil, nowMinute);
  const plan = billComponent(m.plan, minutes, o.planRateMicroPerDay);
  const domains = billComponent(m.domains, minutes, o.domainRateMicroPerDay);
  if (prior && minutes === 0 && prior.billedUntil === nowMinute && prior.running === o.running && plan.next === prior.plan && domains.next === prior.domains)
    return undefined;
  const meter: Meter = { stack: m.stack, instance: m.instance, billedUntil: nowMinute, running: o.running, plan: plan.next, domains: domains.next };
  return { meter, planDue: plan.dueMicro, domainDue: domains.dueMicro };
}

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

/**
 * One tick in one BEGIN IMMEDIATE transaction: every meter advanced, each stack's due charged (capped at
 * its balance; the rest written off) into its usage and domain-fee rows of the hour, warning levels updated.
 */
export function runTick(
  repo: LedgerRepository,
  observations: readonly Observation[],
  now: Date,
  opts: { signupBonusMicro: bigint | ((stack: string) => bigint) },
): TickResult {
  const nowMinute = Math.floor(now.getTime() / 60_000);
  const at = now.toISOString();
  const hour = hourOf(now);
  return repo.tick((tx) => {
    const meters = tx.meters();
    const due = new Map<string, { plan: number; domains: number; burn: number }>();
    for (const o of observations) {
      let d = due.get(o.stack);
      if (!d) due.set(o.stack, (d = { plan: 0, domains: 0, burn: 0 }));
      if (o.running) d.burn += o.planRateMicroPerDay + o.domainRateMicroPerDay;
      const r = advanceMeter(meters.get(meterKey(o.stack, o.instance)), o, nowMinute, repo.epochMinute);
      if (!r) continue;
      tx.putMeter(r.meter);
      d.plan += r.planDue;
      d.domains += r.domainDue;
    }
    // An instance gone from the engine's report (removed from its file) stops being billed at its cursor.
    const seen = new Set(observations.map((o) => meterKey(o.stack, o.instance)));
    for (const [key, m] of meters) {
      if (m.running && !seen.has(key) && m.billedUntil <= nowMinute) tx.putMeter({ ...m, running: false, billedUntil: nowMinute });
    }
    const stacks: StackTick[] = [];
    const accounts = tx.accounts();
    for (const [stack, dn] of due) {
      const d = { plan: BigInt(dn.plan), domains: BigInt(dn.domains), burn: BigInt(dn.burn) };
      const acc =
        accounts.get(stack) ?? tx.ensureAccount(stack, typeof opts.signupBonusMicro === "bigint" ? opts.signupBonusMicro : opts.signupBonusMicro(stack), at);
      let balance = acc.balanceMicro;
      const plan = d.plan < balance ? d.plan : balance > 0n ? balance : 0n;
      balance -= plan;
      const domains = d.domains < balance ? d.domains : balance > 0n ? balance : 0n;
      balance -= domains;
      if (plan > 0n) tx.chargeHour(stack, "usage", hour, -plan, at);
      if (domains > 0n) tx.chargeHour(stack, "domain-fee", hour, -domains, at);
      const dueMicro = d.plan + d.domains;
      if (dueMicro > plan + domains) tx.addWrittenOff(stack, dueMicro - plan - domains);
      const runway = runwaySeconds(balance, d.burn);
      const level = warningLevel(runway);
      let warning: number | undefined;
      if (level !== acc.warnedLevel) {
        tx.setWarnedLevel(stack, level);
        if (level > acc.warnedLevel) warning = level - 1;
      }
      stacks.push({ stack, dueMicro, chargedMicro: plan + domains, balanceMicro: balance, burnPerDayMicro: d.burn, runwaySeconds: runway, warning });
    }
    return { nowMinute, stacks };
  });
}
