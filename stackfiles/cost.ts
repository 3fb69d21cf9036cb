// What a user stack costs in points, from the platform's plan catalog and domain pricing.
import { ProxstackError } from "../lib/errors.js";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";

/** Billing months are 30 days, whatever the calendar says. */
export const DAYS_PER_MONTH = 30;

export interface CostLine {
  instance: string;
  plan: string;
  /** The plan's points per day. */
  planPerDay: number;
  domains: number;
  /** Domains beyond the platform's free ones per instance. */
  extraDomains: number;
  extraDomainsPerDay: number;
  /** planPerDay + extraDomainsPerDay. */
  perDay: number;
}

export interface StackCost {
  perDay: number;
  /** perDay × {@link DAYS_PER_MONTH}. */
  perMonth: number;
  daysPerMonth: number;
  lines: CostLine[];
}

/**
 * Points per day and per 30-day month of a user stack. Every instance is charged while it
 * exists, running or stopped, suspended or not (the plan reserves its resources either way).
 * Throws a `stall` ProxstackError when an instance names a plan the catalog lacks (a set that
 * passed validateStackSet never does).
 */
export function costOf(user: UserStackSpec, platform: PlatformSpec): StackCost {
  const { freePerInstance, extraPointsPerDay } = platform.domains;
  const lines = user.instances.map((inst): CostLine => {
    const plan = platform.plans[inst.plan];
    if (!plan)
      throw new ProxstackError("plan-unknown", `${user.name}/${inst.name}: plan ${JSON.stringify(inst.plan)} is not in the platform's catalog`, {
        kind: "stall",
      });
    const extraDomains = Math.max(0, inst.domains.length - freePerInstance);
    const extraDomainsPerDay = extraDomains * extraPointsPerDay;
    return {
      instance: inst.name,
      plan: inst.plan,
      planPerDay: plan.pointsPerDay,
      domains: inst.domains.length,
      extraDomains,
      extraDomainsPerDay,
      perDay: plan.pointsPerDay + extraDomainsPerDay,
    };
  });
  const perDay = lines.reduce((sum, l) => sum + l.perDay, 0);
  return { perDay, perMonth: perDay * DAYS_PER_MONTH, daysPerMonth: DAYS_PER_MONTH, lines };
}
