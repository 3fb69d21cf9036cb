// The billing service: a tick (meter, charge, warn, suspend, resume, delete after grace), the status report and admin grants.
import type { InstanceStatus } from "../engine/status/store.js";
import type { StackIndex } from "../engine/stack-index.js";
import { chainMessage, ProxstackError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";
import type { LedgerEntry, LedgerRepository } from "./ledger-repository.js";
import { billedUntil, runTick, runwaySeconds, WARNING_LABELS, type StackTick } from "./metering.js";
import { MICRO_PER_POINT, pointsToMicro } from "./money.js";
import { describeNotice, type BillingNotice, type BillingNotifier } from "./notifier.js";
import { desiredBurn, observeInstances, pricesOf, type Prices } from "./observe.js";
import type { SuspensionWriter } from "./stack-file-writer.js";

/** The desired state billing reads: the platform file and every user stack (the last good spec of an invalid file). */
export interface SpecSource {
  load(): Promise<{ platform: PlatformSpec; users: ReadonlyMap<string, UserStackSpec> }>;
}

/** Specs from a stack index, re-read (only changed files) on every load. */
export function specsFromIndex(index: StackIndex, opts: { resync: boolean } = { resync: true }): SpecSource {
  return {
    async load() {
      if (opts.resync) await index.resync();
      const platform = index.platform();
      if (!platform.spec) {
        throw new ProxstackError("platform-invalid", `billing needs a valid platform.yaml: ${(platform.errors ?? ["invalid"]).join("; ")}`, { kind: "retry" });
      }
      const users = new Map<string, UserStackSpec>();
      for (const name of index.names()) {
        const e = index.get(name);
        const spec = e?.valid?.spec ?? e?.lastGood;
        if (spec) users.set(name, spec);
      }
      return { platform: platform.spec, users };
    },
  };
}

export interface BillingDeps {
  repo: LedgerRepository;
  /** The engine's observed instances (engine/status/store.ts). */
  instances(): InstanceStatus[];
  specs: SpecSource;
  writer: SuspensionWriter;
  notifier: BillingNotifier;
  /** Administrators' stacks are never billed. */
  isExempt(stack: string): boolean;
  log: Logger;
}

export interface TickReport {
  now: string;
  stacks: StackTick[];
  suspended: string[];
  resumed: string[];
  deleted: { stack: string; instances: string[] }[];
  /** Per-stack actions that failed (retried next tick). */
  errors: string[];
}

/** Exactly the shape `proxstack billing status --json` prints. */
export interface StatusReport {
  users: {
    stack: string;
    balanceMicro: bigint;
    burnPerDayMicro: bigint;
    runwaySeconds: bigint | null;
    suspended: boolean;
    instances: { name: string; billedUntil: string | null }[];
  }[];
}

export interface Billing {
  tick(now: Date): Promise<TickReport>;
  status(now: Date, stack?: string): Promise<StatusReport>;
  /** An admin grant (negative takes points) to a stack named directly or by its owner's e-mail. */
  grant(target: string, amount: string, reason: string, now: Date): Promise<{ stack: string; entry: LedgerEntry; balanceMicro: bigint }>;
}

const DAY_MS = 86_400_000;

/** The signup bonus a new account gets: none for a stack whose file already says its points ran out. */
function bonusFor(spec: UserStackSpec | undefined, prices: Prices): bigint {
  return spec?.suspension?.reason === "points-exhausted" ? 0n : prices.signupBonusMicro;
}

export function createBilling(deps: BillingDeps): Billing {
  const { repo, log } = deps;

  const notify = async (n: BillingNotice, at: string): Promise<void> => {
    repo.addEvent(n.stack, at, n.type, describeNotice(n));
    try {
      await deps.notifier.notify(n);
    } catch (err) {
      log.warn({ stack: n.stack, err: chainMessage(err) }, "billing notice not delivered");
    }
  };

  /** Suspend at zero, resume once a top-up covers the minimum runway, delete after the grace period: each step persisted. */
  const enforce = async (
    stack: string,
    spec: UserStackSpec,
    burn: bigint,
    prices: Prices,
    platform: PlatformSpec,
    now: Date,
    report: TickReport,
  ): Promise<void> => {
    const at = now.toISOString();
    const email = spec.owner.email;
    const balance = repo.account(stack)?.balanceMicro ?? 0n;
    const susp = spec.suspension;
    if (!susp) {
      if (repo.suspensionStep(stack)) repo.setSuspensionStep(stack, at, undefined); // lifted by hand
      if (deps.isExempt(stack) || balance > 0n || burn <= 0n) return;
      if (await deps.writer.suspend(stack, at)) {
        repo.setSuspensionStep(stack, at, "suspended", at);
        report.suspended.push(stack);
        await notify({ type: "suspended", stack, email, since: at }, at);
      }
      return;
    }
    if (susp.reason !== "points-exhausted") return;
    const step = repo.suspensionStep(stack) ?? { since: susp.since, step: "suspended" as const, stepAt: at };
    const hoursMicro = pointsToMicro(platform.billing.resumeRunwayHours);
    const need = desiredBurn(prices, spec);
    // balance ≥ burn per day × hours / 24, in integers.
    if (deps.isExempt(stack) || (balance > 0n && balance * 24n * MICRO_PER_POINT >= need * hoursMicro)) {
      if (await deps.writer.resume(stack)) {
        report.resumed.push(stack);
        await notify({ type: "resumed", stack, email }, at);
      }
      repo.setSuspensionStep(stack, at, undefined);
      return;
    }
    if (!repo.suspensionStep(stack)) repo.setSuspensionStep(stack, step.since, step.step, at);
    const days = platform.billing.deleteAfterSuspendedDays;
    if (days === undefined) return;
    const deleteAt = Date.parse(step.since) + days * DAY_MS;
    if (step.step === "suspended" && now.getTime() >= deleteAt - DAY_MS) {
      // Persisted before the mail: a restart never sends it twice.
      repo.setSuspensionStep(stack, step.since, "deletion-notified", at);
      // The owner always gets a day's notice, even when deletion was switched on late.
      const when = new Date(Math.max(deleteAt, now.getTime() + DAY_MS)).toISOString();
      await notify({ type: "deletion-scheduled", stack, email, deleteAt: when }, at);
      return;
    }
    if (step.step === "deletion-notified" && now.getTime() >= Math.max(deleteAt, Date.parse(step.stepAt) + DAY_MS)) {
      // The edit is idempotent, so it runs before the step is persisted: a restart repeats only a no-op.
      const removed = await deps.writer.removeUnprotectedInstances(stack);
      repo.setSuspensionStep(stack, step.since, "deleted", at);
      report.deleted.push({ stack, instances: removed });
      await notify({ type: "deleted", stack, email, instances: removed }, at);
    }
  };

  const observe = async () => {
    const { platform, users } = await deps.specs.load();
    const prices = pricesOf(platform);
    return { platform, users, prices, observations: observeInstances(deps.instances(), users, prices, deps.isExempt) };
  };

  return {
    async tick(now) {
      const { platform, users, prices, observations } = await observe();
      const result = runTick(repo, observations, now, { signupBonusMicro: (stack) => bonusFor(users.get(stack), prices) });
      const report: TickReport = { now: now.toISOString(), stacks: result.stacks, suspended: [], resumed: [], deleted: [], errors: [] };
      const burns = new Map(result.stacks.map((s) => [s.stack, s.burnPerDayMicro]));
      for (const s of result.stacks) {
        const spec = users.get(s.stack);
        if (s.warning === undefined || !spec || s.runwaySeconds === undefined) continue;
        await notify(
          {
            type: "runway-warning",
            stack: s.stack,
            email: spec.owner.email,
            threshold: WARNING_LABELS[s.warning] ?? "24 hours",
            runwaySeconds: s.runwaySeconds,
            balanceMicro: s.balanceMicro,
          },
          report.now,
        );
      }
      for (const [stack, spec] of users) {
        if (!burns.has(stack) && !spec.suspension) continue;
        try {
          await enforce(stack, spec, burns.get(stack) ?? 0n, prices, platform, now, report);
        } catch (err) {
          report.errors.push(`${stack}: ${chainMessage(err)}`);
          log.error({ stack, err: chainMessage(err) }, "billing: suspension step failed; retried next tick");
        }
      }
      return report;
    },

    async status(_now, only) {
      const { users, observations } = await observe();
      const burns = new Map<string, bigint>();
      for (const o of observations) if (o.running) burns.set(o.stack, (burns.get(o.stack) ?? 0n) + BigInt(o.planRateMicroPerDay + o.domainRateMicroPerDay));
      const names = new Set([...users.keys(), ...repo.accounts().map((a) => a.stack)]);
      const out: StatusReport["users"] = [];
      for (const stack of [...names].sort()) {
        if (only !== undefined && stack !== only) continue;
        const balance = repo.account(stack)?.balanceMicro ?? 0n;
        const burn = burns.get(stack) ?? 0n;
        const meters = new Map(repo.meters(stack).map((m) => [m.instance, m]));
        const cursor = repo.cursor();
        const instanceNames = [...new Set([...(users.get(stack)?.instances.map((i) => i.name) ?? []), ...meters.keys()])];
        out.push({
          stack,
          balanceMicro: balance,
          burnPerDayMicro: burn,
          runwaySeconds: runwaySeconds(balance, burn) ?? null,
          suspended: users.get(stack)?.suspension !== undefined,
          instances: instanceNames.map((name) => {
            const m = meters.get(name);
            return { name, billedUntil: m ? new Date(billedUntil(m, cursor) * 60_000).toISOString() : null };
          }),
        });
      }
      if (only !== undefined && out.length === 0)
        throw new ProxstackError("stack-not-found", `no stack or billing account named '${only}'`, { kind: "stall", status: 404 });
      return { users: out };
    },

    async grant(target, amount, reason, now) {
      const micro = pointsToMicro(amount);
      if (micro === 0n) throw new ProxstackError("points-invalid", "the amount must not be zero", { kind: "stall", status: 400 });
      if (!reason.trim()) throw new ProxstackError("reason-missing", "a grant needs a reason (--reason TEXT)", { kind: "stall", status: 400 });
      const { platform, users } = await deps.specs.load();
      let stack: string | undefined;
      if (target.includes("@")) {
        const want = target.toLowerCase();
        stack = [...users.values()].find((u) => u.owner.email.toLowerCase() === want)?.name;
      } else if (users.has(target)) {
        stack = target;
      }
      if (!stack) throw new ProxstackError("stack-not-found", `no stack file named '${target}' or owned by that e-mail`, { kind: "stall", status: 404 });
      repo.ensureAccount(stack, bonusFor(users.get(stack), pricesOf(platform)), now.toISOString());
      const r = repo.post({ stack, amountMicro: micro, reason: "admin-grant", note: reason.trim(), at: now.toISOString() });
      return { stack, entry: r.entry, balanceMicro: r.balanceMicro };
    },
  };
}

/** JSON with BigInt written as plain numbers (exact, never through a float). */
export function billingJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `\u0000big:${v}` : v), indent).replace(/"\\u0000big:(-?\d+)"/g, "$1");
}
