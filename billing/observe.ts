// What a tick bills: the engine's observed instances, priced from their stack file's plan and paid domains.
import type { InstanceStatus } from "../engine/status/store.js";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";
import type { Observation } from "./metering.js";
import { pointsToMicro, safeMicro } from "./money.js";

/** Prices of one platform file in micro-points per day. */
export interface Prices {
  plan(name: string): number;
  /** Paid domains of an instance: those beyond the free ones, each at the extra rate. */
  domains(count: number): number;
  signupBonusMicro: bigint;
}

export function pricesOf(platform: PlatformSpec): Prices {
  const plans = new Map(Object.entries(platform.plans).map(([name, p]) => [name, safeMicro(pointsToMicro(p.pointsPerDay))]));
  const extra = safeMicro(pointsToMicro(platform.domains.extraPointsPerDay));
  const free = platform.domains.freePerInstance;
  return {
    plan: (name) => plans.get(name) ?? 0,
    domains: (count) => (count > free ? (count - free) * extra : 0),
    signupBonusMicro: pointsToMicro(platform.billing.signupBonusPoints),
  };
}

/** Rate of one instance of a spec (plan + paid domains), in micro-points per day. */
export function instanceRate(prices: Prices, i: UserStackSpec["instances"][number]): { plan: number; domains: number } {
  return { plan: prices.plan(i.plan), domains: prices.domains(i.domains.length) };
}

/** Burn of a stack if every instance its file wants running ran: what a resume must cover. */
export function desiredBurn(prices: Prices, spec: UserStackSpec): bigint {
  return spec.instances
    .filter((i) => i.power === "running")
    .reduce((sum, i) => {
      const r = instanceRate(prices, i);
      return sum + BigInt(r.plan) + BigInt(r.domains);
    }, 0n);
}

const FREE = { planRateMicroPerDay: 0, domainRateMicroPerDay: 0 } as const;
const LAST_RATES = { planRateMicroPerDay: 0, domainRateMicroPerDay: 0, lastRates: true } as const;

/**
 * One observation per instance the engine reports whose stack has a file: priced from the file, or, for a running
 * instance the file no longer lists, at the rates its meter last ran at. Running means the
 * engine's observed power is running and the instance is not destroyed. Exempt stacks are priced at 0.
 */
export function observeInstances(
  instances: readonly InstanceStatus[],
  specs: ReadonlyMap<string, UserStackSpec>,
  prices: Prices,
  isExempt: (stack: string) => boolean,
): Observation[] {
  const out: Observation[] = [];
  const byName = new Map<string, Map<string, UserStackSpec["instances"][number]>>();
  for (const s of instances) {
    const spec = specs.get(s.stack);
    if (!spec) continue;
    let names = byName.get(s.stack);
    if (!names) byName.set(s.stack, (names = new Map(spec.instances.map((i) => [i.name, i]))));
    const def = names.get(s.name);
    const running = s.power === "running" && s.state !== "destroyed";
    const exempt = isExempt(s.stack);
    if (!def) {
      // Gone from the file but still there (its destroy is queued, keeps failing, or is refused for a protected
      // instance): while it runs it runs on the owner's behalf, billed at the rates it last ran at until it stops.
      out.push({ stack: s.stack, instance: s.name, running, sinceMs: Date.parse(s.updatedAt), ...(exempt ? FREE : LAST_RATES) });
      continue;
    }
    const rate = exempt ? { plan: 0, domains: 0 } : instanceRate(prices, def);
    out.push({
      stack: s.stack,
      instance: s.name,
      running,
      sinceMs: Date.parse(s.updatedAt),
      planRateMicroPerDay: rate.plan,
      domainRateMicroPerDay: rate.domains,
    });
  }
  return out;
}
